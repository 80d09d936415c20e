//! Shutdown: `runlevel 0` (6 for reboot), then jobs stopped in reverse
//! dependency order, wave by wave. It decides order only; the machine kills.

use super::core::Supervisor;
use super::jobs::{Key, label};
use super::timers::TimerKey;
use crate::expr::Event;
use crate::job::State;
use crate::job::machine::Input;
use crate::sys::KillTarget;
use crate::unit::Signal;
use std::collections::VecDeque;
use std::time::Duration;
use std::time::Instant;
use tracing::{info, warn};

/// Added to twice the wave's longest `kill_timeout` to bound a stop wave.
pub const WAVE_SLACK: Duration = Duration::from_secs(5);

/// Shutdown in progress: the waves still to stop, and the one being stopped.
#[derive(Debug)]
pub struct Shutdown {
    pub waves: VecDeque<Vec<String>>,
    pub current: Vec<Key>,
    /// Every wave is done: the loop exits.
    pub finished: bool,
    /// As PID 1: reboot rather than power off at the end.
    pub reboot: bool,
}

impl Supervisor {
    /// Starts shutting down (a second request changes nothing).
    pub fn begin_shutdown(&mut self, reboot: bool, now: Instant) {
        if self.shutdown.is_some() {
            return;
        }
        info!(reboot, "shutting down");
        let level = if reboot { "6" } else { "0" };
        let waves: VecDeque<Vec<String>> = super::stop_waves(self).into();
        self.defer_stops = true;
        self.dispatch(&Event {
            name: "runlevel".into(),
            env: vec![
                ("RUNLEVEL".into(), level.into()),
                ("PREVLEVEL".into(), "2".into()),
            ],
        });
        self.defer_stops = false;
        self.shutdown = Some(Shutdown {
            waves,
            current: Vec::new(),
            finished: false,
            reboot,
        });
        self.drain(now);
    }

    /// After every batch of inputs: answer waiters, forget settled instances of
    /// instance jobs, and move shutdown on to its next wave when one is done.
    pub(super) fn after_drain(&mut self, now: Instant) {
        self.answer_waiters(now);
        if self.apply_deferred() {
            // Instances a `restart` stopped start on their new definition.
            self.drain_inner(now);
            self.answer_waiters(now);
        }
        for key in self.pids.take_closing() {
            if !self.sys.group_close(&key) {
                self.pids.close_later(&key);
            }
        }
        let gone: Vec<Key> = self
            .jobs
            .instances()
            .filter(|(k, i)| {
                !k.1.is_empty() && i.job.state == State::Waiting && !self.pids.has_any(k)
            })
            .map(|(k, _)| k.clone())
            .collect();
        for k in gone {
            if !self.waiters.iter().any(|w| w.keys.contains(&k)) {
                self.page_mark(&k.0);
                self.jobs.forget(&k);
                self.pids.forget(&k);
            }
        }
        loop {
            let Some(sd) = self.shutdown.as_ref() else {
                return;
            };
            let current = sd.current.clone();
            if !current.iter().all(|k| self.instance_gone(k)) {
                return;
            }
            let Some(sd) = self.shutdown.as_mut() else {
                return;
            };
            let Some(wave) = sd.waves.pop_front() else {
                if !sd.finished {
                    info!("every job stopped");
                }
                sd.finished = true;
                return;
            };
            let keys: Vec<Key> = wave.iter().flat_map(|n| self.jobs.keys_of(n)).collect();
            info!(wave = ?wave, "stopping wave");
            sd.current = keys.clone();
            // A wave never waits forever (a process stuck in the kernel, a hung hook).
            let bound = keys
                .iter()
                .filter_map(|k| self.jobs.def(&k.0))
                .map(|d| d.unit.kill_timeout)
                .max()
                .unwrap_or_default()
                .saturating_mul(2)
                .saturating_add(WAVE_SLACK);
            match now.checked_add(bound) {
                Some(at) => self.timers.set(TimerKey::ShutdownWave, at),
                None => self.timers.cancel(&TimerKey::ShutdownWave),
            }
            for k in keys {
                self.feed(k, Input::Stop);
            }
            self.drain_inner(now);
        }
    }

    /// A wave took longer than its bound: log what is left and move on.
    pub(super) fn wave_overdue(&mut self, now: Instant) {
        let Some(sd) = self.shutdown.as_mut() else {
            return;
        };
        let left: Vec<String> = sd.current.iter().map(label).collect();
        warn!(left = ?left, "stop wave overdue; going on with the next");
        sd.current.clear();
        self.after_drain(now);
    }

    /// True when the instance rests stopped and no process of it is left:
    /// no known pid, and every group it used is empty.
    fn instance_gone(&mut self, key: &Key) -> bool {
        let Some(inst) = self.jobs.get(key) else {
            return true;
        };
        if !inst.job.is_settled()
            || self.pids.has_any(key)
            || self.sys.group_populated(key) == Some(true)
        {
            return false;
        }
        for pg in self.pids.groups(key) {
            match self.sys.signal(KillTarget::Group(pg), Signal(0)) {
                Err(libc::ESRCH) => self.pids.drop_group(key, pg),
                _ => return false,
            }
        }
        true
    }
}
