//! gsup: a process supervisor for Linux (Upstart-style jobs, Monit-style checks).
//! This file is the map of the crate; it declares modules and holds no logic.
//!
//! Arrows point one way:
//!
//! ```text
//! cli ──> control ──> supervisor ──> job, expr, graph, unit, rule   (pure)
//!                         │
//!                         └────────> spawn, reap, contain, pidfile, logs, watchdog::measure, sys  (effects)
//! ```
//!
//! * Pure parts (`unit`, `expr`, `rule`, `graph`, `job`, `diag`, `procfs`) import no nix, no tokio,
//!   no `std::fs`; `loader` is the one place that reads unit files from disk.
//! * `supervisor` is the one owner of all job state; `reap` is the one place that waits.
//! * `import` (`gsup import upstart|monit`) turns old Upstart and Monit files into unit
//!   files; pure but for `import::files`, and it starts nothing.

pub mod cli;
pub mod contain;
pub mod control;
pub mod diag;
pub mod expr;
pub mod graph;
pub mod http;
pub mod import;
pub mod job;
pub mod loader;
pub mod logs;
pub mod pidfile;
pub mod procfs;
pub mod reap;
pub mod rule;
pub mod spawn;
pub mod supervisor;
pub mod sys;
pub mod unit;
pub mod users;
pub mod watchdog;
