//! The Monit-style watchdog (SPEC section 5): measuring watched process trees, Monit's
//! cycle semantics, alerts and the kill of one child. It never reaps and owns no job
//! state beyond its counters: the supervisor calls it and carries out what it returns.
//!
//! Layout, arrows pointing one way:
//!
//! ```text
//! watch (Watchdog: per-job state, run_cycle) ──> eval (pure Monit semantics)
//!        │                                   └──> sample (pure tree arithmetic)
//!        └── Sampler ── measure (procfs::walk over procfs::CachedProc, kept-open /proc fds)
//! alert (log line, alert-command SpawnSpec)     kill (one child's tree, via Sys)
//! ```

pub mod alert;
pub mod eval;
pub mod kill;
pub mod measure;
pub mod sample;
pub mod watch;

pub use eval::{CheckState, Observation, RestartLog, Values, Verdict, evaluate};
pub use measure::sample_tree;
pub use sample::{MeasureError, Sampler, TreeSample};
pub use watch::{
    Counters, JobKey, Target, WatchAction, WatchEvent, WatchSpec, WatchStatus, Watchdog,
};

use std::time::Duration;

/// The daemon's default `--cycle`.
pub const DEFAULT_CYCLE: Duration = Duration::from_secs(5);

impl Watchdog {
    /// A watchdog reading /proc through kept-open descriptors, with the daemon's
    /// `--cycle` as default.
    pub fn new(default_cycle: Duration) -> Watchdog {
        Watchdog::with_sampler(default_cycle, Box::new(crate::procfs::CachedProc::new()))
    }
}
