//! What the HTTP side shows (`Snapshot`) and how it asks for one
//! (`SnapshotSource`). It must not reach into the supervisor: the loop answers.
//!
//! The server never holds job state. Each time it needs figures it asks its
//! source for a whole `Snapshot`; in the daemon the source is a request to
//! the supervisor's loop ([`loop_source`]), answered in one turn from the
//! state the loop holds, and tests give a fixed one (`Arc<Snapshot>`).

use super::measure::{Measure, Meters};
use crate::control::proto::JobStatus;
use std::collections::BTreeSet;
use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::sync::{mpsc, oneshot};

/// Everything the page, `/status.json` and `/metrics` show, taken at one
/// moment, so that the three never disagree within one answer.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// When the loop took it (shown on the page).
    pub taken: SystemTime,
    /// Every job and instance, as `gsup status --json` prints them. The
    /// loop leaves memory and CPU of a running job empty: [`LoopSource`]
    /// reads them off the loop (`trees`).
    pub jobs: Vec<JobStatus>,
    /// The start order by dependency waves (wave 0 starts first).
    pub waves: Vec<Vec<String>>,
    /// Where the instances' log files are: the only files `/log` ever
    /// opens (a client names a job, never a path).
    pub logs: LogFiles,
    /// The daemon's own figures.
    pub daemon: DaemonStats,
    /// The running instances, to be measured off the loop: [`LoopSource`]
    /// reads their groups' files or walks `/proc` and fills memory and CPU.
    pub trees: Vec<Measure>,
}

/// Where each instance's log file is, without a path per instance: the
/// daemon's log folder, less the jobs whose output goes elsewhere.
#[derive(Debug, Clone, Default)]
pub struct LogFiles {
    /// The log folder (`crate::logs::job_log_path` names a file in it);
    /// `None`: no log file is shown.
    pub dir: Option<PathBuf>,
    /// Jobs whose `console` is not `log`.
    pub elsewhere: BTreeSet<String>,
}

impl Snapshot {
    /// Whether the instance `j` (one of `jobs`) writes to a log file.
    pub fn has_log(&self, j: &JobStatus) -> bool {
        self.logs.dir.is_some() && !self.logs.elsewhere.contains(&j.name)
    }

    /// The log file of `job`'s instance `instance`, when that instance is
    /// in the snapshot and logs to a file.
    pub fn log_file(&self, job: &str, instance: &str) -> Option<PathBuf> {
        let j = self
            .jobs
            .iter()
            .find(|j| j.name == job && j.instance == instance)?;
        if !self.has_log(j) {
            return None;
        }
        Some(crate::logs::job_log_path(
            self.logs.dir.as_deref()?,
            job,
            instance,
        ))
    }
}

/// The daemon's own figures, for the page's header and `gsup_daemon_*`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DaemonStats {
    pub pid: u32,
    pub version: String,
    pub uptime_s: u64,
    /// Resident memory, when `/proc/self/statm` could be read.
    pub rss_bytes: Option<u64>,
    /// Open file descriptors, when `/proc/self/fd` could be listed.
    pub open_fds: Option<u64>,
    /// Turns of the supervisor's loop since start.
    pub loop_turns: u64,
    /// Child processes reaped since start.
    pub reaped: u64,
    /// Spawns that failed (fork or exec) since start.
    pub spawn_failures: u64,
}

/// The future a [`SnapshotSource`] returns: `None` when no snapshot can be
/// had (the loop is gone, shutting down), which the server answers with 503.
pub type SnapshotFuture<'a> = Pin<Box<dyn Future<Output = Option<Arc<Snapshot>>> + Send + 'a>>;

/// Where the server gets its figures. Kept to one method so that the daemon's
/// loop, a test's fixed snapshot, or the rewritten supervisor can all be one.
pub trait SnapshotSource: Send + Sync + 'static {
    /// The current snapshot. Must not block: the server awaits it with a
    /// deadline (`Limits::snapshot_timeout`).
    fn get(&self) -> SnapshotFuture<'_>;
}

/// A fixed snapshot (tests, benches).
impl SnapshotSource for Arc<Snapshot> {
    fn get(&self) -> SnapshotFuture<'_> {
        let snap = Arc::clone(self);
        Box::pin(async move { Some(snap) })
    }
}

/// One request from the server to the loop: answer it with [`Self::answer`].
#[derive(Debug)]
pub struct SnapshotRequest(oneshot::Sender<Snapshot>);

impl SnapshotRequest {
    /// Sends the snapshot back; a server that gave up waiting is no error.
    pub fn answer(self, snapshot: Snapshot) {
        let _ = self.0.send(snapshot);
    }
}

/// The daemon's source: a channel to the supervisor's loop, which answers
/// each [`SnapshotRequest`] in one turn from the state it holds, reading
/// nothing. Off the loop, the source then adds what needs a file read: the
/// memory and CPU of each instance's tree (`measure`), and the daemon's own
/// RSS and descriptors.
#[derive(Debug, Clone)]
pub struct LoopSource {
    tx: mpsc::Sender<SnapshotRequest>,
    meters: Arc<Mutex<Meters>>,
}

/// An eighth of the soft `RLIMIT_NOFILE` for the walks' kept-open `/proc`
/// files (the watchdog keeps up to half for its own).
fn walk_budget() -> usize {
    crate::sys::descriptor_share(8)
}

/// A source for the daemon and the receiver the loop selects on. The server
/// asks for at most one snapshot at a time, so a small `capacity` suffices.
pub fn loop_source(capacity: usize) -> (LoopSource, mpsc::Receiver<SnapshotRequest>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let meters = Arc::new(Mutex::new(Meters::new(walk_budget())));
    (LoopSource { tx, meters }, rx)
}

impl SnapshotSource for LoopSource {
    fn get(&self) -> SnapshotFuture<'_> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            self.tx.send(SnapshotRequest(reply)).await.ok()?;
            let mut snap = answer.await.ok()?;
            let meters = Arc::clone(&self.meters);
            let snap = tokio::task::spawn_blocking(move || {
                meters
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .fill(&mut snap);
                let own = super::own::figures();
                snap.daemon.rss_bytes = own.rss_bytes;
                snap.daemon.open_fds = own.open_fds;
                snap
            })
            .await
            .ok()?;
            Some(Arc::new(snap))
        })
    }
}
