//! Who gets a connection to the control socket, and how many answers each
//! user may have in flight: per-uid counts for the server, so that no local
//! user can crowd out another. It counts; it never reads or writes a socket.
//!
//! Root and the daemon's own user ("privileged") have their own pool of
//! connections, which nobody else's connections can use up. Every other uid
//! has a few connections of its own within a shared pool, and a few answers
//! in flight (from its request read to the last byte of the answer written),
//! so the memory its answers hold is bounded however slowly it reads.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The server's limits; [`Limits::default`] holds the daemon's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Connections of one unprivileged uid at once.
    pub per_uid: usize,
    /// Connections of all unprivileged uids together.
    pub unprivileged: usize,
    /// Connections of root and the daemon's user together: their reserve.
    pub privileged: usize,
    /// Answers in flight for one unprivileged uid.
    pub answers_per_uid: usize,
    /// Answers in flight for all unprivileged uids together.
    pub answers_unprivileged: usize,
    /// Time from the connection to the request's last byte.
    pub request_deadline: Duration,
    /// Time to write the whole answer; a reader slower than that is dropped.
    pub answer_deadline: Duration,
}

impl Default for Limits {
    /// 32 connections and 4 answers in flight per unprivileged uid, 256 and
    /// 16 for all of them, a reserve of 1024 connections for root and the
    /// daemon's user (a script may wait on hundreds of `start`s at once);
    /// 2 s to send a request, 5 s to read an answer. A `list` of 10,000
    /// jobs is 2.2 MB: 16 unread ones hold 35 MB at most.
    fn default() -> Self {
        Limits {
            per_uid: 32,
            unprivileged: 256,
            privileged: 1024,
            answers_per_uid: 4,
            answers_unprivileged: 16,
            request_deadline: Duration::from_secs(2),
            answer_deadline: Duration::from_secs(5),
        }
    }
}

/// Why a connection was turned away; `Display` is the one line its peer
/// is sent and the daemon logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// This uid holds `limit` connections already.
    Uid { uid: u32, limit: usize },
    /// All unprivileged uids together hold `limit`.
    Unprivileged { limit: usize },
    /// Root and the daemon's user together hold `limit`.
    Privileged { limit: usize },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::Uid { uid, limit } => write!(
                f,
                "too many connections of uid {uid} (at most {limit} at once)"
            ),
            Refusal::Unprivileged { limit } => write!(
                f,
                "too many connections of unprivileged users (at most {limit} at once)"
            ),
            Refusal::Privileged { limit } => write!(
                f,
                "too many connections of root and the daemon's user (at most {limit} at once)"
            ),
        }
    }
}

/// The counts of connections and answers, shared by the server's tasks.
#[derive(Debug, Clone)]
pub struct Admission {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    limits: Limits,
    daemon_uid: u32,
    table: Mutex<Table>,
    throttle: Mutex<Throttle>,
    /// Answers in flight of all unprivileged uids.
    answers: Arc<Semaphore>,
}

#[derive(Debug, Default)]
struct Table {
    /// Unprivileged uids with a connection open.
    uids: HashMap<u32, Entry>,
    unprivileged: usize,
    privileged: usize,
}

#[derive(Debug)]
struct Entry {
    connections: usize,
    /// This uid's answers in flight.
    answers: Arc<Semaphore>,
}

/// One admitted connection; its counts go back when it is dropped.
#[derive(Debug)]
pub struct Ticket {
    shared: Arc<Shared>,
    uid: u32,
    /// `None` for root and the daemon's user: no limit on their answers.
    answers: Option<Arc<Semaphore>>,
}

/// The right to have one answer in flight; given back when dropped.
#[derive(Debug)]
pub struct AnswerSlot {
    _permits: Option<(OwnedSemaphorePermit, OwnedSemaphorePermit)>,
}

impl Admission {
    /// Empty counts; `daemon_uid` shares root's reserve.
    pub fn new(limits: Limits, daemon_uid: u32) -> Admission {
        Admission {
            shared: Arc::new(Shared {
                limits,
                daemon_uid,
                table: Mutex::new(Table::default()),
                throttle: Mutex::new(Throttle::new(NOTE_INTERVAL)),
                answers: Arc::new(Semaphore::new(limits.answers_unprivileged)),
            }),
        }
    }

    /// The limits in force.
    pub fn limits(&self) -> Limits {
        self.shared.limits
    }

    /// Counts a new connection of `uid`, or says why there is no room.
    pub fn admit(&self, uid: u32) -> Result<Ticket, Refusal> {
        let s = &self.shared;
        let mut t = lock(&s.table);
        if uid == 0 || uid == s.daemon_uid {
            if t.privileged >= s.limits.privileged {
                return Err(Refusal::Privileged {
                    limit: s.limits.privileged,
                });
            }
            t.privileged += 1;
            return Ok(Ticket {
                shared: s.clone(),
                uid,
                answers: None,
            });
        }
        let held = t.uids.get(&uid).map_or(0, |e| e.connections);
        if held >= s.limits.per_uid {
            return Err(Refusal::Uid {
                uid,
                limit: s.limits.per_uid,
            });
        }
        if t.unprivileged >= s.limits.unprivileged {
            return Err(Refusal::Unprivileged {
                limit: s.limits.unprivileged,
            });
        }
        t.unprivileged += 1;
        let answers_per_uid = s.limits.answers_per_uid;
        let entry = t.uids.entry(uid).or_insert_with(|| Entry {
            connections: 0,
            answers: Arc::new(Semaphore::new(answers_per_uid)),
        });
        entry.connections += 1;
        Ok(Ticket {
            shared: s.clone(),
            uid,
            answers: Some(entry.answers.clone()),
        })
    }

    /// Whether to log a refusal or bad request of `uid` now: `Some(n)`, `n`
    /// being how many of its earlier ones were not logged ([`Throttle`]).
    pub fn note(&self, uid: u32, now: Instant) -> Option<u64> {
        let mut t = self
            .shared
            .throttle
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        t.check(uid, now)
    }

    /// Connections open now: (privileged, unprivileged, uids among them).
    pub fn open(&self) -> (usize, usize, usize) {
        let t = lock(&self.shared.table);
        (t.privileged, t.unprivileged, t.uids.len())
    }
}

impl Ticket {
    /// Waits for room for one more answer of this connection's uid (at once
    /// for root and the daemon's user).
    pub async fn answer_slot(&self) -> AnswerSlot {
        let Some(own) = &self.answers else {
            return AnswerSlot { _permits: None };
        };
        // The semaphores are never closed: acquiring fails only if they were.
        let permits = match own.clone().acquire_owned().await {
            Ok(mine) => match self.shared.answers.clone().acquire_owned().await {
                Ok(all) => Some((mine, all)),
                Err(_) => None,
            },
            Err(_) => None,
        };
        AnswerSlot { _permits: permits }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let s = &self.shared;
        let mut t = lock(&s.table);
        if self.answers.is_none() {
            t.privileged = t.privileged.saturating_sub(1);
            return;
        }
        t.unprivileged = t.unprivileged.saturating_sub(1);
        if let Some(e) = t.uids.get_mut(&self.uid) {
            e.connections = e.connections.saturating_sub(1);
            if e.connections == 0 {
                t.uids.remove(&self.uid);
            }
        }
    }
}

/// How often one uid's refusals and bad requests reach the daemon's log.
pub const NOTE_INTERVAL: Duration = Duration::from_secs(10);

/// At most this many uids are remembered by the [`Throttle`].
const THROTTLE_UIDS: usize = 1024;

/// One line per uid per interval: a uid's first refusal is logged at once,
/// the next ones are counted, and the first after the interval is logged
/// with that count. A flood of one user costs a line per interval; the
/// daemon log's own limit (per call site) bounds the lines of many users.
#[derive(Debug)]
pub struct Throttle {
    interval: Duration,
    /// Per uid: when its last line was logged, and how many were not since.
    uids: HashMap<u32, (Instant, u64)>,
}

impl Throttle {
    /// Remembers nothing yet.
    pub fn new(interval: Duration) -> Throttle {
        Throttle {
            interval,
            uids: HashMap::new(),
        }
    }

    /// `Some(n)`: log this event of `uid` at `now`, with the `n` not logged
    /// since its last line; `None`: only count it.
    pub fn check(&mut self, uid: u32, now: Instant) -> Option<u64> {
        let interval = self.interval;
        if let Some((last, skipped)) = self.uids.get_mut(&uid) {
            if now.duration_since(*last) < interval {
                *skipped += 1;
                return None;
            }
            let n = std::mem::take(skipped);
            *last = now;
            return Some(n);
        }
        if self.uids.len() >= THROTTLE_UIDS {
            self.uids
                .retain(|_, (last, _)| now.duration_since(*last) < interval);
        }
        if self.uids.len() < THROTTLE_UIDS {
            self.uids.insert(uid, (now, 0));
        }
        Some(0)
    }
}

fn lock(m: &Mutex<Table>) -> MutexGuard<'_, Table> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> Limits {
        Limits {
            per_uid: 2,
            unprivileged: 3,
            privileged: 2,
            answers_per_uid: 1,
            answers_unprivileged: 2,
            ..Limits::default()
        }
    }

    #[test]
    fn each_uid_has_its_share_and_root_its_reserve() {
        let a = Admission::new(small(), 1000);
        let n1 = a.admit(65534).expect("first");
        let _n2 = a.admit(65534).expect("second");
        assert_eq!(
            a.admit(65534).expect_err("third"),
            Refusal::Uid {
                uid: 65534,
                limit: 2
            }
        );
        let _o = a.admit(33).expect("another user has room");
        assert_eq!(
            a.admit(34).expect_err("the pool is full"),
            Refusal::Unprivileged { limit: 3 }
        );
        // Root and the daemon's user never compete with them.
        let _r = a.admit(0).expect("root");
        let _d = a.admit(1000).expect("the daemon's user");
        assert_eq!(
            a.admit(0).expect_err("reserve used up"),
            Refusal::Privileged { limit: 2 }
        );
        assert_eq!(a.open(), (2, 3, 2));
        drop(n1);
        assert_eq!(a.open(), (2, 2, 2));
        a.admit(65534).expect("room again");
    }

    #[test]
    fn counts_go_back_and_uids_are_forgotten() {
        let a = Admission::new(small(), 0);
        let tickets: Vec<Ticket> = [5, 6, 6]
            .iter()
            .map(|&u| a.admit(u).expect("room"))
            .collect();
        assert_eq!(a.open(), (0, 3, 2));
        drop(tickets);
        assert_eq!(a.open(), (0, 0, 0));
    }

    #[test]
    fn a_flood_of_one_uid_is_one_line_per_interval() {
        let mut t = Throttle::new(Duration::from_secs(10));
        let t0 = Instant::now();
        assert_eq!(t.check(7, t0), Some(0));
        let logged = (1..=1000u64)
            .filter(|&i| t.check(7, t0 + Duration::from_millis(i)).is_some())
            .count();
        assert_eq!(logged, 0);
        assert_eq!(t.check(8, t0), Some(0), "another uid has its own line");
        assert_eq!(t.check(7, t0 + Duration::from_secs(10)), Some(1000));
        assert_eq!(t.check(7, t0 + Duration::from_secs(11)), None);
        // The table stays bounded: old uids make room.
        let later = t0 + Duration::from_secs(100);
        for uid in 0..(THROTTLE_UIDS as u32 * 3) {
            assert_eq!(t.check(1000 + uid, later), Some(0));
            assert!(t.uids.len() <= THROTTLE_UIDS);
        }
    }

    #[test]
    fn answers_in_flight_are_bounded_per_uid_and_in_all() {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async {
            let limits = Limits {
                unprivileged: 8,
                ..small()
            };
            let a = Admission::new(limits, 0);
            let (t1, t2, t3) = (
                a.admit(7).expect("room"),
                a.admit(7).expect("room"),
                a.admit(8).expect("room"),
            );
            let s1 = t1.answer_slot().await;
            let soon = Duration::from_millis(20);
            assert!(
                tokio::time::timeout(soon, t2.answer_slot()).await.is_err(),
                "uid 7 has one answer in flight already"
            );
            let _s3 = t3.answer_slot().await;
            let t4 = a.admit(9).expect("room");
            assert!(
                tokio::time::timeout(soon, t4.answer_slot()).await.is_err(),
                "two unprivileged answers in flight in all"
            );
            drop(s1);
            let _s2 = t2.answer_slot().await;
            // Root's answers are not counted.
            let root = a.admit(0).expect("root");
            let mut held = Vec::new();
            for _ in 0..10 {
                held.push(root.answer_slot().await);
            }
        });
    }
}
