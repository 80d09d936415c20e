//! The follow decision for one job's pidfile: given what the file says and
//! what is known of the main process, what happens next. Pure: no I/O, no clock.

use super::read::PidfileError;
use super::verify::Refusal;

/// What the supervisor knows when it asks (after a pidfile event, the main
/// process's exit, or the grace timer firing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FollowInput {
    /// The job's current main process, if any.
    pub main: Option<i32>,
    /// Whether that main process is still alive (not reaped, no exit seen).
    pub main_alive: bool,
    /// What `read_pidfile` returned.
    pub read: Result<i32, PidfileError>,
    /// What `verify` said of the pid read; `None` when nothing was read.
    pub verdict: Option<Result<(), Refusal>>,
    /// True once `pidfile_grace` has passed since the main process was lost.
    pub grace_expired: bool,
}

/// The outcome. The supervisor logs and acts; `decide` never does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Nothing changes (the main process is alive; the file is between writes,
    /// names the main process, or names a process that is gone).
    Keep,
    /// `to` is now the main process: log `main process FROM replaced by TO
    /// (pidfile)`, add it to the job's known pids, cancel the grace timer; no
    /// restart, no event.
    Replace { from: Option<i32>, to: i32 },
    /// No live main process: start the grace timer if it is not running (the
    /// job stays start/running showing the last main) and decide again on the
    /// next pidfile event or when it fires.
    WaitGrace,
    /// The grace period passed with no live main process: the job's main
    /// process has exited.
    Gone,
    /// The pidfile was refused: log `pidfile PATH refused: REASON`, never
    /// signal the named pid, and treat the main process as dead: start the
    /// grace timer if it is not running (as for `WaitGrace`).
    Refused { pid: Option<i32>, reason: String },
}

/// The follow decision. See the table in docs/pidfiles.md.
pub fn decide(input: &FollowInput) -> Decision {
    let lost = || {
        if input.grace_expired {
            Decision::Gone
        } else {
            Decision::WaitGrace
        }
    };
    let refused = |pid: Option<i32>, reason: String| {
        if input.grace_expired {
            Decision::Gone
        } else {
            Decision::Refused { pid, reason }
        }
    };
    match (&input.read, &input.verdict) {
        (Ok(pid), Some(Ok(()))) => {
            if Some(*pid) == input.main {
                if input.main_alive {
                    Decision::Keep
                } else {
                    // The supervisor saw it exit: a live process there now is
                    // not the one it knew.
                    lost()
                }
            } else {
                Decision::Replace {
                    from: input.main,
                    to: *pid,
                }
            }
        }
        (Ok(_), Some(Err(r))) if r.is_dead() => {
            if input.main_alive {
                Decision::Keep
            } else {
                lost()
            }
        }
        (Ok(pid), Some(Err(r))) => refused(Some(*pid), r.to_string()),
        (Ok(pid), None) => refused(Some(*pid), "not verified".to_string()),
        (Err(e), _) if e.is_transient() => {
            if input.main_alive {
                Decision::Keep
            } else {
                lost()
            }
        }
        (Err(e), _) => refused(None, e.to_string()),
    }
}

/// `ready: pidfile`: the job is ready once its pidfile names a live process
/// that belongs to it.
pub fn is_ready(read: &Result<i32, PidfileError>, verdict: Option<&Result<(), Refusal>>) -> bool {
    matches!((read, verdict), (Ok(_), Some(Ok(()))))
}
