//! Where the follower meets the supervisor: its outputs applied (pid table,
//! machine inputs, the grace timer), and the loop's pidfile events routed to it.

use super::{Out, Pass, wants_pidfile_ready};
use crate::job::machine::{Input, Process};
use crate::supervisor::core::Supervisor;
use crate::supervisor::jobs::{Key, label};
use crate::supervisor::pids::ProcKind;
use crate::supervisor::timers::TimerKey;
use crate::sys::{Change, Containment, KillTarget};
use crate::unit::Signal;
use std::time::Instant;
use tracing::warn;

impl Supervisor {
    /// Applies the follower's outputs for `key`, in order.
    pub(in crate::supervisor) fn apply_follow(&mut self, key: &Key, outs: Vec<Out>, now: Instant) {
        for out in outs {
            match out {
                Out::NewMain(pid) => {
                    self.pids.insert(pid, key, ProcKind::Job(Process::Main));
                    self.feed(key.clone(), Input::MainReplaced { pid });
                }
                Out::Input(input) => self.feed(key.clone(), input),
                Out::ArmGrace(d) => {
                    if let Some(at) = now.checked_add(d) {
                        self.timers.set(TimerKey::PidfileGrace(key.clone()), at);
                    }
                }
                Out::CancelGrace => self.timers.cancel(&TimerKey::PidfileGrace(key.clone())),
            }
        }
    }

    /// One follow pass for `key`; when the follower asks, one more reap
    /// batch first and a second pass.
    pub(in crate::supervisor) fn follow_job(
        &mut self,
        key: &Key,
        grace_expired: bool,
        now: Instant,
    ) {
        for retried in [false, true] {
            let (Some(def), Some(inst)) = (self.jobs.def(&key.0), self.jobs.get(key)) else {
                return;
            };
            let wants = wants_pidfile_ready(def, inst);
            let pass =
                self.follow
                    .follow(self.sys.as_mut(), key, inst, wants, grace_expired, retried);
            match pass {
                Pass::Done(outs) => return self.apply_follow(key, outs, now),
                Pass::ReapAndRetry => self.reap_now(now),
            }
        }
    }

    /// Reaps what has exited now (outside a SIGCHLD), routing it as usual.
    pub(in crate::supervisor) fn reap_now(&mut self, now: Instant) {
        let reaped = self.sys.reap();
        if !reaped.is_empty() {
            self.on_reaped(reaped, now);
        }
    }

    /// The watcher saw pidfiles change: one reap batch first, then follow.
    pub fn on_pidfile_changes(&mut self, changes: Vec<(Key, Change)>, now: Instant) {
        self.reap_now(now);
        for (key, change) in changes {
            self.follow.changed(self.sys.as_mut(), &key, change);
            self.follow_job(&key, false, now);
        }
        self.drain(now);
    }

    /// A pidfd turned readable: a followed main process exited. When it was
    /// not gsup's child (its parent, the old master, reaps it), it leaves the
    /// pid table here, since no reap will say so.
    pub fn on_pid_exited(&mut self, pid: i32, now: Instant) {
        let Some(key) = self.follow.main_exited(self.sys.as_mut(), pid) else {
            return;
        };
        self.reap_now(now);
        if self.pids.owner(pid).is_some_and(|(k, _)| *k == key) {
            self.pids.remove(pid);
            // Stopping: the follower stays out; the machine hears the
            // main's end (no wait status: "lost").
            if let Some(inst) = self.jobs.get(&key)
                && !inst.is_live()
                && inst.job.main_pid == Some(pid)
            {
                self.feed(key.clone(), Input::MainLost);
            }
        }
        self.follow_job(&key, false, now);
        self.drain(now);
    }

    /// The grace timer of `key` fired.
    pub(in crate::supervisor) fn follow_grace(&mut self, key: &Key, now: Instant) {
        self.follow.grace_fired(key);
        self.follow_job(key, true, now);
    }

    /// The instance's run is over: the follower forgets it.
    pub(in crate::supervisor) fn follow_forget(&mut self, key: &Key) {
        if self.follow.forget(self.sys.as_mut(), key) {
            self.timers.cancel(&TimerKey::PidfileGrace(key.clone()));
        }
    }

    /// A signal to `key`'s process group reaches the rest of the job too:
    /// with cgroups, every process in its group (`SIGKILL`: `cgroup.kill`);
    /// without, every member of the job outside that process group, by pid
    /// (a setsid'd master, its workers, a daemonized grandchild), found
    /// from what the tree record knows.
    pub(in crate::supervisor) fn signal_rest_of_job(&mut self, key: &Key, pgid: i32, sig: Signal) {
        if self.sys.containment() == Containment::Cgroup {
            if sig == Signal::KILL {
                self.sys.group_kill(key);
            } else {
                self.sys.group_signal(key, sig);
            }
            return;
        }
        for (pid, pg) in self.follow.members(self.sys.as_ref(), key) {
            if pg != pgid
                && let Err(errno) = self.sys.signal(KillTarget::Pid(pid), sig)
                && errno != libc::ESRCH
            {
                warn!(job = %label(key), "kill {pid} {}: errno {errno}", sig.0);
            }
        }
    }
}
