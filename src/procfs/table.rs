//! An in-memory process table: the fake `/proc` of the pidfile and
//! watchdog tests. Holds what it is given; reads nothing, signals nothing.

use super::{Proc, ProcSource};
use std::collections::BTreeMap;

/// Processes by pid, each with its uid and cgroup.
#[derive(Debug, Clone, Default)]
pub struct ProcTable {
    procs: BTreeMap<i32, (Proc, u32, Option<String>)>,
    /// Children lists that differ from what the `ppid`s say (a kernel's
    /// list read while a pid was recycled).
    children: BTreeMap<i32, Vec<i32>>,
}

impl ProcTable {
    /// A table with no process.
    pub const EMPTY: ProcTable = ProcTable {
        procs: BTreeMap::new(),
        children: BTreeMap::new(),
    };

    /// An empty table.
    pub fn new() -> Self {
        ProcTable::default()
    }

    /// Adds or replaces one process, running as `uid`.
    pub fn insert(&mut self, p: Proc, uid: u32) {
        self.procs.insert(p.pid, (p, uid, None));
    }

    /// Puts `pid` in a cgroup.
    pub fn set_cgroup(&mut self, pid: i32, path: &str) {
        if let Some(entry) = self.procs.get_mut(&pid) {
            entry.2 = Some(path.to_string());
        }
    }

    /// Makes `children(pid)` answer `list` whatever the `ppid`s say.
    pub fn set_children(&mut self, pid: i32, list: Vec<i32>) {
        self.children.insert(pid, list);
    }

    /// Removes one process (it was reaped).
    pub fn remove(&mut self, pid: i32) {
        self.procs.remove(&pid);
    }

    /// Every process in the table, by pid.
    pub fn iter(&self) -> impl Iterator<Item = &Proc> {
        self.procs.values().map(|(p, _, _)| p)
    }
}

impl ProcSource for ProcTable {
    fn stat(&self, pid: i32) -> Option<Proc> {
        self.procs.get(&pid).map(|(p, _, _)| *p)
    }

    fn children(&self, pid: i32, _threads: u64) -> Vec<i32> {
        if let Some(list) = self.children.get(&pid) {
            return list.clone();
        }
        self.iter()
            .filter(|p| p.ppid == pid && p.pid != pid)
            .map(|p| p.pid)
            .collect()
    }

    fn uid(&self, pid: i32) -> Option<u32> {
        self.procs.get(&pid).map(|(_, uid, _)| *uid)
    }

    fn cgroup(&self, pid: i32) -> Option<String> {
        self.procs.get(&pid).and_then(|(_, _, c)| c.clone())
    }
}
