//! Memory and CPU of a job instance's whole process tree, measured when a status is
//! asked for: the instance's cgroup counters where it has one, else one walk of its
//! tree in /proc. It keeps the previous CPU sample of each instance for
//! `cpu_percent`; it never polls, signals, or changes job state.

use super::core::Supervisor;
use super::jobs::Key;
use crate::control::proto::JobStatus;
use crate::procfs;
use crate::procfs::{Figures, tree_figures};
use std::cell::RefCell;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Two samples closer than this give no new `cpu_percent` (/proc counts CPU in
/// clock ticks of 10 ms): the last figure is shown, the older sample kept.
pub const MIN_WINDOW: Duration = Duration::from_millis(50);

/// One CPU sample of an instance's tree, and the percent computed at it.
#[derive(Debug, Clone, Copy)]
struct Sample {
    /// The main process measured: another one starts afresh.
    pid: i32,
    at: Instant,
    cpu: Duration,
    percent: Option<f64>,
}

/// The previous sample of each instance. Behind a `RefCell` because statuses
/// are read through `&Supervisor`; the supervisor's one thread owns it.
#[derive(Debug, Default)]
pub struct Usage {
    prev: RefCell<HashMap<Key, Sample>>,
}

impl Usage {
    /// `cpu` is the tree's CPU time at `now`: the percent of one core since
    /// the previous sample of `key` (at least `MIN_WINDOW` before), or the
    /// last percent when the previous sample is more recent; `None` at the
    /// first sample of a main process.
    pub fn percent(&self, key: &Key, pid: i32, cpu: Duration, now: Instant) -> Option<f64> {
        let mut prev = self.prev.borrow_mut();
        let fresh = Sample {
            pid,
            at: now,
            cpu,
            percent: None,
        };
        let Some(old) = prev.get(key).copied().filter(|s| s.pid == pid) else {
            prev.insert(key.clone(), fresh);
            return None;
        };
        let window = now.saturating_duration_since(old.at);
        if window < MIN_WINDOW {
            return old.percent;
        }
        // A tree measured in /proc loses the CPU of children that ended.
        let used = cpu.saturating_sub(old.cpu);
        let percent = Some(used.as_secs_f64() / window.as_secs_f64() * 100.0);
        prev.insert(key.clone(), Sample { percent, ..fresh });
        percent
    }

    /// Forgets the samples of instances `keep` does not hold.
    pub fn retain(&self, keep: impl Fn(&Key) -> bool) {
        self.prev.borrow_mut().retain(|k, _| keep(k));
    }

    /// How many instances have a sample.
    pub fn len(&self) -> usize {
        self.prev.borrow().len()
    }

    /// True when no instance has a sample.
    pub fn is_empty(&self) -> bool {
        self.prev.borrow().is_empty()
    }
}

impl Supervisor {
    /// For `--http`: what measures the instance's tree off the loop (its
    /// group's kept-open files, the pids a walk starts from); reads nothing.
    pub(super) fn measure_of(&self, key: &Key, main: i32, index: usize) -> crate::http::Measure {
        crate::http::Measure {
            index,
            group: self.sys.group_meter(key),
            roots: std::iter::once(main)
                .chain(self.pids.of(key).into_iter().map(|(p, _)| p))
                .collect(),
        }
    }

    /// Sets memory, CPU percent and CPU seconds of `st` (an instance with a
    /// main process) from its whole tree: the cgroup's `memory.current` and
    /// `cpu.stat` where the instance has a group, else a walk of the tree
    /// from every process the daemon knows of it. A figure that cannot be
    /// measured keeps what the watchdog found.
    pub(super) fn measure_tree(&self, key: &Key, main: i32, st: &mut JobStatus, now: Instant) {
        let (mut mem, cpu) = self.sys.group_usage(key);
        let roots = || std::iter::once(main).chain(self.pids.of(key).into_iter().map(|(p, _)| p));
        // A group without the memory controller lists its processes: their
        // resident memory (as `--http` measures it, `http::measure`).
        if mem.is_none()
            && let Some(mut pids) = self
                .sys
                .group_meter(key)
                .and_then(|m| m.pids(&mut Vec::new()))
        {
            for p in roots() {
                if !pids.contains(&p) {
                    pids.push(p);
                }
            }
            let procs = self.sys.procs();
            mem = pids
                .iter()
                .filter_map(|&p| procs.resident_pages(p))
                .map(|pages| pages.saturating_mul(procfs::page_bytes()))
                .reduce(u64::saturating_add);
        }
        let mut f = Figures {
            memory_bytes: mem,
            cpu,
        };
        if f.memory_bytes.is_none() || f.cpu.is_none() {
            let walked = tree_figures(
                self.sys.procs(),
                roots(),
                procfs::page_bytes(),
                procfs::clock_ticks(),
            );
            f.memory_bytes = f.memory_bytes.or(walked.memory_bytes);
            f.cpu = f.cpu.or(walked.cpu);
        }
        if let Some(m) = f.memory_bytes {
            st.memory_bytes = Some(m);
        }
        if let Some(cpu) = f.cpu {
            st.cpu_seconds = Some(cpu.as_secs_f64());
            if let Some(p) = self.usage.percent(key, main, cpu, now) {
                st.cpu_percent = Some(p);
            }
        }
        // Instances that are gone take their samples with them.
        if self.usage.len() > 64 && self.usage.len() > 2 * self.pids.len() {
            self.usage
                .retain(|k| self.jobs.get(k).is_some_and(|i| i.job.main_pid.is_some()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::{Proc, ProcTable};

    fn p(pid: i32, ppid: i32, pages: u64, ticks: u64, state: char) -> Proc {
        Proc {
            pid,
            state,
            ppid,
            pgid: 10,
            sid: 10,
            cpu_ticks: ticks,
            threads: 1,
            start_ticks: pid as u64,
            rss_pages: pages,
        }
    }

    #[test]
    fn a_tree_counts_every_living_process() {
        let mut table = ProcTable::new();
        for proc_ in [
            p(10, 1, 100, 5, 'S'),
            p(11, 10, 12_800, 100, 'S'),
            p(12, 10, 12_800, 100, 'R'),
            p(13, 12, 1_000, 50, 'Z'),
            p(20, 1, 99_999, 999, 'S'),
        ] {
            table.insert(proc_, 0);
        }
        let f = tree_figures(&table, [10], 4096, 100);
        assert_eq!(f.memory_bytes, Some(25_700 * 4096));
        assert_eq!(f.cpu, Some(Duration::from_millis(2050)));
        assert_eq!(tree_figures(&table, [99], 4096, 100), Figures::default());
    }

    #[test]
    fn percent_from_the_second_sample() {
        let u = Usage::default();
        let k: Key = ("web".into(), String::new());
        let t0 = Instant::now();
        let s = Duration::from_secs;
        assert_eq!(u.percent(&k, 5, s(1), t0), None);
        // Too close: nothing yet, the first sample stays the baseline.
        assert_eq!(u.percent(&k, 5, s(1), t0 + Duration::from_millis(10)), None);
        assert_eq!(u.percent(&k, 5, s(2), t0 + s(2)), Some(50.0));
        assert_eq!(
            u.percent(&k, 5, s(2), t0 + s(2) + Duration::from_millis(1)),
            Some(50.0)
        );
        // Children that ended lower the tree's total: never negative.
        assert_eq!(u.percent(&k, 5, s(1), t0 + s(4)), Some(0.0));
        // A new main process starts afresh.
        assert_eq!(u.percent(&k, 6, s(0), t0 + s(5)), None);
        u.retain(|_| false);
        assert!(u.is_empty());
    }
}
