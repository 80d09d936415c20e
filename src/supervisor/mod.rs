//! The supervisor: the one owner of all job state and the one event loop that
//! turns signals, control requests, file events and timers into job inputs.

use std::path::PathBuf;
use std::time::Duration;

/// Options of `gsup daemon`, resolved by the CLI.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    pub config_dir: PathBuf,
    pub log_dir: PathBuf,
    pub socket: PathBuf,
    /// Default watchdog cycle (`--cycle`, default 5s).
    pub cycle: Duration,
    /// `--alert-command`, run without a shell on `alert`.
    pub alert_command: Option<Vec<String>>,
    /// `--control-group`: members may use changing commands.
    pub control_group: Option<String>,
    /// `--log-format json`.
    pub log_json: bool,
}

/// Runs the daemon in the foreground until shutdown; returns the exit code.
pub fn run(opts: DaemonOptions) -> i32 {
    let _ = opts;
    eprintln!("gsup: the daemon is not implemented yet");
    1
}
