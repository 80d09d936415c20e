//! What one measurement of a job's process tree holds, and the pure arithmetic on it
//! (subtrees, memory sums, CPU percent between two samples). Reads nothing itself: no
//! `std::fs`, no nix; `measure` fills these from /proc.

use super::eval::Values;
use crate::procfs::Proc;
use std::collections::{HashMap, HashSet};
use std::fmt;
use std::time::Duration;

/// Trees up to this size are searched linearly (cheaper than building an index).
const SMALL: usize = 16;

/// Why a tree could not be measured (its main process is gone, or /proc failed).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeasureError {
    pub pid: i32,
    pub message: String,
}

impl fmt::Display for MeasureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "cannot measure pid {}: {}", self.pid, self.message)
    }
}

/// The source of tree samples. The real one reads /proc (`measure::ProcReader`);
/// tests of the `Watchdog` give it fixed samples.
pub trait Sampler {
    /// Measures `main_pid` and all its descendants now.
    fn sample(&mut self, main_pid: i32) -> Result<TreeSample, MeasureError>;

    /// The tree rooted at `main_pid` is no longer watched: release what was kept for it.
    fn forget(&mut self, main_pid: i32) {
        let _ = main_pid;
    }
}

/// One measurement of a main process and all its descendants, at one instant.
#[derive(Debug, Clone, PartialEq)]
pub struct TreeSample {
    /// The main process the tree was discovered from.
    pub root: i32,
    /// The root first, then its descendants in breadth-first order.
    pub procs: Vec<Proc>,
    /// Bytes per page (the unit of `Proc::rss_pages`).
    pub page: u64,
    /// `CLOCK_BOOTTIME` when the sample was taken (the clock of `start_ticks`).
    pub boot_time: Duration,
    /// Clock ticks per second (`sysconf(_SC_CLK_TCK)`).
    pub hz: u64,
    index: HashMap<i32, usize>,
}

impl TreeSample {
    /// Builds a sample; `procs` must start with the root.
    pub fn new(root: i32, procs: Vec<Proc>, boot_time: Duration, hz: u64, page: u64) -> TreeSample {
        let index = if procs.len() > SMALL {
            procs.iter().enumerate().map(|(i, p)| (p.pid, i)).collect()
        } else {
            HashMap::new()
        };
        TreeSample {
            root,
            procs,
            page: page.max(1),
            boot_time,
            hz: hz.max(1),
            index,
        }
    }

    /// The process `pid`, when it is in this tree.
    pub fn get(&self, pid: i32) -> Option<&Proc> {
        if self.procs.len() <= SMALL {
            return self.procs.iter().find(|p| p.pid == pid);
        }
        self.index.get(&pid).and_then(|&i| self.procs.get(i))
    }

    /// Direct children of `pid` in this tree (zombies included), in discovery order.
    pub fn direct_children(&self, pid: i32) -> Vec<i32> {
        self.procs
            .iter()
            .filter(|p| p.ppid == pid && p.pid != pid)
            .map(|p| p.pid)
            .collect()
    }

    /// `pid` and all its descendants, `pid` first (empty when `pid` is not in the tree).
    /// `procs` is in discovery order, so a parent always comes before its children.
    pub fn subtree(&self, pid: i32) -> Vec<&Proc> {
        if pid == self.root {
            return self.procs.iter().collect();
        }
        let Some(at) = self.procs.iter().position(|p| p.pid == pid) else {
            return Vec::new();
        };
        let mut members: HashSet<i32> = HashSet::from([pid]);
        let mut out = vec![&self.procs[at]];
        for p in &self.procs[at + 1..] {
            if members.contains(&p.ppid) && members.insert(p.pid) {
                out.push(p);
            }
        }
        out
    }

    /// How long `p` has been running at this sample.
    pub fn age(&self, p: &Proc) -> Duration {
        let started = ticks_to_duration(p.start_ticks, self.hz);
        self.boot_time.saturating_sub(started)
    }

    /// CPU percent of one core used by `p` since `prev` (None without a previous sample).
    ///
    /// A pid also in `prev` with the same start time: its tick delta over the wall-clock
    /// delta. A process new since `prev` (or a recycled pid): all its ticks when it started
    /// within the interval, else its lifetime average rate. Processes that exited within
    /// the interval are not counted (their last partial interval is lost).
    pub fn cpu_percent(&self, prev: &TreeSample, p: &Proc) -> Option<f64> {
        let interval = self.boot_time.checked_sub(prev.boot_time)?.as_secs_f64();
        if interval <= 0.0 {
            return None;
        }
        let hz = self.hz as f64;
        let ticks = match prev.get(p.pid) {
            Some(old) if old.start_ticks == p.start_ticks => {
                p.cpu_ticks.saturating_sub(old.cpu_ticks) as f64
            }
            _ => {
                let age = self.age(p).as_secs_f64();
                if age <= interval {
                    p.cpu_ticks as f64
                } else {
                    p.cpu_ticks as f64 * interval / age
                }
            }
        };
        Some(ticks / hz / interval * 100.0)
    }

    /// The check values of the subtree rooted at `pid`: `mem` and `cpu` of `pid` itself,
    /// `totalmem`/`totalcpu` of it and its descendants, `children` = live descendants
    /// (zombies are not counted), `uptime` of `pid`. None when `pid` is not in the tree.
    pub fn values(&self, prev: Option<&TreeSample>, pid: i32) -> Option<Values> {
        let tree = self.subtree(pid);
        let root = *tree.first()?;
        let cpu_of = |p: &Proc| prev.and_then(|prev| self.cpu_percent(prev, p));
        let cpu = cpu_of(root);
        // Known whenever the root's is (same two instants for the whole tree).
        let totalcpu = cpu.map(|_| tree.iter().filter_map(|p| cpu_of(p)).sum());
        Some(Values {
            mem: root.rss_pages.saturating_mul(self.page),
            totalmem: tree
                .iter()
                .map(|p| p.rss_pages.saturating_mul(self.page))
                .sum(),
            cpu,
            totalcpu,
            children: tree.iter().skip(1).filter(|p| !p.is_exited()).count() as u64,
            uptime: self.age(root),
        })
    }
}

/// Converts clock ticks to a duration.
pub fn ticks_to_duration(ticks: u64, hz: u64) -> Duration {
    let hz = hz.max(1);
    Duration::from_secs(ticks / hz) + Duration::from_nanos((ticks % hz) * 1_000_000_000 / hz)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(pid: i32, ppid: i32, ticks: u64, rss_mb: u64, start: u64) -> Proc {
        Proc {
            pid,
            ppid,
            pgid: 10,
            sid: 10,
            state: 'S',
            cpu_ticks: ticks,
            rss_pages: rss_mb << 20,
            start_ticks: start,
            threads: 1,
        }
    }

    fn tree(at_s: u64, procs: Vec<Proc>) -> TreeSample {
        TreeSample::new(10, procs, Duration::from_secs(at_s), 100, 1)
    }

    #[test]
    fn subtree_and_values_sum_descendants() {
        let s = tree(
            100,
            vec![
                p(10, 1, 0, 10, 0),
                p(11, 10, 0, 100, 5000),
                p(12, 10, 0, 50, 5000),
                p(13, 11, 0, 7, 9000),
            ],
        );
        let pids: Vec<i32> = s.subtree(11).iter().map(|p| p.pid).collect();
        assert_eq!(pids, vec![11, 13]);
        assert_eq!(s.direct_children(10), vec![11, 12]);
        let v = s.values(None, 10).expect("root");
        assert_eq!(v.mem, 10 << 20);
        assert_eq!(v.totalmem, 167 << 20);
        assert_eq!(v.children, 3);
        assert_eq!(v.cpu, None);
        assert_eq!(v.uptime, Duration::from_secs(100));
        let c = s.values(None, 11).expect("child");
        assert_eq!((c.mem, c.totalmem, c.children), (100 << 20, 107 << 20, 1));
        assert_eq!(c.uptime, Duration::from_secs(50));
        assert_eq!(s.values(None, 99), None);
    }

    #[test]
    fn cpu_from_tick_delta_new_and_recycled_pids() {
        let prev = tree(100, vec![p(10, 1, 1000, 1, 0), p(11, 10, 500, 1, 100)]);
        // 10: +500 ticks in 10 s = 50%. 11 recycled (new start), started 5 s ago with
        // 200 ticks: all in the interval = 20%. 12 new but old (age 90 s, 900 ticks):
        // lifetime average 10 ticks/s = 10%.
        let cur = tree(
            110,
            vec![
                p(10, 1, 1500, 1, 0),
                p(11, 10, 200, 1, 10_500),
                p(12, 10, 900, 1, 2000),
            ],
        );
        let v = cur.values(Some(&prev), 10).expect("root");
        assert_eq!(v.cpu, Some(50.0));
        let total = v.totalcpu.expect("total");
        assert!((total - 80.0).abs() < 1e-9, "{total}");
        let c = cur.values(Some(&prev), 12).expect("child");
        assert!((c.cpu.expect("cpu") - 10.0).abs() < 1e-9);
        // No time passed: no CPU figure.
        assert_eq!(cur.values(Some(&cur), 10).expect("root").cpu, None);
    }

    #[test]
    fn zombies_are_not_children() {
        let mut z = p(11, 10, 0, 0, 10);
        z.state = 'Z';
        let s = tree(5, vec![p(10, 1, 0, 1, 0), z]);
        assert_eq!(s.values(None, 10).expect("root").children, 0);
    }

    #[test]
    fn ticks_convert_exactly() {
        assert_eq!(ticks_to_duration(250, 100), Duration::from_millis(2500));
    }
}
