//! Reading one watched process tree from /proc: `/proc/PID/stat` of the main process and
//! of each descendant found through `/proc/PID/task/TID/children`. Never scans all of
//! /proc, never reads a process outside a watched tree, never signals anything.

use super::sample::{MeasureError, ProcStat, Sampler, TreeSample};
use std::collections::HashSet;
use std::fs::File;
use std::io::Read;
use std::time::Duration;

/// A tree larger than this is cut off (a fork bomb must not make a cycle unbounded).
pub const MAX_TREE: usize = 100_000;

/// Reads process trees; holds the page size and clock-tick rate read once from sysconf.
#[derive(Debug, Clone)]
pub struct ProcReader {
    page_size: u64,
    hz: u64,
}

impl Default for ProcReader {
    fn default() -> Self {
        ProcReader::new()
    }
}

/// Bytes per memory page (4096 if the kernel will not say).
pub fn page_bytes() -> u64 {
    sysconf(libc::_SC_PAGESIZE, 4096)
}

fn sysconf(name: libc::c_int, fallback: u64) -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let v = unsafe { libc::sysconf(name) };
    u64::try_from(v).ok().filter(|&v| v > 0).unwrap_or(fallback)
}

/// `CLOCK_BOOTTIME`, the clock `/proc/PID/stat`'s start time counts on.
pub fn boot_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(ts.tv_nsec).unwrap_or(0);
    Duration::new(secs, nanos)
}

/// Parses the bytes of `/proc/PID/stat` (`crate::procfs`); `page_size` converts the
/// rss field to bytes.
pub fn parse_stat(bytes: &[u8], page_size: u64) -> Option<ProcStat> {
    let s = crate::procfs::parse_stat(bytes)?;
    Some(ProcStat {
        pid: s.pid,
        state: s.state,
        ppid: s.ppid,
        pgrp: s.pgrp,
        cpu_ticks: s.cpu_ticks,
        threads: s.threads,
        start_ticks: s.start_ticks,
        rss_bytes: s.rss_pages.saturating_mul(page_size),
    })
}

fn read_to(path: &str, buf: &mut String) -> std::io::Result<()> {
    buf.clear();
    File::open(path)?.read_to_string(buf)?;
    Ok(())
}

impl ProcReader {
    /// Reads the page size and tick rate (falling back to 4096 and 100).
    pub fn new() -> ProcReader {
        ProcReader {
            page_size: page_bytes(),
            hz: sysconf(libc::_SC_CLK_TCK, 100),
        }
    }

    /// Clock ticks per second.
    pub fn hz(&self) -> u64 {
        self.hz
    }

    /// Bytes per page (the unit of the rss field).
    pub fn page_size(&self) -> u64 {
        self.page_size
    }

    /// One process's stat, or None when it is gone.
    pub fn stat(&self, pid: i32) -> Option<ProcStat> {
        let mut buf = String::with_capacity(512);
        self.stat_into(pid, &mut buf)
    }

    fn stat_into(&self, pid: i32, buf: &mut String) -> Option<ProcStat> {
        read_to(&format!("/proc/{pid}/stat"), buf).ok()?;
        parse_stat(buf.as_bytes(), self.page_size)
    }

    /// Direct children of `pid`: the union of `/proc/PID/task/TID/children` over its
    /// threads (a child belongs to the thread that forked it). A single-threaded process
    /// needs one read. The kernel documents this list as exact only for a stopped
    /// tree: a child forked or reparented during the read may be missed this cycle.
    pub fn direct_children(&self, pid: i32, threads: u64, buf: &mut String) -> Vec<i32> {
        let mut out = Vec::new();
        let mut read_one = |tid: &str, buf: &mut String| {
            if read_to(&format!("/proc/{pid}/task/{tid}/children"), buf).is_ok() {
                out.extend(
                    buf.split_ascii_whitespace()
                        .filter_map(|w| w.parse::<i32>().ok()),
                );
            }
        };
        if threads <= 1 {
            read_one(&pid.to_string(), buf);
        } else if let Ok(dir) = std::fs::read_dir(format!("/proc/{pid}/task")) {
            for entry in dir.flatten() {
                if let Some(tid) = entry.file_name().to_str() {
                    read_one(tid, buf);
                }
            }
        }
        out
    }

    /// Measures `main_pid` and all its descendants. Fails only when the main process
    /// cannot be read; a descendant that exits during the walk is left out.
    pub fn sample_tree(&self, main_pid: i32) -> Result<TreeSample, MeasureError> {
        let mut buf = String::with_capacity(512);
        let root = self.stat_into(main_pid, &mut buf).ok_or(MeasureError {
            pid: main_pid,
            message: "no such process".into(),
        })?;
        let mut procs = vec![root];
        let mut seen: HashSet<i32> = HashSet::from([main_pid]);
        let mut i = 0;
        while i < procs.len() && procs.len() < MAX_TREE {
            let (pid, threads) = (procs[i].pid, procs[i].threads);
            for child in self.direct_children(pid, threads, &mut buf) {
                if !seen.insert(child) {
                    continue;
                }
                // Only a process whose parent is still this one is taken (a pid that
                // exited and was recycled meanwhile is not ours).
                if let Some(st) = self.stat_into(child, &mut buf).filter(|s| s.ppid == pid) {
                    procs.push(st);
                }
            }
            i += 1;
        }
        Ok(TreeSample::new(main_pid, procs, boot_time(), self.hz))
    }

    /// Pids of the descendants of `pid` (not `pid` itself), breadth-first. Named apart
    /// from the pidfile module's helper; the two are to be merged at integration.
    pub fn tree_descendants(&self, pid: i32) -> Vec<i32> {
        match self.sample_tree(pid) {
            Ok(s) => s.procs.iter().skip(1).map(|p| p.pid).collect(),
            Err(_) => Vec::new(),
        }
    }

    /// Whether `pid` is still the process that started at `start_ticks` and has not
    /// exited (a zombie or a recycled pid is not alive for a kill).
    pub fn alive_as(&self, pid: i32, start_ticks: u64) -> bool {
        self.stat(pid)
            .is_some_and(|s| s.start_ticks == start_ticks && !s.is_zombie())
    }
}

impl Sampler for ProcReader {
    fn sample(&mut self, main_pid: i32) -> Result<TreeSample, MeasureError> {
        self.sample_tree(main_pid)
    }
}

/// Measures `main_pid` and its descendants with a fresh reader (see `ProcReader`).
pub fn sample_tree(main_pid: i32) -> Result<TreeSample, MeasureError> {
    ProcReader::new().sample_tree(main_pid)
}

/// Descendants of `pid`, breadth-first (see `ProcReader::tree_descendants`).
pub fn tree_descendants(pid: i32) -> Vec<i32> {
    ProcReader::new().tree_descendants(pid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_spaces_and_parens_in_the_name() {
        let text = "4242 (ruby (a) b) S 1 4242 4242 0 -1 4194560 100 0 0 0 \
                    150 50 0 0 20 0 3 0 123456 100000000 2560 18446744073709551615";
        let s = parse_stat(text.as_bytes(), 4096).expect("parses");
        assert_eq!(
            s,
            ProcStat {
                pid: 4242,
                ppid: 1,
                pgrp: 4242,
                state: 'S',
                cpu_ticks: 200,
                rss_bytes: 2560 * 4096,
                start_ticks: 123456,
                threads: 3,
            }
        );
        assert_eq!(parse_stat(b"12 (x) S 1", 4096), None);
        assert_eq!(parse_stat(b"", 4096), None);
    }

    #[test]
    fn reads_own_process() {
        let r = ProcReader::new();
        let me = i32::try_from(std::process::id()).expect("pid");
        let s = r.sample_tree(me).expect("self");
        assert_eq!(s.root, me);
        assert_eq!(s.procs[0].pid, me);
        assert!(s.procs[0].rss_bytes > 0);
        assert!(r.alive_as(me, s.procs[0].start_ticks));
        assert!(!r.alive_as(me, s.procs[0].start_ticks + 1));
    }
}
