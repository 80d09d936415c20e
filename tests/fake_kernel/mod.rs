//! A fake kernel behind the whole `Sys` seam: a process table, pidfile
//! contents, pidfds, watches, spawns and signals, all in memory and recorded.
#![allow(dead_code)]

use gsup::job::Exit;
use gsup::pidfile::PidfileError;
use gsup::procfs::{Proc, ProcSource, ProcTable};
use gsup::spawn::{SpawnError, SpawnSpec};
use gsup::sys::{KillTarget, Sys, WatchId};
use gsup::unit::Signal;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::rc::Rc;

/// The daemon's pid in the fake kernel.
pub const DAEMON: i32 = 10;

/// What the fake kernel holds and records.
#[derive(Default)]
pub struct State {
    pub next_pid: i32,
    pub spawned: Vec<(i32, SpawnSpec)>,
    pub signals: Vec<(KillTarget, i32)>,
    pub pidfd_signals: Vec<(i32, i32)>,
    pub exited: Vec<(i32, Exit)>,
    pub pidfiles: BTreeMap<PathBuf, Result<i32, PidfileError>>,
    pub pidfds: BTreeSet<i32>,
    pub watches: BTreeMap<WatchId, Vec<PathBuf>>,
    /// The next spawns fail with this (stage, errno).
    pub fail: Option<(String, i32)>,
    /// Clock ticks handed out as start times.
    pub ticks: u64,
}

/// The process table, shared so that tests change it while the supervisor reads it.
#[derive(Clone, Default)]
pub struct Procs(pub Rc<RefCell<ProcTable>>);

impl ProcSource for Procs {
    fn stat(&self, pid: i32) -> Option<Proc> {
        self.0.borrow().stat(pid)
    }
    fn children(&self, pid: i32, threads: u64) -> Vec<i32> {
        self.0.borrow().children(pid, threads)
    }
    fn uid(&self, pid: i32) -> Option<u32> {
        self.0.borrow().uid(pid)
    }
    fn cgroup(&self, pid: i32) -> Option<String> {
        self.0.borrow().cgroup(pid)
    }
}

/// The fake kernel; clones share it (one in the supervisor, one in the test).
#[derive(Clone, Default)]
pub struct Kernel {
    pub state: Rc<RefCell<State>>,
    pub procs: Procs,
}

impl Kernel {
    /// A kernel with PID 1 and the daemon; spawned pids start at 1001.
    pub fn new() -> Kernel {
        let k = Kernel::default();
        k.state.borrow_mut().next_pid = 1000;
        k.state.borrow_mut().ticks = 100;
        k.add(1, 0, 1, 1, 0);
        k.add(DAEMON, 1, DAEMON, DAEMON, 0);
        k
    }

    /// Adds a live process `pid` (parent, group, session, uid), started now.
    pub fn add(&self, pid: i32, ppid: i32, pgid: i32, sid: i32, uid: u32) {
        let start = {
            let mut s = self.state.borrow_mut();
            s.ticks += 1;
            s.ticks
        };
        let p = Proc {
            pid,
            state: 'S',
            ppid,
            pgid,
            sid,
            cpu_ticks: 0,
            threads: 1,
            start_ticks: start,
            rss_pages: 10,
        };
        self.procs.0.borrow_mut().insert(p, uid);
    }

    /// Re-parents `pid` (its parent died).
    pub fn reparent(&self, pid: i32, ppid: i32) {
        let p = self.procs.0.borrow().stat(pid);
        let uid = self.procs.0.borrow().uid(pid).unwrap_or(0);
        if let Some(mut p) = p {
            p.ppid = ppid;
            self.procs.0.borrow_mut().insert(p, uid);
        }
    }

    /// `pid` dies; when it is the daemon's child, the next `reap` returns it.
    pub fn die(&self, pid: i32, exit: Exit) {
        let parent = self.procs.0.borrow().stat(pid).map(|p| p.ppid);
        self.procs.0.borrow_mut().remove(pid);
        if parent == Some(DAEMON) {
            self.state.borrow_mut().exited.push((pid, exit));
        }
    }

    /// The pidfile at `path` now reads `pid`.
    pub fn write_pidfile(&self, path: &Path, pid: i32) {
        self.state
            .borrow_mut()
            .pidfiles
            .insert(path.to_path_buf(), Ok(pid));
    }

    /// Signals sent so far (taken).
    pub fn signals(&self) -> Vec<(KillTarget, i32)> {
        std::mem::take(&mut self.state.borrow_mut().signals)
    }

    /// Specs spawned so far, with their pids.
    pub fn spawned(&self) -> Vec<(i32, SpawnSpec)> {
        self.state.borrow().spawned.clone()
    }

    /// True while a pidfd is held on `pid`.
    pub fn has_pidfd(&self, pid: i32) -> bool {
        self.state.borrow().pidfds.contains(&pid)
    }
}

impl Sys for Kernel {
    fn spawn(&mut self, spec: &SpawnSpec) -> Result<i32, SpawnError> {
        if let Some((stage, errno)) = self.state.borrow().fail.clone() {
            return Err(SpawnError::new(&stage, errno));
        }
        let pid = {
            let mut s = self.state.borrow_mut();
            s.next_pid += 1;
            s.next_pid
        };
        // A new session and group led by the child, as `spawn` makes it.
        let uid = spec.creds.as_ref().and_then(|c| c.uid).unwrap_or(0);
        self.add(pid, DAEMON, pid, pid, uid);
        self.state.borrow_mut().spawned.push((pid, spec.clone()));
        Ok(pid)
    }

    fn signal(&mut self, target: KillTarget, sig: Signal) -> Result<(), i32> {
        if matches!(target, KillTarget::Pid(p) | KillTarget::Group(p) if p <= 1) {
            panic!("signal to {target:?}: the seam refuses pid <= 1");
        }
        if sig.0 != 0 {
            self.state.borrow_mut().signals.push((target, sig.0));
        }
        let hit = self.procs.0.borrow().iter().any(|p| match target {
            KillTarget::Group(g) => p.pgid == g,
            KillTarget::Pid(x) => p.pid == x,
        });
        if hit { Ok(()) } else { Err(libc::ESRCH) }
    }

    fn reap(&mut self) -> Vec<(i32, Exit)> {
        std::mem::take(&mut self.state.borrow_mut().exited)
    }

    fn procs(&self) -> &dyn ProcSource {
        &self.procs
    }

    fn own_pid(&self) -> i32 {
        DAEMON
    }

    fn own_children(&self) -> Vec<i32> {
        self.procs.0.borrow().children(DAEMON, 1)
    }

    fn read_pidfile(&self, path: &Path) -> Result<i32, PidfileError> {
        self.state
            .borrow()
            .pidfiles
            .get(path)
            .cloned()
            .unwrap_or(Err(PidfileError::Missing))
    }

    fn pidfd_open(&mut self, pid: i32) -> Result<(), i32> {
        if self.procs.0.borrow().stat(pid).is_none() {
            return Err(libc::ESRCH);
        }
        self.state.borrow_mut().pidfds.insert(pid);
        Ok(())
    }

    fn pidfd_close(&mut self, pid: i32) {
        self.state.borrow_mut().pidfds.remove(&pid);
    }

    fn pidfd_exited(&self, pid: i32) -> bool {
        self.state.borrow().pidfds.contains(&pid) && self.procs.0.borrow().stat(pid).is_none()
    }

    fn pidfd_signal(&mut self, pid: i32, sig: Signal) -> Result<(), i32> {
        if !self.state.borrow().pidfds.contains(&pid) {
            return Err(libc::EBADF);
        }
        self.state.borrow_mut().pidfd_signals.push((pid, sig.0));
        Ok(())
    }

    fn watch_file(&mut self, id: WatchId, path: &Path) -> std::io::Result<()> {
        self.state
            .borrow_mut()
            .watches
            .insert(id, vec![path.to_path_buf()]);
        Ok(())
    }

    fn watch_dir(&mut self, id: WatchId, dir: &Path) -> std::io::Result<()> {
        self.state
            .borrow_mut()
            .watches
            .entry(id)
            .or_default()
            .push(dir.to_path_buf());
        Ok(())
    }

    fn unwatch(&mut self, id: &WatchId) {
        self.state.borrow_mut().watches.remove(id);
    }
}
