//! The process table as the pidfile logic sees it: a small `ProcSource` seam,
//! `/proc` behind it, and an in-memory table for tests. It never signals or waits.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What the proof of belonging needs to know about one process.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcInfo {
    pub pid: i32,
    pub ppid: i32,
    /// Process group id (`/proc/PID/stat` field 5).
    pub pgid: i32,
    /// Session id (field 6).
    pub sid: i32,
    /// State letter (field 3): `Z` zombie, `X` dead, others alive.
    pub state: char,
    /// Start time in clock ticks after boot (field 22): with the pid, the
    /// identity of a process that survives pid recycling.
    pub start_time: u64,
    /// Real uid (`Uid:` line of `/proc/PID/status`, first value).
    pub uid: u32,
    /// The cgroup v2 path (`0::PATH` line of `/proc/PID/cgroup`), when known.
    pub cgroup: Option<String>,
}

impl ProcInfo {
    /// True for a process that has exited (zombie or dead) but is not reaped.
    pub fn is_exited(&self) -> bool {
        matches!(self.state, 'Z' | 'X' | 'x')
    }
}

/// Reads processes. The seam that lets `verify`, `descendants` and the tree
/// record run against a fake table in tests.
pub trait ProcSource {
    /// The process with this pid, or `None` when there is none.
    fn info(&self, pid: i32) -> Option<ProcInfo>;
    /// The pids whose parent is `pid`.
    fn children(&self, pid: i32) -> Vec<i32>;
}

/// An in-memory process table: tests build one by hand; [`ProcTable::scan`]
/// takes a snapshot of `/proc` when many lookups are needed at once.
#[derive(Debug, Clone, Default)]
pub struct ProcTable {
    procs: BTreeMap<i32, ProcInfo>,
}

impl ProcTable {
    /// An empty table.
    pub fn new() -> Self {
        ProcTable::default()
    }

    /// Adds or replaces one process.
    pub fn insert(&mut self, info: ProcInfo) {
        self.procs.insert(info.pid, info);
    }

    /// Removes one process (it was reaped).
    pub fn remove(&mut self, pid: i32) {
        self.procs.remove(&pid);
    }

    /// Every process in the table, by pid.
    pub fn iter(&self) -> impl Iterator<Item = &ProcInfo> {
        self.procs.values()
    }

    /// Snapshot of every process under `proc_root` (normally `/proc`).
    /// Processes that vanish while scanning are skipped.
    pub fn scan(proc_root: &Path) -> std::io::Result<ProcTable> {
        let src = RealProc::at(proc_root);
        let mut table = ProcTable::new();
        for entry in std::fs::read_dir(proc_root)? {
            let Ok(entry) = entry else { continue };
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<i32>().ok())
            else {
                continue;
            };
            if let Some(info) = src.info(pid) {
                table.insert(info);
            }
        }
        Ok(table)
    }
}

impl ProcSource for ProcTable {
    fn info(&self, pid: i32) -> Option<ProcInfo> {
        self.procs.get(&pid).cloned()
    }

    fn children(&self, pid: i32) -> Vec<i32> {
        self.procs
            .values()
            .filter(|p| p.ppid == pid && p.pid != pid)
            .map(|p| p.pid)
            .collect()
    }
}

/// The real `/proc` (or a `/proc` mounted elsewhere), read on each call.
#[derive(Debug, Clone)]
pub struct RealProc {
    root: PathBuf,
}

impl Default for RealProc {
    fn default() -> Self {
        RealProc::at(Path::new("/proc"))
    }
}

impl RealProc {
    /// `/proc` at `root`.
    pub fn at(root: &Path) -> Self {
        RealProc {
            root: root.to_path_buf(),
        }
    }

    /// Only the start time (`/proc/PID/stat` field 22): one small read, for
    /// the tree record at every spawn, where `info`'s three files would cost
    /// a cold start of a thousand jobs tens of milliseconds.
    pub fn start_time(&self, pid: i32) -> Option<u64> {
        if pid <= 0 {
            return None;
        }
        let stat = std::fs::read(self.root.join(pid.to_string()).join("stat")).ok()?;
        parse_stat(&stat).map(|i| i.start_time)
    }
}

impl ProcSource for RealProc {
    fn info(&self, pid: i32) -> Option<ProcInfo> {
        if pid <= 0 {
            return None;
        }
        let dir = self.root.join(pid.to_string());
        let stat = std::fs::read(dir.join("stat")).ok()?;
        let status = std::fs::read_to_string(dir.join("status")).ok()?;
        let cgroup = std::fs::read_to_string(dir.join("cgroup")).ok();
        let mut info = parse_stat(&stat)?;
        info.uid = parse_status_uid(&status)?;
        info.cgroup = cgroup.as_deref().and_then(parse_cgroup_v2);
        Some(info)
    }

    /// Uses `/proc/PID/task/*/children` when the kernel has it
    /// (`CONFIG_PROC_CHILDREN`); else scans every process for its parent.
    fn children(&self, pid: i32) -> Vec<i32> {
        let tasks = self.root.join(pid.to_string()).join("task");
        let mut out = Vec::new();
        let mut have_children_file = false;
        if let Ok(rd) = std::fs::read_dir(&tasks) {
            for t in rd.flatten() {
                if let Ok(text) = std::fs::read_to_string(t.path().join("children")) {
                    have_children_file = true;
                    out.extend(
                        text.split_ascii_whitespace()
                            .filter_map(|w| w.parse::<i32>().ok()),
                    );
                }
            }
        }
        if have_children_file {
            out.sort_unstable();
            out.dedup();
            return out;
        }
        match ProcTable::scan(&self.root) {
            Ok(table) => table.children(pid),
            Err(_) => Vec::new(),
        }
    }
}

/// Parses `/proc/PID/stat` (`crate::procfs`) into what the pidfile checks use;
/// `uid` and `cgroup` come from other files and are left empty here.
pub fn parse_stat(bytes: &[u8]) -> Option<ProcInfo> {
    let s = crate::procfs::parse_stat(bytes)?;
    Some(ProcInfo {
        pid: s.pid,
        ppid: s.ppid,
        pgid: s.pgrp,
        sid: s.session,
        state: s.state,
        start_time: s.start_ticks,
        uid: 0,
        cgroup: None,
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
