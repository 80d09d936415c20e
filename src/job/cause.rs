//! Why a job's process ended, when gsup ended it (or did not): data the machine
//! keeps next to the exit, for `status` and the job's log. Pure: no I/O, no clock.

use super::policy::duration_text;
use super::state::Exit;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::time::Duration;

/// The cause of a main process's end, beyond its wait status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cause {
    /// gsup stopped the job: `gsup stop`, a `stop_on` event, shutdown, or
    /// the first half of a `restart`.
    Stop,
    /// A check fired: its rule as written and the value that broke it.
    Check { rule: String, value: String },
    /// Still alive `kill_timeout` after the stop signal: SIGKILL.
    KillTimeout(Duration),
    /// More respawns than `respawn_limit` allows: the job failed.
    RespawnLimit,
    /// gsup ended the run because it failed (`not ready within 30s`).
    Failed(String),
    /// Killed by a signal gsup did not send.
    Outside,
}

impl fmt::Display for Cause {
    /// The words `status` prints after the exit: `check 'RULE': VALUE`,
    /// `kill_timeout 5s`, `respawn limit`, `not sent by gsup`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Stop => f.write_str("stopped by gsup"),
            Cause::Check { rule, value } => write!(f, "check '{rule}': {value}"),
            Cause::KillTimeout(d) => write!(f, "kill_timeout {}", duration_text(*d)),
            Cause::RespawnLimit => f.write_str("respawn limit"),
            Cause::Failed(reason) => f.write_str(reason),
            Cause::Outside => f.write_str("not sent by gsup"),
        }
    }
}

/// `exit 1`, `signal KILL (kill_timeout 5s)`: the last exit as `status`
/// prints it, with its cause when there is one.
pub fn last_exit_text(exit: Exit, cause: Option<&Cause>) -> String {
    let text = super::transitions::exit_text(exit);
    match cause {
        Some(c) => format!("{text} ({c})"),
        None => text,
    }
}

/// The line gsup writes into the job's log when the main process ended:
/// `exited 1`, `killed by SIGTERM`, `killed by SIGKILL after kill_timeout 5s`,
/// `killed by SIGTERM (not sent by gsup)`; `None`: lost (pidfile), `lost`.
pub fn ended_note(exit: Option<Exit>, cause: Option<&Cause>) -> String {
    match (exit, cause) {
        (None, _) => "main process lost".to_string(),
        (Some(Exit::Code(c)), _) => format!("exited {c}"),
        (Some(Exit::Signal(s)), Some(Cause::KillTimeout(d))) if s == libc::SIGKILL => {
            format!("killed by SIGKILL after kill_timeout {}", duration_text(*d))
        }
        (Some(Exit::Signal(s)), Some(Cause::Outside)) => {
            format!(
                "killed by SIG{} (not sent by gsup)",
                super::policy::signal_name(s)
            )
        }
        (Some(Exit::Signal(s)), _) => format!("killed by SIG{}", super::policy::signal_name(s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_as_the_docs_show_them() {
        let check = Cause::Check {
            rule: "if totalmem > 300 MB for 3 cycles then restart".into(),
            value: "totalmem 312 MB".into(),
        };
        assert_eq!(
            last_exit_text(Exit::Signal(15), Some(&check)),
            "signal TERM (check 'if totalmem > 300 MB for 3 cycles then restart': totalmem 312 MB)"
        );
        let kt = Cause::KillTimeout(Duration::from_secs(5));
        assert_eq!(
            last_exit_text(Exit::Signal(9), Some(&kt)),
            "signal KILL (kill_timeout 5s)"
        );
        assert_eq!(
            ended_note(Some(Exit::Signal(9)), Some(&kt)),
            "killed by SIGKILL after kill_timeout 5s"
        );
        assert_eq!(
            last_exit_text(Exit::Code(1), Some(&Cause::RespawnLimit)),
            "exit 1 (respawn limit)"
        );
        assert_eq!(last_exit_text(Exit::Code(3), None), "exit 3");
        assert_eq!(ended_note(Some(Exit::Code(3)), None), "exited 3");
        assert_eq!(
            ended_note(Some(Exit::Signal(15)), Some(&Cause::Outside)),
            "killed by SIGTERM (not sent by gsup)"
        );
        assert_eq!(
            ended_note(Some(Exit::Signal(15)), Some(&Cause::Stop)),
            "killed by SIGTERM"
        );
    }
}
