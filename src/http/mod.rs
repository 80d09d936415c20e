//! `gsup daemon --http ADDR`: a read-only status page, `/status.json` and
//! Prometheus `/metrics`. It must not change a job or hold the loop.
//!
//! The server knows nothing of the supervisor: it asks a [`SnapshotSource`]
//! for a [`Snapshot`] and renders it. In the daemon the source is a request
//! the loop answers in one turn ([`loop_source`]); tests pass a fixed
//! `Arc<Snapshot>`. Layout:
//!
//! * `snapshot`: the data and the source trait; `own`: the daemon's own
//!   RSS and descriptors from `/proc/self`; `measure`: each instance's
//!   memory and CPU, from its cgroup's kept-open files or a `/proc` walk.
//! * `server`: accept loop, connection limits and eviction (hyper 1.x).
//! * `routes`: method check, paths, the snapshot cache, blocking-pool work.
//! * `page`, `fmt`, `metrics`: pure renderers (HTML, Prometheus text).
//! * log tails come from `crate::logs::tail` (the one tail reader).

mod fmt;
mod measure;
mod metrics;
mod own;
mod page;
mod routes;
#[cfg(test)]
mod serve_tests;
mod server;
mod snapshot;
#[cfg(test)]
mod testdata;

pub use measure::Measure;
pub use server::serve;
pub use snapshot::{
    DaemonStats, LogFiles, LoopSource, Snapshot, SnapshotFuture, SnapshotRequest, SnapshotSource,
    loop_source,
};

use std::time::Duration;

/// How much of the daemon one HTTP client may use. The defaults suit a
/// status page and a Prometheus scraper on a host with thousands of jobs.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Open connections at most; past it the oldest idle one is closed.
    pub max_connections: usize,
    /// Request line and headers together, in bytes (431 past it).
    pub max_header_bytes: usize,
    /// Header fields at most (431 past it).
    pub max_headers: usize,
    /// Time a client has to send its request headers.
    pub header_timeout: Duration,
    /// Time a connection may stay open at all, keep-alive included.
    pub connection_lifetime: Duration,
    /// Time the supervisor has to answer a snapshot request (then 503).
    pub snapshot_timeout: Duration,
    /// A snapshot younger than this is reused instead of asking again.
    pub snapshot_max_age: Duration,
    /// Lines `/log` shows by default, and at most (`?lines=N`).
    pub log_lines: usize,
    pub log_lines_max: usize,
    /// Bytes `/log` reads from the end of a file at most.
    pub log_max_bytes: u64,
    /// Log files read at the same time at most.
    pub concurrent_log_reads: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 64,
            max_header_bytes: 8192,
            max_headers: 32,
            header_timeout: Duration::from_secs(5),
            connection_lifetime: Duration::from_secs(30),
            snapshot_timeout: Duration::from_secs(2),
            snapshot_max_age: Duration::from_secs(1),
            log_lines: 100,
            log_lines_max: 2000,
            log_max_bytes: 256 * 1024,
            concurrent_log_reads: 4,
        }
    }
}
