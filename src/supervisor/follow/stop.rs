//! Stopping a followed job whole: every member outside its group, by pid (a
//! setsid'd master, its workers). Never signals PID 1, the daemon or another job's process.

use super::Follower;
use crate::pidfile::{ProcSource, ProcTable, job_members};
use crate::supervisor::core::{Key, Supervisor, label};
use crate::sys::KillTarget;
use crate::unit::Signal;
use std::collections::BTreeSet;
use tracing::warn;

/// A member's pid and process group.
struct Member {
    pid: i32,
    pgid: i32,
}

impl Follower {
    /// Every live member of the job (rules a-e), from its known pids and
    /// their descendants: the cost grows with the job's tree, not the host.
    fn members(&self, key: &Key) -> Vec<Member> {
        let Some(job) = self.tree.job(key) else {
            return Vec::new();
        };
        let mut seen = BTreeSet::new();
        let mut table = ProcTable::new();
        let mut todo: Vec<i32> = job.known.keys().copied().collect();
        while let Some(p) = todo.pop() {
            if p <= 1 || p == self.me || !seen.insert(p) {
                continue;
            }
            if let Some(info) = self.procs.info(p) {
                table.insert(info);
                todo.extend(self.procs.children(p));
            }
        }
        let other = |p: i32| self.tree.is_other_job(key, p);
        let members = job_members(&job.view(self.me, &other), &table);
        table
            .iter()
            .filter(|i| members.contains(&i.pid))
            .map(|i| Member {
                pid: i.pid,
                pgid: i.pgid,
            })
            .collect()
    }
}

impl Supervisor {
    /// Stop hook (a signal to the job's group): the same signal to every
    /// member of a followed job outside that group, by pid.
    pub(in crate::supervisor) fn follow_signal_members(
        &mut self,
        key: &Key,
        pgid: i32,
        sig: Signal,
    ) {
        if !self.follow.enabled || !self.follow.jobs.contains_key(key) {
            return;
        }
        for m in self.follow.members(key) {
            if m.pgid != pgid
                && let Err(errno) = self.sys.signal(KillTarget::Pid(m.pid), sig)
                && errno != libc::ESRCH
            {
                warn!(job = %label(key), "kill {} {}: errno {errno}", m.pid, sig.0);
            }
        }
    }
}
