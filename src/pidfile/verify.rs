//! The proof that a pid named by a pidfile belongs to a job, and the walk of a
//! job's process tree. Pure over `ProcSource`: no I/O of its own, never signals.

use crate::procfs::{Proc, ProcSource};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// Longest ancestor chain walked (a guard against a table that loops).
const MAX_ANCESTORS: usize = 4096;

/// What the supervisor knows of one job, as `verify` needs it.
pub struct JobView<'a> {
    /// The job's uid; `None` when it runs as root (any user is then allowed,
    /// since the job could signal any process anyway).
    pub uid: Option<u32>,
    /// Start time (clock ticks after boot) of the first process the job spawned.
    pub start_time: u64,
    /// The job's process group and session id: the pid of its first process
    /// (spawned with `setsid`). `None` before anything was spawned.
    pub pgid: Option<i32>,
    /// The pids the job is known to own (spawned, adopted, current main),
    /// each with its start time: a known pid counts only while the process at
    /// that pid has that start time, so a recycled pid never counts.
    pub known: &'a BTreeMap<i32, u64>,
    /// The job's cgroup v2 path, when the supervisor put the job in its own cgroup.
    pub cgroup: Option<&'a str>,
    /// The daemon's own pid.
    pub daemon_pid: i32,
    /// Tells whether a pid is owned by another job.
    pub other_job: &'a dyn Fn(i32) -> bool,
}

/// Why a pid was refused as the job's main process. Its `Display` is the
/// reason logged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    /// PID 1, whoever it is.
    Init,
    /// The daemon itself.
    Daemon,
    /// No process with this pid.
    NoSuchProcess,
    /// The process has exited (not yet reaped).
    Exited,
    /// A process another job owns.
    OtherJob,
    /// A process of another user than the job's.
    OtherUser { uid: u32, job_uid: u32 },
    /// Started before the job did: a recycled pid or a foreign process.
    StartedBeforeJob { started: u64, job_started: u64 },
    /// Nothing shows that the process comes from the job.
    NotInJob,
}

impl Refusal {
    /// True when the file simply names a process that is gone (a stale or
    /// not-yet-updated pidfile), as opposed to a process outside the job.
    pub fn is_dead(&self) -> bool {
        matches!(self, Refusal::NoSuchProcess | Refusal::Exited)
    }
}

impl fmt::Display for Refusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Refusal::Init => f.write_str("it names PID 1"),
            Refusal::Daemon => f.write_str("it names the gsup daemon"),
            Refusal::NoSuchProcess => f.write_str("no such process"),
            Refusal::Exited => f.write_str("the process has exited"),
            Refusal::OtherJob => f.write_str("the process belongs to another job"),
            Refusal::OtherUser { uid, job_uid } => {
                write!(f, "the process runs as uid {uid}, the job as uid {job_uid}")
            }
            Refusal::StartedBeforeJob {
                started,
                job_started,
            } => write!(
                f,
                "the process started before the job (tick {started} < {job_started})"
            ),
            Refusal::NotInJob => f.write_str("the process does not come from the job"),
        }
    }
}

/// Checks that `pid` is a live process of the job and may become its main
/// process. See docs/pidfiles.md for the rules; in short the process must be
/// alive, not PID 1, not the daemon, not another job's, of the job's user,
/// started after the job, and shown to come from the job.
pub fn verify(pid: i32, job: &JobView<'_>, procs: &dyn ProcSource) -> Result<(), Refusal> {
    if pid == 1 {
        return Err(Refusal::Init);
    }
    if pid == job.daemon_pid {
        return Err(Refusal::Daemon);
    }
    let info = procs.stat(pid).ok_or(Refusal::NoSuchProcess)?;
    if info.is_exited() {
        return Err(Refusal::Exited);
    }
    if (job.other_job)(pid) {
        return Err(Refusal::OtherJob);
    }
    if let Some(job_uid) = job.uid {
        let uid = procs.uid(pid).ok_or(Refusal::NoSuchProcess)?;
        if uid != job_uid {
            return Err(Refusal::OtherUser { uid, job_uid });
        }
    }
    if info.start_ticks < job.start_time {
        return Err(Refusal::StartedBeforeJob {
            started: info.start_ticks,
            job_started: job.start_time,
        });
    }
    if comes_from_job(&info, job, procs) {
        Ok(())
    } else {
        Err(Refusal::NotInJob)
    }
}

/// True when a live process at `pid` is the one the job knows under that pid.
fn is_known(pid: i32, start_time: u64, job: &JobView<'_>) -> bool {
    job.known.get(&pid) == Some(&start_time)
}

/// The proof of belonging proper: (a) a known pid, (b) a live known
/// ancestor, (c) the job's session or group, (e) the job's cgroup.
/// Rule (d), orphans adopted by the tree record, arrives here through `known`.
/// Whether the cgroup `path` is `group` or a group below it.
fn in_group(path: &str, group: &str) -> bool {
    path == group
        || path
            .strip_prefix(group)
            .is_some_and(|rest| rest.starts_with('/'))
}

fn comes_from_job(info: &Proc, job: &JobView<'_>, procs: &dyn ProcSource) -> bool {
    if is_known(info.pid, info.start_ticks, job) {
        return true;
    }
    // A session or group id counts when it is the job's own, or the pid of a
    // known process that is still the same process (never a recycled id).
    let ids_of_job = |id: i32| {
        id > 1
            && (job.pgid == Some(id)
                || procs
                    .stat(id)
                    .is_some_and(|p| is_known(p.pid, p.start_ticks, job)))
    };
    if ids_of_job(info.sid) || ids_of_job(info.pgid) {
        return true;
    }
    if let Some(mine) = job.cgroup.filter(|c| *c != "/")
        && procs.cgroup(info.pid).is_some_and(|c| in_group(&c, mine))
    {
        return true;
    }
    let mut cur = info.ppid;
    let mut seen = BTreeSet::new();
    while cur > 1 && cur != job.daemon_pid && seen.len() < MAX_ANCESTORS && seen.insert(cur) {
        let Some(anc) = procs.stat(cur) else {
            return false;
        };
        if is_known(anc.pid, anc.start_ticks, job) {
            return true;
        }
        cur = anc.ppid;
    }
    false
}

/// The live processes of the job among `candidates` (a walk from its known
/// pids): what `stop` must end (the current master, a lingering old master,
/// every worker, whatever session they moved to). A process counts when it
/// is not PID 1, the daemon or another job's, started at or after the job,
/// and comes from the job by rules (a)-(e). The user is not checked: a
/// setuid helper the job started is still the job's to stop.
pub fn job_members(job: &JobView<'_>, candidates: &[Proc], procs: &dyn ProcSource) -> Vec<i32> {
    candidates
        .iter()
        .filter(|p| {
            p.pid != 1
                && p.pid != job.daemon_pid
                && !p.is_exited()
                && !(job.other_job)(p.pid)
                && p.start_ticks >= job.start_time
                && comes_from_job(p, job, procs)
        })
        .map(|p| p.pid)
        .collect()
}
