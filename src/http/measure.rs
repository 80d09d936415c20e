//! The figures of each instance's tree, read off the loop for a snapshot: its
//! cgroup's kept-open files, else `/proc` through kept-open descriptors.

use super::snapshot::Snapshot;
use crate::contain::GroupMeter;
use crate::procfs::{self, CachedProc};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// One running instance the loop left to be measured here.
#[derive(Debug, Clone)]
pub struct Measure {
    /// Its index in `Snapshot::jobs`.
    pub index: usize,
    /// Its cgroup's figure files, when it has a group (and the daemon had
    /// descriptors to spare for them).
    pub group: Option<Arc<GroupMeter>>,
    /// The main process first, then every other process the daemon knows
    /// of the instance: where a `/proc` walk starts when the group gives
    /// no figure (no group, or no memory controller).
    pub roots: Vec<i32>,
}

/// What is kept between snapshots: `/proc` descriptors of the walked trees
/// and the previous CPU time of each instance, for `cpu_percent`.
#[derive(Debug)]
pub struct Meters {
    procs: CachedProc,
    /// `/proc/PID/statm` of processes in groups without `memory.current`.
    statm: HashMap<i32, File>,
    budget: usize,
    buf: Vec<u8>,
    /// By main pid: a hash of (job, instance) (a pid another instance
    /// took over starts afresh), when, and the CPU seconds then.
    samples: HashMap<i32, (u64, Instant, f64)>,
    page: u64,
    ticks: u64,
}

/// Two samples closer than this give no `cpu_percent` (`/proc` counts in
/// ticks of 10 ms).
const MIN_WINDOW: Duration = Duration::from_millis(50);

impl Meters {
    /// Keeps at most `budget` `/proc` descriptors open for walks, and as
    /// many for `statm` files.
    pub fn new(budget: usize) -> Meters {
        Meters {
            procs: CachedProc::with_budget(budget),
            statm: HashMap::new(),
            budget,
            buf: Vec::new(),
            samples: HashMap::new(),
            page: procfs::page_bytes(),
            ticks: procfs::clock_ticks(),
        }
    }

    /// Fills memory, CPU seconds and CPU percent of every instance in
    /// `snap.trees` (a blocking call: file reads). A figure the group has
    /// is the group's; the walk fills the rest. Descriptors and samples of
    /// instances no longer measured are let go.
    pub fn fill(&mut self, snap: &mut Snapshot) {
        let now = Instant::now();
        let mut seen = HashSet::new();
        let mut walked = HashSet::new();
        let mut listed = HashSet::new();
        for m in std::mem::take(&mut snap.trees) {
            let Some(st) = snap.jobs.get_mut(m.index) else {
                continue;
            };
            let Some(&main) = m.roots.first() else {
                continue;
            };
            let (mut mem, mut cpu) = match &m.group {
                Some(g) => (g.memory_bytes(), g.cpu_usage()),
                None => (None, None),
            };
            // A group without the memory controller lists its processes:
            // their resident memory, with the pids the daemon knows (a job
            // may have moved some into groups of its own below).
            if mem.is_none()
                && cpu.is_some()
                && let Some(mut pids) = m.group.as_ref().and_then(|g| g.pids(&mut self.buf))
            {
                for &p in &m.roots {
                    if !pids.contains(&p) {
                        pids.push(p);
                    }
                }
                mem = self.resident(&pids, &mut listed);
            }
            if mem.is_none() || cpu.is_none() {
                let tree = procfs::walk_from(&self.procs, m.roots.iter().copied());
                let pids: Vec<i32> = tree.iter().map(|p| p.pid).collect();
                self.procs.keep_tree(main, &pids);
                walked.insert(main);
                let f = procfs::figures_of(&tree, self.page, self.ticks);
                mem = mem.or(f.memory_bytes);
                cpu = cpu.or(f.cpu);
            }
            if mem.is_some() {
                st.memory_bytes = mem;
            }
            let Some(cpu) = cpu else {
                continue;
            };
            let secs = cpu.as_secs_f64();
            st.cpu_seconds = Some(secs);
            let who = {
                use std::hash::{DefaultHasher, Hash, Hasher};
                let mut h = DefaultHasher::new();
                (&st.name, &st.instance).hash(&mut h);
                h.finish()
            };
            if let Some(&(w, t, before)) = self.samples.get(&main)
                && w == who
                && now.saturating_duration_since(t) >= MIN_WINDOW
            {
                let dt = now.saturating_duration_since(t).as_secs_f64();
                st.cpu_percent = Some(((secs - before) / dt * 100.0).max(0.0));
            }
            self.samples.insert(main, (who, now, secs));
            seen.insert(main);
        }
        self.samples.retain(|k, _| seen.contains(k));
        self.procs.retain_trees(|root| walked.contains(&root));
        self.statm.retain(|pid, _| listed.contains(pid));
    }

    /// Resident bytes of `pids` together, through kept-open `statm` files;
    /// `None` when none could be read. Marks each pid `listed`.
    fn resident(&mut self, pids: &[i32], listed: &mut HashSet<i32>) -> Option<u64> {
        let mut total = None;
        for &pid in pids {
            listed.insert(pid);
            if let Some(pages) = self.statm_pages(pid) {
                total = Some(total.unwrap_or(0) + pages.saturating_mul(self.page));
            }
        }
        total
    }

    /// Resident pages of `pid` (the second field of `statm`). A kept file
    /// names the process it was opened on: once that one is gone its read
    /// fails, even if the pid is reused, and the pid is opened afresh.
    fn statm_pages(&mut self, pid: i32) -> Option<u64> {
        if let Some(f) = self.statm.get(&pid) {
            if let Some(v) = statm_read(f) {
                return Some(v);
            }
            self.statm.remove(&pid);
        }
        let f = File::open(format!("/proc/{pid}/statm")).ok()?;
        let v = statm_read(&f)?;
        if self.statm.len() < self.budget {
            self.statm.insert(pid, f);
        }
        Some(v)
    }
}

/// The second field of a `statm` file, re-read from its start.
fn statm_read(f: &File) -> Option<u64> {
    let mut buf = [0u8; 128];
    let n = f.read_at(&mut buf, 0).ok()?;
    procfs::parse_statm_resident(buf.get(..n)?)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::proto::JobStatus;
    use crate::job::{Goal, State};

    fn snap(me: i32, measure: bool) -> Snapshot {
        let mut s = crate::http::testdata::sample();
        s.jobs = vec![JobStatus::new(
            "me",
            "",
            Goal::Start,
            State::Running,
            Some(me),
        )];
        s.trees = if measure {
            vec![Measure {
                index: 0,
                group: None,
                roots: vec![me],
            }]
        } else {
            Vec::new()
        };
        s
    }

    #[test]
    fn a_walk_fills_memory_and_cpu_then_lets_go_of_what_it_kept() {
        let me = std::process::id() as i32;
        let mut m = Meters::new(64);
        let mut s = snap(me, true);
        m.fill(&mut s);
        let st = &s.jobs[0];
        assert!(st.memory_bytes.is_some_and(|b| b > 100_000), "{st:?}");
        assert!(st.cpu_seconds.is_some(), "{st:?}");
        assert_eq!(st.cpu_percent, None, "no percent from one sample");
        assert!(m.procs.open_fds() > 0, "the walk keeps its files open");
        let spin = Instant::now();
        while spin.elapsed() < MIN_WINDOW + Duration::from_millis(20) {
            std::hint::black_box(0u64);
        }
        let mut s = snap(me, true);
        m.fill(&mut s);
        assert!(s.jobs[0].cpu_percent.is_some(), "{:?}", s.jobs[0]);
        let mut s = snap(me, false);
        m.fill(&mut s);
        assert_eq!(m.procs.open_fds(), 0, "no instance measured: nothing kept");
        assert!(m.samples.is_empty());
    }
}
