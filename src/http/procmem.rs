//! The resident memory of main processes the loop left unmeasured, read
//! off the loop from `/proc/PID/statm` (as `gsup status` reads it). Reads
//! only; keeps at most `budget` descriptors open.
//!
//! A descriptor is kept open between snapshots and re-read with `pread`:
//! one syscall per job instead of open, read, read and close, which made
//! most of a 1000-job snapshot's cost (docs/http.md). A kept descriptor
//! names the process it was opened on; once that process is gone its reads
//! fail even if the pid is reused, and the pid is opened afresh.

use crate::control::proto::JobStatus;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::FileExt;

/// Kept-open `/proc/PID/statm` descriptors by pid.
#[derive(Debug)]
pub struct StatmCache {
    files: HashMap<i32, File>,
    /// Set at the first fill, after the daemon has raised its own limit.
    budget: Option<usize>,
    page: u64,
}

impl StatmCache {
    /// A cache keeping at most `budget` descriptors open; `None`: a quarter
    /// of the soft `RLIMIT_NOFILE` at the first fill, at most 4096.
    pub fn new(budget: Option<usize>) -> StatmCache {
        StatmCache {
            files: HashMap::new(),
            budget,
            page: crate::procfs::page_bytes(),
        }
    }

    /// Sets `memory_bytes` of every job with a main process and no figure
    /// yet; closes the descriptors of pids no job names any more.
    pub fn fill(&mut self, jobs: &mut [JobStatus]) {
        let live: HashSet<i32> = jobs.iter().filter_map(|j| j.pid).collect();
        self.files.retain(|pid, _| live.contains(pid));
        for j in jobs.iter_mut().filter(|j| j.memory_bytes.is_none()) {
            if let Some(pid) = j.pid {
                j.memory_bytes = self.rss(pid);
            }
        }
    }

    fn rss(&mut self, pid: i32) -> Option<u64> {
        if let Some(f) = self.files.get(&pid) {
            if let Some(v) = self.read(f) {
                return Some(v);
            }
            self.files.remove(&pid);
        }
        let f = File::open(format!("/proc/{pid}/statm")).ok()?;
        let v = self.read(&f)?;
        if self.files.len() < *self.budget.get_or_insert_with(default_budget) {
            self.files.insert(pid, f);
        }
        Some(v)
    }

    /// Resident pages (the second field) times the page size.
    fn read(&self, f: &File) -> Option<u64> {
        let mut buf = [0u8; 128];
        let n = f.read_at(&mut buf, 0).ok()?;
        let text = std::str::from_utf8(buf.get(..n)?).ok()?;
        let pages: u64 = text.split_whitespace().nth(1)?.parse().ok()?;
        Some(pages.saturating_mul(self.page))
    }
}

/// A quarter of the soft `RLIMIT_NOFILE`, at most 4096.
fn default_budget() -> usize {
    use nix::sys::resource::{Resource, getrlimit};
    getrlimit(Resource::RLIMIT_NOFILE)
        .map_or(0, |(soft, _)| usize::try_from(soft / 4).unwrap_or(0))
        .min(4096)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{Goal, State};

    #[test]
    fn fills_only_what_is_missing_and_forgets_gone_pids() {
        let me = std::process::id() as i32;
        let mut jobs = vec![
            JobStatus::new("me", "", Goal::Start, State::Running, Some(me)),
            JobStatus::new("measured", "", Goal::Start, State::Running, Some(me)),
            JobStatus::new("stopped", "", Goal::Stop, State::Waiting, None),
        ];
        jobs[1].memory_bytes = Some(7);
        let mut c = StatmCache::new(Some(10));
        c.fill(&mut jobs);
        assert!(
            jobs[0].memory_bytes.is_some_and(|b| b > 100_000),
            "{jobs:?}"
        );
        assert_eq!(
            jobs[1].memory_bytes,
            Some(7),
            "a figure the loop gave is kept"
        );
        assert_eq!(jobs[2].memory_bytes, None);
        assert_eq!(c.files.len(), 1);
        jobs[0].memory_bytes = None;
        c.fill(&mut jobs);
        assert!(
            jobs[0].memory_bytes.is_some(),
            "read again through the kept descriptor"
        );
        c.fill(&mut jobs[2..]);
        assert_eq!(c.files.len(), 0, "no job names the pid: closed");
    }

    #[test]
    fn a_dead_process_has_no_figure_and_keeps_no_descriptor() {
        let mut child = std::process::Command::new("true").spawn().expect("spawn");
        let pid = child.id() as i32;
        child.wait().expect("wait");
        let mut jobs = vec![JobStatus::new(
            "gone",
            "",
            Goal::Start,
            State::Running,
            Some(pid),
        )];
        let mut c = StatmCache::new(Some(0));
        c.fill(&mut jobs);
        assert_eq!(jobs[0].memory_bytes, None);
        assert_eq!(c.files.len(), 0);
    }
}
