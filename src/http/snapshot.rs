//! What the HTTP side shows (`Snapshot`) and how it asks for one
//! (`SnapshotSource`). It must not reach into the supervisor: the loop answers.
//!
//! The server never holds job state. Each time it needs figures it asks its
//! source for a whole `Snapshot`; in the daemon the source is a request to
//! the supervisor's loop ([`loop_source`]), answered in one turn from the
//! state the loop holds, and tests give a fixed one (`Arc<Snapshot>`).

use super::procmem::StatmCache;
use crate::control::proto::JobStatus;
use std::collections::BTreeMap;
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
    /// loop may leave `memory_bytes` of a running job empty: [`LoopSource`]
    /// reads it off the loop.
    pub jobs: Vec<JobStatus>,
    /// The start order by dependency waves (wave 0 starts first).
    pub waves: Vec<Vec<String>>,
    /// Each instance's log file, by `(job, instance)`: the only files `/log`
    /// ever opens (a client names a job, never a path).
    pub logs: BTreeMap<(String, String), PathBuf>,
    /// The daemon's own figures.
    pub daemon: DaemonStats,
    /// Jobs (index into `jobs`, with the pids to walk from) whose tree the
    /// loop did not measure: [`LoopSource`] walks `/proc` for them off the
    /// loop and fills memory and CPU.
    pub trees: Vec<(usize, Vec<i32>)>,
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
/// nothing. Off the loop, the source then adds what needs `/proc`: the
/// memory of main processes the loop has no figure for (`procmem`), and the
/// daemon's own RSS and descriptors.
#[derive(Debug, Clone)]
pub struct LoopSource {
    tx: mpsc::Sender<SnapshotRequest>,
    statm: Arc<Mutex<StatmCache>>,
    cpu: Arc<Mutex<CpuSamples>>,
}

/// The previous CPU time of each walked tree, by (job, instance, main), for
/// `cpu_percent` from the second snapshot on.
type CpuSamples = std::collections::HashMap<(String, String, i32), (std::time::Instant, f64)>;

/// Walks the trees the loop left to this side and fills memory and CPU
/// (a blocking call: `/proc` reads).
fn fill_trees(snap: &mut Snapshot, samples: &mut CpuSamples) {
    use crate::procfs::{RealProc, clock_ticks, page_bytes};
    let procs = RealProc::default();
    let (page, ticks) = (page_bytes(), clock_ticks());
    let now = std::time::Instant::now();
    let mut seen = std::collections::HashSet::new();
    for (i, roots) in std::mem::take(&mut snap.trees) {
        let Some(st) = snap.jobs.get_mut(i) else {
            continue;
        };
        let f = crate::procfs::tree_figures(&procs, roots, page, ticks);
        // The loop's figures (the cgroup's) stand; the walk fills the rest.
        if st.memory_bytes.is_none() {
            st.memory_bytes = f.memory_bytes;
        }
        if st.cpu_seconds.is_some() {
            continue;
        }
        let (Some(cpu), Some(main)) = (f.cpu, st.pid) else {
            continue;
        };
        let secs = cpu.as_secs_f64();
        st.cpu_seconds = Some(secs);
        let id = (st.name.clone(), st.instance.clone(), main);
        if let Some((t, before)) = samples.get(&id) {
            let dt = now.saturating_duration_since(*t).as_secs_f64();
            if dt >= 0.05 {
                st.cpu_percent = Some(((secs - before) / dt * 100.0).max(0.0));
            }
        }
        samples.insert(id.clone(), (now, secs));
        seen.insert(id);
    }
    samples.retain(|k, _| seen.contains(k));
}

/// A source for the daemon and the receiver the loop selects on. The server
/// asks for at most one snapshot at a time, so a small `capacity` suffices.
pub fn loop_source(capacity: usize) -> (LoopSource, mpsc::Receiver<SnapshotRequest>) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    let statm = Arc::new(Mutex::new(StatmCache::new(None)));
    let cpu = Arc::new(Mutex::new(CpuSamples::new()));
    (LoopSource { tx, statm, cpu }, rx)
}

impl SnapshotSource for LoopSource {
    fn get(&self) -> SnapshotFuture<'_> {
        Box::pin(async move {
            let (reply, answer) = oneshot::channel();
            self.tx.send(SnapshotRequest(reply)).await.ok()?;
            let mut snap = answer.await.ok()?;
            let statm = Arc::clone(&self.statm);
            let cpu = Arc::clone(&self.cpu);
            let snap = tokio::task::spawn_blocking(move || {
                fill_trees(
                    &mut snap,
                    &mut cpu.lock().unwrap_or_else(|p| p.into_inner()),
                );
                statm
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .fill(&mut snap.jobs);
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
