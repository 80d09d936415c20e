//! The `kill` action of `child_checks`: one child of a master and its descendants, each
//! by pid, TERM then SIGKILL after `kill_timeout`. Never signals a process group (the
//! child shares its master's), never reaps (the supervisor's one reaper does).

use crate::procfs::{self, ProcSource};
use crate::sys::{KillTarget, Sys};
use crate::unit::Signal;
use std::collections::HashSet;
use std::time::{Duration, Instant};

/// A process to kill, identified by pid and start time (so a recycled pid is spared).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Victim {
    pub pid: i32,
    pub start_ticks: u64,
}

/// The signals of the first step: freeze the tree (no fork escapes between listing and
/// signalling), TERM each, then CONT so handlers run. Every target is a `Pid`.
pub fn plan_term(victims: &[Victim]) -> Vec<(KillTarget, Signal)> {
    let stop = Signal(libc::SIGSTOP);
    let cont = Signal(libc::SIGCONT);
    let mut plan = Vec::with_capacity(victims.len() * 3);
    for sig in [stop, Signal::TERM, cont] {
        plan.extend(victims.iter().map(|v| (KillTarget::Pid(v.pid), sig)));
    }
    plan
}

/// The signals of the escalation: SIGKILL to each victim still alive, by pid.
pub fn plan_kill(alive: &[Victim]) -> Vec<(KillTarget, Signal)> {
    alive
        .iter()
        .map(|v| (KillTarget::Pid(v.pid), Signal::KILL))
        .collect()
}

/// A kill of one child in progress: who was signalled and when SIGKILL is due. The
/// supervisor keeps it, calls `escalate` at `deadline` (or drops it once `done`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChildKill {
    pub child: Victim,
    pub victims: Vec<Victim>,
    pub deadline: Instant,
}

fn send(sys: &mut dyn Sys, plan: &[(KillTarget, Signal)]) {
    for &(target, sig) in plan {
        // ESRCH (already gone) is the goal reached; nothing else can be done here.
        let _ = sys.signal(target, sig);
    }
}

/// The live subtree of `child` (child first).
fn subtree(procs: &dyn ProcSource, child: i32) -> Vec<Victim> {
    procfs::walk(procs, child)
        .iter()
        .filter(|p| !p.is_exited())
        .map(|p| Victim {
            pid: p.pid,
            start_ticks: p.start_ticks,
        })
        .collect()
}

/// Whether `v` is still the process that started at its start time and has
/// not exited (a zombie or a recycled pid is not alive for a kill).
fn alive(procs: &dyn ProcSource, v: &Victim) -> bool {
    procs
        .stat(v.pid)
        .is_some_and(|s| s.start_ticks == v.start_ticks && !s.is_exited())
}

impl ChildKill {
    /// Starts killing `child` (when it is still the process that started at
    /// `start_ticks`): SIGSTOP to it and to its descendants until no new one appears,
    /// then TERM and CONT to each, by pid. None when the child is already gone.
    pub fn begin(
        sys: &mut dyn Sys,
        child: Victim,
        kill_timeout: Duration,
        now: Instant,
    ) -> Option<ChildKill> {
        if !alive(sys.procs(), &child) {
            return None;
        }
        let mut stopped: Vec<Victim> = Vec::new();
        let mut seen: HashSet<Victim> = HashSet::new();
        // Freeze generation by generation: a process stopped cannot fork, so after a
        // pass that finds nobody new the list is complete. Bounded for safety.
        for _ in 0..16 {
            let fresh: Vec<Victim> = subtree(sys.procs(), child.pid)
                .into_iter()
                .filter(|v| seen.insert(*v))
                .collect();
            if fresh.is_empty() {
                break;
            }
            let stop: Vec<(KillTarget, Signal)> = fresh
                .iter()
                .map(|v| (KillTarget::Pid(v.pid), Signal(libc::SIGSTOP)))
                .collect();
            send(sys, &stop);
            stopped.extend(fresh);
        }
        let plan: Vec<(KillTarget, Signal)> = plan_term(&stopped)
            .into_iter()
            .filter(|(_, sig)| sig.0 != libc::SIGSTOP)
            .collect();
        send(sys, &plan);
        Some(ChildKill {
            child,
            victims: stopped,
            deadline: now + kill_timeout,
        })
    }

    /// The victims still alive (same pid, same start time, not a zombie).
    pub fn alive(&self, procs: &dyn ProcSource) -> Vec<Victim> {
        self.victims
            .iter()
            .copied()
            .filter(|v| alive(procs, v))
            .collect()
    }

    /// Whether every victim has exited (the supervisor may drop the kill early).
    pub fn done(&self, procs: &dyn ProcSource) -> bool {
        self.alive(procs).is_empty()
    }

    /// At `deadline`: SIGKILL to every victim still alive and to any descendant they
    /// forked since. Returns how many processes were sent SIGKILL.
    pub fn escalate(&self, sys: &mut dyn Sys) -> usize {
        let mut targets: Vec<Victim> = Vec::new();
        let mut seen = HashSet::new();
        for v in self.alive(sys.procs()) {
            for d in subtree(sys.procs(), v.pid) {
                if seen.insert(d) {
                    targets.push(d);
                }
            }
        }
        send(sys, &plan_kill(&targets));
        targets.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plans_name_pids_never_groups() {
        let v = [
            Victim {
                pid: 41,
                start_ticks: 1,
            },
            Victim {
                pid: 42,
                start_ticks: 2,
            },
        ];
        let term = plan_term(&v);
        let want = vec![
            (KillTarget::Pid(41), Signal(libc::SIGSTOP)),
            (KillTarget::Pid(42), Signal(libc::SIGSTOP)),
            (KillTarget::Pid(41), Signal::TERM),
            (KillTarget::Pid(42), Signal::TERM),
            (KillTarget::Pid(41), Signal(libc::SIGCONT)),
            (KillTarget::Pid(42), Signal(libc::SIGCONT)),
        ];
        assert_eq!(term, want);
        assert_eq!(
            plan_kill(&v[1..]),
            vec![(KillTarget::Pid(42), Signal::KILL)]
        );
        assert!(plan_kill(&[]).is_empty());
    }
}
