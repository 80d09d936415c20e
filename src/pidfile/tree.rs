//! The record of which job owns which process, including orphans re-parented
//! to gsup (rule (d) of belonging). Pure bookkeeping: it never reads /proc itself.

use super::verify::JobView;
use crate::procfs::ProcSource;
use std::collections::{BTreeMap, BTreeSet};

/// One job's processes: pid → start time (clock ticks after boot).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct JobTree {
    /// Start time of the job's first process; orphans older than this are never its own.
    pub start_time: u64,
    /// The job's uid (`None`: root, any user).
    pub uid: Option<u32>,
    /// The job's session and group id (its first pid).
    pub pgid: Option<i32>,
    /// Every live process the job is known to own: spawned, adopted, main.
    pub known: BTreeMap<i32, u64>,
}

impl JobTree {
    /// The `JobView` for `verify` and `job_members`: this record plus the
    /// daemon's pid and the test for other jobs' processes (see
    /// `TreeRecord::is_other_job`).
    pub fn view<'a>(&'a self, daemon_pid: i32, other_job: &'a dyn Fn(i32) -> bool) -> JobView<'a> {
        JobView {
            uid: self.uid,
            start_time: self.start_time,
            pgid: self.pgid,
            known: &self.known,
            cgroup: None,
            daemon_pid,
            other_job,
        }
    }
}

/// Why an orphan was not attributed to a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unattributed {
    /// No job had a process exit in this batch and none owns its session.
    NoCandidate,
    /// Several jobs fit.
    Ambiguous,
    /// The one candidate started after the orphan did, or runs as another user.
    Mismatch,
}

/// Which job owns which process, for every job. The supervisor keeps one.
#[derive(Debug, Clone)]
pub struct TreeRecord<K: Ord + Clone> {
    jobs: BTreeMap<K, JobTree>,
    /// Orphans already judged (pid → start time), so a later batch never
    /// attributes them by mere coincidence of timing.
    judged: BTreeMap<i32, u64>,
}

impl<K: Ord + Clone> Default for TreeRecord<K> {
    fn default() -> Self {
        TreeRecord {
            jobs: BTreeMap::new(),
            judged: BTreeMap::new(),
        }
    }
}

impl<K: Ord + Clone> TreeRecord<K> {
    /// An empty record.
    pub fn new() -> Self {
        TreeRecord::default()
    }

    /// A job's run begins: its first process `pid` (which is also its session
    /// and group id) started at `start_time`, running as `uid`.
    pub fn job_started(&mut self, key: K, pid: i32, start_time: u64, uid: Option<u32>) {
        let mut known = BTreeMap::new();
        known.insert(pid, start_time);
        self.jobs.insert(
            key,
            JobTree {
                start_time,
                uid,
                pgid: Some(pid),
                known,
            },
        );
    }

    /// Records one more process of the job (a hook, a respawn, a verified
    /// new main process).
    pub fn add(&mut self, key: &K, pid: i32, start_time: u64) {
        if let Some(job) = self.jobs.get_mut(key) {
            job.known.insert(pid, start_time);
        }
    }

    /// A process was reaped (or seen gone): it is no longer anyone's.
    pub fn exited(&mut self, pid: i32) {
        for job in self.jobs.values_mut() {
            job.known.remove(&pid);
        }
        self.judged.remove(&pid);
    }

    /// The job's run ended: forget everything about it.
    pub fn forget_job(&mut self, key: &K) {
        self.jobs.remove(key);
    }

    /// The job's record, for building a `JobView`.
    pub fn job(&self, key: &K) -> Option<&JobTree> {
        self.jobs.get(key)
    }

    /// The job that knows this pid, if any.
    pub fn owner(&self, pid: i32) -> Option<&K> {
        self.jobs
            .iter()
            .find(|(_, j)| j.known.contains_key(&pid))
            .map(|(k, _)| k)
    }

    /// True when `pid` is known to a job other than `key` (for `JobView::other_job`).
    pub fn is_other_job(&self, key: &K, pid: i32) -> bool {
        self.owner(pid).is_some_and(|k| k != key)
    }

    /// Called after each reap batch. `exited` lists the job processes reaped
    /// in this batch with their job; `gsup_children_now` the daemon's children
    /// now. A child nobody spawned appeared because one of its ancestors died:
    /// it goes to the one job whose session or group it is in, else to the
    /// one job that lost a process in this batch, provided it started after
    /// that job and runs as the job's user. Ambiguous cases stay unattributed
    /// (safe: such a process can never become a main process). Every orphan is
    /// judged once. Returns the adopted `(pid, job)` and the unattributed
    /// `(pid, why)` of this batch.
    #[allow(clippy::type_complexity)]
    pub fn attribute_orphans(
        &mut self,
        exited: &[(i32, K)],
        gsup_children_now: &[i32],
        procs: &dyn ProcSource,
    ) -> (Vec<(i32, K)>, Vec<(i32, Unattributed)>) {
        for (pid, _) in exited {
            self.exited(*pid);
        }
        let losers: BTreeSet<&K> = exited.iter().map(|(_, k)| k).collect();
        let mut adopted = Vec::new();
        let mut left = Vec::new();
        for &pid in gsup_children_now {
            if self.owner(pid).is_some() {
                continue;
            }
            let Some(info) = procs.stat(pid) else {
                continue;
            };
            if self.judged.get(&pid) == Some(&info.start_ticks) {
                continue;
            }
            self.judged.insert(pid, info.start_ticks);
            let by_session: BTreeSet<&K> = self
                .jobs
                .iter()
                .filter(|(_, j)| {
                    j.pgid.is_some_and(|g| g == info.sid || g == info.pgid)
                        || same_known(j, info.sid, procs)
                        || same_known(j, info.pgid, procs)
                })
                .map(|(k, _)| k)
                .collect();
            let candidates = if by_session.is_empty() {
                &losers
            } else {
                &by_session
            };
            let verdict = match candidates.len() {
                0 => Err(Unattributed::NoCandidate),
                1 => candidates
                    .first()
                    .map(|k| (*k).clone())
                    .ok_or(Unattributed::NoCandidate),
                _ => Err(Unattributed::Ambiguous),
            };
            let verdict = verdict.and_then(|key| {
                let job = self.jobs.get(&key).ok_or(Unattributed::NoCandidate)?;
                let uid_ok = job.uid.is_none_or(|u| procs.uid(pid) == Some(u));
                if info.start_ticks >= job.start_time && uid_ok {
                    Ok(key)
                } else {
                    Err(Unattributed::Mismatch)
                }
            });
            match verdict {
                Ok(key) => {
                    self.add(&key, pid, info.start_ticks);
                    adopted.push((pid, key));
                }
                Err(why) => left.push((pid, why)),
            }
        }
        (adopted, left)
    }
}

/// True when `id` is a pid the job knows and the process there is still the
/// one it knew (same start time): a recycled id never counts.
fn same_known(job: &JobTree, id: i32, procs: &dyn ProcSource) -> bool {
    id > 1
        && job.known.contains_key(&id)
        && procs
            .stat(id)
            .is_some_and(|p| job.known.get(&id) == Some(&p.start_ticks))
}
