//! `RealSys`'s cgroups: the daemon's domain (`contain::Cgroups`) and the open
//! group of each job instance. Effects only: it never decides when to kill.

use crate::contain::{Cgroups, GroupMeter, JobCgroup};
use crate::unit::Signal;
use std::cell::Cell;
use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::Arc;
use std::time::Duration;
use tracing::warn;

/// A job instance `(job, instance)`.
type Id = (String, String);

/// The domain and the open groups; groups whose run ended but which still
/// held processes wait in `closing` until they are empty.
#[derive(Debug, Default)]
pub(super) struct Groups {
    domain: Option<Cgroups>,
    open: HashMap<Id, JobCgroup>,
    /// Descriptors the groups' meters hold, against `meter_budget`.
    metered: Cell<usize>,
}

/// An eighth of the descriptor limit for the groups' kept-open figure
/// files; past it a figure is read by opening the file each time.
fn meter_budget() -> usize {
    super::descriptor_share(8)
}

impl Groups {
    /// Groups in `domain`; `None`: no cgroups (the subreaper contains jobs).
    pub fn new(domain: Option<Cgroups>) -> Groups {
        Groups {
            domain,
            open: HashMap::new(),
            metered: Cell::new(0),
        }
    }

    pub fn populated_groups(&self) -> Vec<(Id, Vec<i32>)> {
        self.domain
            .as_ref()
            .map(|d| d.populated_groups())
            .unwrap_or_default()
    }

    pub fn enabled(&self) -> bool {
        self.domain.is_some()
    }

    /// The instance's group, made (or found again) when missing.
    pub fn open(&mut self, id: &Id) -> Result<(), String> {
        let Some(domain) = self.domain.as_ref() else {
            return Ok(());
        };
        if self.open.contains_key(id) {
            return Ok(());
        }
        let group =
            match domain.create(&id.0, &id.1) {
                Ok(g) => g,
                // A group left running (by a daemon that died) is this
                // instance's: re-adoption decides what to do with its processes.
                Err(e) if e.raw_os_error() == Some(libc::EBUSY) => domain
                    .open_existing(&id.0, &id.1)
                    .ok_or_else(|| format!("cgroup: {e}"))?,
                Err(e) => return Err(format!("cgroup: {e}")),
            };
        self.open.insert(id.clone(), group);
        Ok(())
    }

    pub fn procs_fd(&self, id: &Id) -> Option<OwnedFd> {
        let group = self.open.get(id)?;
        match group.open_procs() {
            Ok(fd) => Some(fd),
            Err(e) => {
                warn!(job = %id.0, "cgroup {}: {e}", group.path().display());
                None
            }
        }
    }

    pub fn signal(&self, id: &Id, sig: Signal) -> usize {
        self.open
            .get(id)
            .and_then(|g| g.signal_all(sig).ok())
            .unwrap_or(0)
    }

    pub fn kill(&self, id: &Id) {
        if let Some(g) = self.open.get(id)
            && let Err(e) = g.kill()
        {
            warn!(job = %id.0, "cgroup {}: kill: {e}", g.path().display());
        }
    }

    pub fn populated(&self, id: &Id) -> Option<bool> {
        let g = self.open.get(id)?;
        Some(g.populated().unwrap_or(true))
    }

    /// Removes the instance's group when it is empty.
    pub fn close(&mut self, id: &Id) -> bool {
        let Some(g) = self.open.get(id) else {
            return true;
        };
        if !g.is_empty() {
            return false;
        }
        if let Err(e) = g.remove() {
            warn!(job = %id.0, "cgroup {}: remove: {e}", g.path().display());
        }
        if let Some(m) = g.opened_meter() {
            self.metered
                .set(self.metered.get().saturating_sub(m.descriptors()));
        }
        self.open.remove(id);
        true
    }

    /// The instance's group as `/proc/PID/cgroup` names it.
    pub fn proc_path(&self, id: &Id) -> Option<String> {
        self.open.get(id).map(|g| g.proc_path().to_string())
    }

    /// The group's kept-open figure files, opened now if the budget allows.
    pub fn meter(&self, id: &Id) -> Option<Arc<GroupMeter>> {
        let g = self.open.get(id)?;
        if let Some(m) = g.opened_meter() {
            return Some(Arc::clone(m));
        }
        // A meter holds two descriptors at most.
        if self.metered.get() + 2 > meter_budget() {
            return None;
        }
        let m = g.meter();
        self.metered.set(self.metered.get() + m.descriptors());
        Some(Arc::clone(m))
    }

    pub fn usage(&self, id: &Id) -> (Option<u64>, Option<Duration>) {
        if let Some(m) = self.meter(id) {
            return (m.memory_bytes(), m.cpu_usage());
        }
        match self.open.get(id) {
            Some(g) => (g.memory_bytes(), g.cpu_usage()),
            None => (None, None),
        }
    }

    /// Kills what is left in every group, waits a moment for them to empty,
    /// removes them and releases the domain.
    pub fn release(&mut self) {
        for g in self.open.values() {
            let _ = g.kill();
        }
        for (_, g) in self.open.drain() {
            let _ = g.wait_empty(Duration::from_secs(2));
            let _ = g.remove();
        }
        if let Some(domain) = self.domain.take() {
            domain.release();
        }
    }
}
