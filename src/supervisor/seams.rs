//! Seams for the pidfile follower (issue 4): how it tells the supervisor that
//! the main process changed or is gone. It decides nothing; the machine does.

use super::core::{Key, ProcKind, Supervisor};
use crate::job::machine::{Input, Process};
use std::time::Instant;

impl Supervisor {
    /// Pidfile seam: `pid` (checked by the caller to belong to the job) is the
    /// instance's main process now, then the queue is drained.
    pub fn adopt_main(&mut self, key: &Key, pid: i32, now: Instant) {
        self.record_main(key, pid);
        self.drain(now);
    }

    /// `adopt_main` without the drain, for a caller inside one: `pid` joins
    /// the known pids, so that its exit is routed here and a stop signals it
    /// even outside the job's group, and the machine gets `MainReplaced`.
    pub(super) fn record_main(&mut self, key: &Key, pid: i32) {
        let Some(inst) = self.instances.get_mut(key) else {
            return;
        };
        inst.pids.insert(pid, ProcKind::Job(Process::Main));
        self.pids
            .insert(pid, (key.clone(), ProcKind::Job(Process::Main)));
        self.queue
            .push_back((key.clone(), Input::MainReplaced { pid }));
    }
}
