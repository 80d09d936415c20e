//! The goal (what the operator wants) and the state (where the job is), apart.
//! Their `Display` prints the words of the status line; nothing else lives here.

use serde::{Deserialize, Serialize};
use std::fmt;

/// What the job should be doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Goal {
    Start,
    Stop,
}

/// Where the job is: exactly Upstart's states, plus `Failed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    Waiting,
    Starting,
    PreStart,
    Spawned,
    PostStart,
    Running,
    PreStop,
    Stopping,
    Killed,
    PostStop,
    Failed,
}

impl State {
    /// Every state, in lifecycle order (for exhaustive tests and docs).
    pub const ALL: [State; 11] = [
        State::Waiting,
        State::Starting,
        State::PreStart,
        State::Spawned,
        State::PostStart,
        State::Running,
        State::PreStop,
        State::Stopping,
        State::Killed,
        State::PostStop,
        State::Failed,
    ];

    /// The status-line word.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Waiting => "waiting",
            State::Starting => "starting",
            State::PreStart => "pre-start",
            State::Spawned => "spawned",
            State::PostStart => "post-start",
            State::Running => "running",
            State::PreStop => "pre-stop",
            State::Stopping => "stopping",
            State::Killed => "killed",
            State::PostStop => "post-stop",
            State::Failed => "failed",
        }
    }
}

impl Goal {
    /// The status-line word.
    pub fn as_str(self) -> &'static str {
        match self {
            Goal::Start => "start",
            Goal::Stop => "stop",
        }
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Display for Goal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a process ended, from its wait status: every fact kept, never a
/// made-up exit code for a signal death.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Exit {
    /// `exit(code)`.
    Code(i32),
    /// Killed by this signal number.
    Signal(i32),
}
