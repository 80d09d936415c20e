//! Taking jobs back: a daemon started again (or re-exec'd) reads the saved
//! state and re-adopts each instance whose main process still runs, checked
//! against its start time, instead of starting a second copy. It decides
//! nothing about the jobs' future: a main that died meanwhile is handed to
//! the machine as an exit (`MainLost`), which respawns or stops as usual.

use super::core::Supervisor;
use super::jobs::{Key, label};
use super::pids::ProcKind;
use super::saved::{Saved, SavedInstance};
use crate::job::machine::{Input, Job, Process};
use crate::job::{Goal, Policy, State};
use std::time::Instant;
use tracing::{debug, info, warn};

/// What re-adoption did, for the log and the tests.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Adopted {
    /// Instances running again under this daemon, with their old main.
    pub running: Vec<Key>,
    /// Instances whose main died while no daemon ran (handled as an exit).
    pub lost: Vec<Key>,
    /// Instances resting (`stop/waiting`, `stop/failed`), as they were.
    pub resting: Vec<Key>,
    /// Saved instances of jobs no longer defined (their processes are left alone).
    pub unknown: Vec<Key>,
}

impl Supervisor {
    /// Re-adopts the instances of `saved`. `children` is true when their
    /// processes are still this process's children (a re-exec keeps the
    /// pid); else their exits are watched through pidfds.
    pub fn adopt(&mut self, saved: &Saved, children: bool, now: Instant) -> Adopted {
        let mut out = Adopted::default();
        for si in &saved.instances {
            let key = si.key();
            let Some(def) = self.jobs.def(&si.job) else {
                warn!(job = %label(&key), "in the saved state but no longer defined; its processes are not supervised");
                out.unknown.push(key);
                continue;
            };
            let policy = Policy::from_unit(&def.unit);
            let alive = si.main_pid.zip(si.main_start).filter(|&(pid, start)| {
                self.sys
                    .procs()
                    .stat(pid)
                    .is_some_and(|p| p.start_ticks == start && !p.is_exited())
            });
            let should_run = si.goal == Goal::Start
                || matches!(si.state, State::PreStop | State::Stopping | State::Killed);
            match alive {
                Some((pid, start)) => {
                    let since = now
                        .checked_sub(saved.since(si.spawned_ago_ms.unwrap_or(0)))
                        .unwrap_or(now);
                    let mut job = Job::adopted(policy, pid, si.pgid, since);
                    restore_counters(&mut job, si, saved, now);
                    self.jobs.restore(&key, si.env.clone(), job);
                    if let Some(c) = si.checks.clone() {
                        self.pending_counters.insert(key.clone(), c);
                    }
                    self.main_starts
                        .borrow_mut()
                        .insert(pid, (Some(since), start));
                    self.take_back(&key, (pid, start), si, children);
                    debug!(job = %label(&key), "main process {pid} taken back");
                    if si.goal == Goal::Stop {
                        // It was being stopped when the daemon went away.
                        self.feed(key.clone(), Input::Stop);
                    }
                    out.running.push(key);
                }
                None if should_run && si.main_pid.is_some() => {
                    // Died while no daemon ran: the machine hears of it as an
                    // exit without a wait status; what is left of the run is swept.
                    let pid = si.main_pid.unwrap_or(0);
                    let mut job = Job::adopted(policy, pid, si.pgid, now);
                    restore_counters(&mut job, si, saved, now);
                    self.jobs.restore(&key, si.env.clone(), job);
                    if let Some(pg) = si.pgid {
                        self.pids.add_group(&key, pg);
                    }
                    let _ = self.sys.group_open(&key);
                    info!(job = %label(&key), "main process {pid} ended while no daemon ran");
                    self.feed(key.clone(), Input::MainLost);
                    out.lost.push(key);
                }
                None => {
                    let mut job = Job::new(policy);
                    if si.state == State::Failed {
                        job.state = State::Failed;
                        job.failed = true;
                    }
                    restore_counters(&mut job, si, saved, now);
                    self.jobs.restore(&key, si.env.clone(), job);
                    if should_run {
                        // Between processes (a hook, a respawn delay): start again.
                        let _ = self.sys.group_open(&key);
                        self.feed(key.clone(), Input::Start);
                    }
                    out.resting.push(key);
                }
            }
        }
        self.page_rebuild();
        self.drain(now);
        out
    }

    /// The pid table, the tree record, the pidfile follower, the cgroup and
    /// (when it is not our child) a pidfd learn of a taken-back main.
    fn take_back(&mut self, key: &Key, main: (i32, u64), si: &SavedInstance, children: bool) {
        let pid = main.0;
        self.pids.insert(pid, key, ProcKind::Job(Process::Main));
        if let Some(pg) = si.pgid {
            self.pids.add_group(key, pg);
        }
        if let Err(e) = self.sys.group_open(key) {
            warn!(job = %label(key), "{e}");
        }
        if let (Some(def), Some(inst)) = (self.jobs.def(&key.0), self.jobs.get(key)) {
            self.follow
                .restore(self.sys.as_mut(), key, def, inst, main, &si.known);
        }
        if !children && !self.follow.is_followed(key) && self.sys.pidfd_open(pid).is_ok() {
            self.pids.watch_adopted(pid);
        }
    }
}

/// Restarts, respawn times, the last exit and the reason, as they were.
fn restore_counters(job: &mut Job, si: &SavedInstance, saved: &Saved, now: Instant) {
    job.restarts = si.restarts;
    job.last_exit = si.last_exit;
    job.last_cause = si.last_cause.clone();
    job.reason = si.reason.clone();
    job.respawns = si
        .respawns_ago_ms
        .iter()
        .filter_map(|ms| now.checked_sub(saved.since(*ms)))
        .collect();
}
