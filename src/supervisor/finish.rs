//! The daemon's last act, after the last stop wave: every process left is
//! sent TERM, given a grace period, then KILL, and reaped.
//!
//! Which processes: as PID 1 (or with `--init` inside a PID namespace)
//! every process of the namespace but the daemon, its ancestors and the
//! kernel's threads; otherwise only the daemon's own descendants, since a
//! daemon that is not init has no business with anything else. Powering
//! off is `run`'s, once this returns.

use crate::procfs::ProcSource;
use crate::sys::{KillTarget, Sys};
use crate::unit::Signal;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// How long processes left after the last wave get between TERM and KILL.
pub const TERM_GRACE: Duration = Duration::from_secs(5);

/// How long the daemon waits for killed processes to be gone.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// The processes to end: `everything` is PID-1 behaviour.
pub fn targets(procs: &dyn ProcSource, all: &[i32], own: i32, everything: bool) -> Vec<i32> {
    let living = |pid: &i32| procs.stat(*pid).is_some_and(|p| !p.is_exited());
    if !everything {
        return crate::procfs::walk(procs, own)
            .into_iter()
            .filter(|p| p.pid != own && !p.is_exited())
            .map(|p| p.pid)
            .collect();
    }
    let mut spared: BTreeSet<i32> = BTreeSet::from([own]);
    let mut up = procs.stat(own).map_or(0, |p| p.ppid);
    while up > 0 && spared.insert(up) {
        up = procs.stat(up).map_or(0, |p| p.ppid);
    }
    all.iter()
        .copied()
        .filter(|pid| !spared.contains(pid))
        .filter(|pid| !is_kernel_thread(procs, *pid))
        .filter(living)
        .collect()
}

/// kthreadd (pid 2, no parent) and its children: the kernel's own threads,
/// which no signal ends.
fn is_kernel_thread(procs: &dyn ProcSource, pid: i32) -> bool {
    match procs.stat(pid) {
        Some(p) => (p.pid == 2 && p.ppid == 0) || p.ppid == 2,
        None => false,
    }
}

/// TERM to every target, up to `grace` for them to go (children reaped
/// meanwhile), KILL to the rest, and a last reap.
pub fn end_the_rest(sys: &mut dyn Sys, everything: bool, grace: Duration) {
    let own = sys.own_pid();
    let list = |sys: &dyn Sys| targets(sys.procs(), &sys.all_pids(), own, everything);
    let left = list(sys);
    if left.is_empty() {
        return;
    }
    info!(count = left.len(), pids = ?left, "sending TERM to the processes left");
    send(sys, &left, Signal::TERM, everything);
    if wait_gone(sys, &list, grace) {
        return;
    }
    let left = list(sys);
    warn!(count = left.len(), pids = ?left, "sending KILL to the processes that outlived TERM");
    send(sys, &left, Signal::KILL, everything);
    if !wait_gone(sys, &list, KILL_WAIT) {
        warn!(pids = ?list(sys), "processes still there after KILL (stuck in the kernel?)");
    }
}

fn send(sys: &mut dyn Sys, pids: &[i32], sig: Signal, everything: bool) {
    // As PID 1 one kill(-1) reaches what was forked since the list was read.
    if everything && sys.signal_all(sig).is_ok() {
        return;
    }
    for &pid in pids {
        let _ = sys.signal(KillTarget::Pid(pid), sig);
    }
}

/// Reaps and looks again until no target is left or `within` has passed;
/// true when none is left. Processes that are not the daemon's children
/// give no event to wait on, hence the short polls (only at the very end).
fn wait_gone(sys: &mut dyn Sys, list: &dyn Fn(&dyn Sys) -> Vec<i32>, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    loop {
        sys.reap();
        if list(sys).is_empty() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// True when this process runs in the machine's first PID namespace (the
/// kernel gives it a fixed inode number), where PID 1 is the real init.
pub fn in_initial_pid_ns() -> bool {
    const PROC_PID_INIT_INO: &str = "pid:[4026531836]";
    std::fs::read_link("/proc/self/ns/pid").is_ok_and(|l| l.as_os_str() == PROC_PID_INIT_INO)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::{Proc, ProcTable};

    fn p(pid: i32, ppid: i32, state: char) -> Proc {
        Proc {
            pid,
            state,
            ppid,
            pgid: pid,
            sid: pid,
            cpu_ticks: 0,
            threads: 1,
            start_ticks: 1,
            rss_pages: 0,
        }
    }

    fn table(procs: Vec<Proc>) -> ProcTable {
        let mut t = ProcTable::new();
        for p in procs {
            t.insert(p, 0);
        }
        t
    }

    #[test]
    fn descendants_only_when_not_init() {
        let t = table(vec![
            p(1, 0, 'S'),
            p(10, 1, 'S'),
            p(11, 10, 'S'),
            p(12, 11, 'S'),
            p(13, 11, 'Z'),
            p(20, 1, 'S'),
        ]);
        let all: Vec<i32> = vec![1, 10, 11, 12, 13, 20];
        assert_eq!(targets(&t, &all, 10, false), vec![11, 12]);
    }

    #[test]
    fn everything_spares_self_ancestors_and_kernel_threads() {
        let t = table(vec![
            p(1, 0, 'S'),
            p(2, 0, 'S'),
            p(3, 2, 'I'),
            p(5, 1, 'S'),
            p(6, 5, 'S'),
            p(7, 6, 'S'),
            p(8, 1, 'Z'),
        ]);
        let all: Vec<i32> = vec![1, 2, 3, 5, 6, 7, 8];
        // The daemon is 6 under a shell 5 that is the namespace's init 1.
        assert_eq!(targets(&t, &all, 6, true), vec![7]);
        // As PID 1 itself.
        assert_eq!(targets(&t, &all, 1, true), vec![5, 6, 7]);
    }
}
