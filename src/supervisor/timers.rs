//! The deadline queue: every armed timer of every job, ordered by deadline.
//! It never sleeps and never reads the clock; the loop asks for the next deadline.

use super::jobs::Key;
use crate::job::machine::Timer;
use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;
use std::time::Instant;

/// Every timer the supervisor arms, each named by what it is for.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TimerKey {
    /// One of the job machine's own timers.
    Job(Key, Timer),
    /// The next try of an instance's `ready: {exec: ...}` probe.
    ProbeRetry(Key),
    /// `pidfile_grace` passed with no live main process.
    PidfileGrace(Key),
    /// SIGKILL deadline of a watchdog `kill` of this child pid.
    ChildKill(Key, i32),
    /// The config dir changed: reload once it has been quiet for a moment.
    ConfigReload,
    /// A spawn put off by a shortage (descriptors, memory, processes).
    SpawnRetry(Key, crate::job::Process),
    /// The current shutdown wave took too long.
    ShutdownWave,
}

/// Armed timers keyed by `K`; arming a key again replaces its deadline. The
/// loop sleeps until `next()` only when there is one: an idle daemon never wakes.
#[derive(Debug)]
pub struct Timers<K: Clone + Eq + Hash> {
    by_deadline: BTreeMap<(Instant, u64), K>,
    by_key: HashMap<K, (Instant, u64)>,
    seq: u64,
}

impl<K: Clone + Eq + Hash> Default for Timers<K> {
    fn default() -> Self {
        Timers {
            by_deadline: BTreeMap::new(),
            by_key: HashMap::new(),
            seq: 0,
        }
    }
}

impl<K: Clone + Eq + Hash> Timers<K> {
    /// Arms (or re-arms) `key` for `at`.
    pub fn set(&mut self, key: K, at: Instant) {
        self.cancel(&key);
        self.seq += 1;
        self.by_deadline.insert((at, self.seq), key.clone());
        self.by_key.insert(key, (at, self.seq));
    }

    /// Disarms `key`; a no-op when it is not armed.
    pub fn cancel(&mut self, key: &K) {
        if let Some(slot) = self.by_key.remove(key) {
            self.by_deadline.remove(&slot);
        }
    }

    /// The earliest deadline, if any timer is armed.
    pub fn next(&self) -> Option<Instant> {
        self.by_deadline.keys().next().map(|(t, _)| *t)
    }

    /// Removes and returns every timer due at `now`, earliest first.
    pub fn expire(&mut self, now: Instant) -> Vec<K> {
        let mut due = Vec::new();
        while let Some(entry) = self.by_deadline.first_entry() {
            if entry.key().0 > now {
                break;
            }
            let key = entry.remove();
            self.by_key.remove(&key);
            due.push(key);
        }
        due
    }

    /// How many timers are armed.
    pub fn len(&self) -> usize {
        self.by_key.len()
    }

    /// True when no timer is armed.
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn expires_in_order_and_rearm_replaces() {
        let t0 = Instant::now();
        let mut t = Timers::default();
        t.set("a", t0 + Duration::from_secs(2));
        t.set("b", t0 + Duration::from_secs(1));
        t.set("a", t0 + Duration::from_secs(3));
        assert_eq!(t.len(), 2);
        assert_eq!(t.next(), Some(t0 + Duration::from_secs(1)));
        assert_eq!(t.expire(t0 + Duration::from_secs(2)), vec!["b"]);
        t.cancel(&"a");
        assert!(t.is_empty());
        assert_eq!(t.next(), None);
    }
}
