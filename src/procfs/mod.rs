//! Processes as `/proc` shows them: the one record (`Proc`), the one parser of
//! `/proc/PID/stat`, the `ProcSource` seam and the one walk of a process tree.
//!
//! This file is pure (text in, values out). Reading is in `real` (a fresh
//! read each time) and `cached` (descriptors kept open between the
//! watchdog's cycles); `table` is an in-memory source for tests. Nothing
//! here signals or waits.

pub mod cached;
pub mod real;
pub mod table;

pub use cached::CachedProc;
pub use real::{RealProc, boot_time, clock_ticks, page_bytes};
pub use table::ProcTable;

use std::collections::HashSet;

/// A tree larger than this is cut off (a fork bomb must not make a walk unbounded).
pub const MAX_TREE: usize = 100_000;

/// One process: the fields of `/proc/PID/stat` that gsup reads (proc(5)
/// numbers them from 1). With `start_ticks`, the pid names one process
/// across pid recycling.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Proc {
    /// Field 1.
    pub pid: i32,
    /// Field 3: `R`, `S`, `D`, `Z` (zombie), `X` (dead), ...
    pub state: char,
    /// Field 4.
    pub ppid: i32,
    /// Field 5: the process group.
    pub pgid: i32,
    /// Field 6: the session.
    pub sid: i32,
    /// Fields 14 + 15: utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    /// Field 20.
    pub threads: u64,
    /// Field 22: start time in clock ticks after boot.
    pub start_ticks: u64,
    /// Field 24: resident set size, in pages.
    pub rss_pages: u64,
}

impl Proc {
    /// True for a process that has exited (zombie or dead) but is not reaped:
    /// it holds no memory, takes no CPU and cannot be killed.
    pub fn is_exited(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Where processes are read from: `/proc` (`RealProc`, `CachedProc`) or a
/// table in tests. The seam that lets the pidfile checks, the watchdog and
/// the kills run against a fake process table.
pub trait ProcSource {
    /// The process with this pid, or `None` when there is none.
    fn stat(&self, pid: i32) -> Option<Proc>;
    /// The direct children of `pid` (`threads` from its `Proc`: one thread
    /// needs one read).
    fn children(&self, pid: i32, threads: u64) -> Vec<i32>;
    /// The real uid of `pid` (`/proc/PID/status`).
    fn uid(&self, pid: i32) -> Option<u32>;
    /// The cgroup v2 path of `pid` (`/proc/PID/cgroup`, the `0::` line).
    fn cgroup(&self, pid: i32) -> Option<String>;
    /// Resident pages of `pid`, counted exactly (`/proc/PID/statm`, as
    /// `VmRSS`; `Proc::rss_pages` from `stat` may lag by the per-CPU
    /// counters the kernel has not folded in yet).
    fn resident_pages(&self, pid: i32) -> Option<u64> {
        self.stat(pid).map(|p| p.rss_pages)
    }
}

/// The one walk of a process tree: `root` first, then its descendants
/// breadth-first, each parent before its children. A child is taken only
/// when its `ppid` still names the parent (a pid that exited and was
/// recycled during the walk is not the tree's). Exited processes (zombies)
/// are included: callers that want the living filter them. Empty when
/// `root` is gone. At most `MAX_TREE` processes.
pub fn walk(src: &dyn ProcSource, root: i32) -> Vec<Proc> {
    walk_from(src, [root])
}

/// `walk` from several roots at once (every process a job is known to
/// own), each process once.
pub fn walk_from(src: &dyn ProcSource, roots: impl IntoIterator<Item = i32>) -> Vec<Proc> {
    let mut out: Vec<Proc> = Vec::new();
    // Small trees (the usual case) are searched linearly; a set only for big ones.
    let mut seen: Option<HashSet<i32>> = None;
    let known = |out: &Vec<Proc>, seen: &mut Option<HashSet<i32>>, pid: i32| match seen {
        Some(set) => !set.insert(pid),
        None => out.iter().any(|p| p.pid == pid),
    };
    for root in roots {
        if root <= 0 || known(&out, &mut seen, root) {
            continue;
        }
        if let Some(p) = src.stat(root) {
            out.push(p);
        }
    }
    let mut i = 0;
    while i < out.len() && out.len() < MAX_TREE {
        let (pid, threads) = (out[i].pid, out[i].threads);
        for child in src.children(pid, threads) {
            if known(&out, &mut seen, child) {
                continue;
            }
            if let Some(p) = src.stat(child).filter(|p| p.ppid == pid) {
                out.push(p);
            }
            if seen.is_none() && out.len() > 16 {
                seen = Some(out.iter().map(|p| p.pid).collect());
            }
        }
        i += 1;
    }
    out
}

/// Resident pages from the text of `/proc/PID/statm` (its second field).
pub fn parse_statm_resident(bytes: &[u8]) -> Option<u64> {
    std::str::from_utf8(bytes)
        .ok()?
        .split_ascii_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// Parses the text of `/proc/PID/stat`, without allocating. The command name
/// (field 2) is in parentheses and may itself hold spaces and parentheses, so
/// the fields after it are counted from the last `)`. `None` for anything
/// that is not a whole stat line up to field 24.
pub fn parse_stat(bytes: &[u8]) -> Option<Proc> {
    let open = bytes.iter().position(|&b| b == b'(')?;
    let close = bytes.iter().rposition(|&b| b == b')')?;
    let pid = std::str::from_utf8(bytes.get(..open)?)
        .ok()?
        .trim()
        .parse()
        .ok()?;
    let rest = std::str::from_utf8(bytes.get(close + 1..)?).ok()?;
    // Fields 3 (state) to 24 (rss): `f[n - 3]` is field n.
    let mut f = [""; 22];
    let mut words = rest.split_ascii_whitespace();
    for slot in f.iter_mut() {
        *slot = words.next()?;
    }
    let num = |n: usize| -> Option<u64> { f[n - 3].parse().ok() };
    let id = |n: usize| -> Option<i32> { f[n - 3].parse().ok() };
    Some(Proc {
        pid,
        state: f[0].chars().next()?,
        ppid: id(4)?,
        pgid: id(5)?,
        sid: id(6)?,
        cpu_ticks: num(14)?.checked_add(num(15)?)?,
        threads: num(20)?,
        start_ticks: num(22)?,
        rss_pages: num(24)?,
    })
}

/// The real uid from `/proc/PID/status` (`Uid:\treal\teffective\tsaved\tfs`).
pub fn parse_status_uid(text: &str) -> Option<u32> {
    let line = text.lines().find(|l| l.starts_with("Uid:"))?;
    line["Uid:".len()..]
        .split_ascii_whitespace()
        .next()?
        .parse()
        .ok()
}

/// The cgroup v2 path from `/proc/PID/cgroup` (the `0::PATH` line).
pub fn parse_cgroup_v2(text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::to_string)
}

/// Pids in the text of a `children` file (whitespace-separated).
pub fn parse_pids(bytes: &[u8]) -> Vec<i32> {
    std::str::from_utf8(bytes)
        .unwrap_or("")
        .split_ascii_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// What one measurement of a tree found.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Figures {
    pub memory_bytes: Option<u64>,
    pub cpu: Option<std::time::Duration>,
}

/// Resident memory and CPU time of the living processes of the trees below
/// `roots` (the one walk, `procfs::walk_from`); `None` when no root lives.
pub fn tree_figures(
    procs: &dyn ProcSource,
    roots: impl IntoIterator<Item = i32>,
    page: u64,
    ticks: u64,
) -> Figures {
    figures_of(&walk_from(procs, roots), page, ticks)
}

/// Resident memory and CPU time of the living processes of `tree` (a walk);
/// `None` when none lives.
pub fn figures_of(tree: &[Proc], page: u64, ticks: u64) -> Figures {
    let live: Vec<_> = tree.iter().filter(|p| !p.is_exited()).collect();
    if live.is_empty() {
        return Figures::default();
    }
    let pages: u64 = live.iter().map(|p| p.rss_pages).sum();
    let cpu_ticks: u64 = live.iter().map(|p| p.cpu_ticks).sum();
    Figures {
        memory_bytes: Some(pages.saturating_mul(page)),
        cpu: Some(std::time::Duration::from_secs_f64(
            cpu_ticks as f64 / ticks.max(1) as f64,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_counted_from_the_last_parenthesis() {
        let line = b"4242 (a (b) c) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 0 0 20 0 2 0 123456 10000000 250 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n";
        let s = parse_stat(line).expect("parses");
        assert_eq!(
            s,
            Proc {
                pid: 4242,
                state: 'S',
                ppid: 1,
                pgid: 4242,
                sid: 4242,
                cpu_ticks: 10,
                threads: 2,
                start_ticks: 123456,
                rss_pages: 250,
            }
        );
    }

    #[test]
    fn short_or_garbage_is_none() {
        assert_eq!(parse_stat(b""), None);
        assert_eq!(parse_stat(b"garbage"), None);
        assert_eq!(parse_stat(b"12 (x) S 1"), None);
        assert_eq!(
            parse_stat(b"x (y) S 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22"),
            None
        );
    }

    #[test]
    fn uid_cgroup_and_pid_lists() {
        assert_eq!(
            parse_status_uid("Name:\tx\nUid:\t500\t0\t0\t0\n"),
            Some(500)
        );
        assert_eq!(parse_status_uid("Name:\tx\n"), None);
        assert_eq!(
            parse_cgroup_v2("1:cpu:/\n0::/gsup/web\n"),
            Some("/gsup/web".into())
        );
        assert_eq!(parse_pids(b"12 13 x 14\n"), vec![12, 13, 14]);
    }

    fn p(pid: i32, ppid: i32, start: u64) -> Proc {
        Proc {
            pid,
            state: 'S',
            ppid,
            pgid: pid,
            sid: pid,
            cpu_ticks: 0,
            threads: 1,
            start_ticks: start,
            rss_pages: 1,
        }
    }

    #[test]
    fn walk_takes_the_tree_only_and_checks_parents() {
        let mut t = ProcTable::new();
        for proc_ in [
            p(1, 0, 1),
            p(10, 1, 5),
            p(11, 10, 6),
            p(12, 11, 7),
            p(20, 1, 8),
        ] {
            t.insert(proc_, 0);
        }
        let pids = |v: Vec<Proc>| v.iter().map(|p| p.pid).collect::<Vec<_>>();
        assert_eq!(pids(walk(&t, 10)), vec![10, 11, 12]);
        assert_eq!(pids(walk(&t, 12)), vec![12]);
        assert_eq!(pids(walk(&t, 99)), Vec::<i32>::new());
        assert_eq!(pids(walk_from(&t, [20, 11, 12])), vec![20, 11, 12]);
        // A child listed under a parent it no longer names is not taken.
        t.set_children(10, vec![11, 20]);
        assert_eq!(pids(walk(&t, 10)), vec![10, 11, 12]);
    }

    #[test]
    fn walk_of_a_big_tree_stays_whole() {
        let mut t = ProcTable::new();
        t.insert(p(100, 1, 1), 0);
        for i in 0..50 {
            t.insert(p(1000 + i, 100, 2), 0);
        }
        assert_eq!(walk(&t, 100).len(), 51);
    }
}
