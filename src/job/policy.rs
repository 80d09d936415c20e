//! A job's lifecycle settings, taken from its unit once: what `step` consults.
//! Pure data and small pure helpers; no I/O.

use super::machine::Process;
use super::state::Exit;
use crate::unit::{ExitMatch, JobType, Ready, RespawnLimit, Signal, Unit};
use std::time::Duration;

/// The parts of a unit the state machine needs, so that `step` never sees
/// command lines or paths.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub task: bool,
    pub respawn: bool,
    pub respawn_limit: RespawnLimit,
    pub respawn_delay: Duration,
    pub normal_exit: Vec<ExitMatch>,
    pub kill_signal: Signal,
    pub kill_timeout: Duration,
    /// False for `ready: spawned`.
    pub wait_ready: bool,
    pub ready_timeout: Duration,
    pub pre_start: bool,
    pub post_start: bool,
    pub pre_stop: bool,
    pub post_stop: bool,
}

impl Policy {
    /// The policy of a loaded unit.
    pub fn from_unit(u: &Unit) -> Policy {
        Policy {
            task: u.job_type == JobType::Task,
            respawn: u.respawn,
            respawn_limit: u.respawn_limit,
            respawn_delay: u.respawn_delay,
            normal_exit: u.normal_exit.clone(),
            kill_signal: u.kill_signal,
            kill_timeout: u.kill_timeout,
            wait_ready: !matches!(u.ready, Ready::Spawned),
            ready_timeout: u.ready_timeout,
            pre_start: u.pre_start.is_some(),
            post_start: u.post_start.is_some(),
            pre_stop: u.pre_stop.is_some(),
            post_stop: u.post_stop.is_some(),
        }
    }

    /// Whether the unit has this hook (`Main` always exists).
    pub fn has_hook(&self, p: Process) -> bool {
        match p {
            Process::Main => true,
            Process::PreStart => self.pre_start,
            Process::PostStart => self.post_start,
            Process::PreStop => self.pre_stop,
            Process::PostStop => self.post_stop,
        }
    }

    /// `normal_exit`: this exit does not call for a respawn.
    pub fn is_normal(&self, e: Exit) -> bool {
        self.normal_exit.iter().any(|m| match (m, e) {
            (ExitMatch::Code(c), Exit::Code(x)) => *c == x,
            (ExitMatch::Signal(s), Exit::Signal(x)) => s.0 == x,
            (ExitMatch::Code(_), Exit::Signal(_)) | (ExitMatch::Signal(_), Exit::Code(_)) => false,
        })
    }

    /// A death by the stop's own signals (`kill_signal`, or SIGKILL after the timeout).
    pub fn is_kill(&self, e: Exit) -> bool {
        e == Exit::Signal(self.kill_signal.0) || e == Exit::Signal(Signal::KILL.0)
    }
}

impl Default for Policy {
    /// The SPEC's defaults for a service with no hooks (`Unit::new`'s).
    fn default() -> Policy {
        Policy::from_unit(&Unit::new(crate::unit::Command { words: Vec::new() }))
    }
}

/// `5s`, `500ms`, `2m`: a duration as a unit file would write it.
pub fn duration_text(d: Duration) -> String {
    let ms = d.as_millis();
    if !ms.is_multiple_of(1000) {
        format!("{ms}ms")
    } else if ms.is_multiple_of(60_000) && ms > 0 {
        format!("{}m", ms / 60_000)
    } else {
        format!("{}s", ms / 1000)
    }
}

/// A signal's name without `SIG` (`TERM`), or its number.
pub fn signal_name(n: i32) -> String {
    Signal(n).name()
}
