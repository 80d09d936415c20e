//! The process table: which pid is which instance's process, and which
//! process groups an instance used. Bookkeeping only; it never signals or reads /proc.

use super::jobs::Key;
use crate::job::machine::Process;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// What a known pid is to its instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcKind {
    Job(Process),
    /// A `ready: {exec: ...}` probe run.
    Probe,
}

/// pid -> (instance, kind), and each instance's pids and process groups.
#[derive(Debug, Default)]
pub struct PidTable {
    owner: HashMap<i32, (Key, ProcKind)>,
    by_key: BTreeMap<Key, BTreeMap<i32, ProcKind>>,
    /// Process groups an instance used that may still hold processes.
    groups: BTreeMap<Key, BTreeSet<i32>>,
    /// Instances whose run ended while their cgroup still held processes:
    /// the group is removed once empty.
    closing: BTreeSet<Key>,
}

impl PidTable {
    /// `pid` is `key`'s process of this kind (replacing what it was).
    pub fn insert(&mut self, pid: i32, key: &Key, kind: ProcKind) {
        if let Some((old, _)) = self.owner.insert(pid, (key.clone(), kind))
            && old != *key
            && let Some(m) = self.by_key.get_mut(&old)
        {
            m.remove(&pid);
        }
        self.by_key
            .entry(key.clone())
            .or_default()
            .insert(pid, kind);
    }

    /// `pid` is gone (reaped, or seen exited): returns whose it was.
    pub fn remove(&mut self, pid: i32) -> Option<(Key, ProcKind)> {
        let (key, kind) = self.owner.remove(&pid)?;
        if let Some(m) = self.by_key.get_mut(&key) {
            m.remove(&pid);
            if m.is_empty() {
                self.by_key.remove(&key);
            }
        }
        Some((key, kind))
    }

    /// Whose process `pid` is.
    pub fn owner(&self, pid: i32) -> Option<&(Key, ProcKind)> {
        self.owner.get(&pid)
    }

    /// `key`'s live processes, by pid.
    pub fn of(&self, key: &Key) -> Vec<(i32, ProcKind)> {
        self.by_key
            .get(key)
            .map(|m| m.iter().map(|(p, k)| (*p, *k)).collect())
            .unwrap_or_default()
    }

    /// True when `key` has a live process gsup knows of.
    pub fn has_any(&self, key: &Key) -> bool {
        self.by_key.get(key).is_some_and(|m| !m.is_empty())
    }

    /// `key` used process group `pgid`.
    pub fn add_group(&mut self, key: &Key, pgid: i32) {
        self.groups.entry(key.clone()).or_default().insert(pgid);
    }

    /// The process groups `key` used that may still hold processes.
    pub fn groups(&self, key: &Key) -> Vec<i32> {
        self.groups
            .get(key)
            .map(|g| g.iter().copied().collect())
            .unwrap_or_default()
    }

    /// Group `pgid` of `key` is empty.
    pub fn drop_group(&mut self, key: &Key, pgid: i32) {
        if let Some(g) = self.groups.get_mut(key) {
            g.remove(&pgid);
            if g.is_empty() {
                self.groups.remove(key);
            }
        }
    }

    /// The instance's cgroup is to be removed once it is empty.
    pub fn close_later(&mut self, key: &Key) {
        self.closing.insert(key.clone());
    }

    /// The instances whose cgroup waits to be empty (taken).
    pub fn take_closing(&mut self) -> BTreeSet<Key> {
        std::mem::take(&mut self.closing)
    }

    /// The instance is forgotten: its pids and groups too.
    pub fn forget(&mut self, key: &Key) {
        for pid in self.by_key.remove(key).unwrap_or_default().into_keys() {
            self.owner.remove(&pid);
        }
        self.groups.remove(key);
    }

    /// How many pids are known.
    pub fn len(&self) -> usize {
        self.owner.len()
    }

    /// True when no pid is known.
    pub fn is_empty(&self) -> bool {
        self.owner.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(n: &str) -> Key {
        (n.to_string(), String::new())
    }

    #[test]
    fn pids_and_groups_by_instance() {
        let mut t = PidTable::default();
        t.insert(10, &k("a"), ProcKind::Job(Process::Main));
        t.insert(11, &k("a"), ProcKind::Probe);
        t.insert(20, &k("b"), ProcKind::Job(Process::Main));
        t.add_group(&k("a"), 10);
        assert_eq!(t.of(&k("a")).len(), 2);
        assert_eq!(t.remove(11), Some((k("a"), ProcKind::Probe)));
        assert_eq!(t.remove(11), None);
        assert!(t.has_any(&k("a")));
        // A pid moving to another instance leaves the first.
        t.insert(10, &k("b"), ProcKind::Job(Process::Main));
        assert!(!t.has_any(&k("a")));
        assert_eq!(t.groups(&k("a")), vec![10]);
        t.drop_group(&k("a"), 10);
        assert!(t.groups(&k("a")).is_empty());
        t.forget(&k("b"));
        assert!(t.is_empty());
        assert_eq!(t.owner(20), None);
    }
}
