//! Clients waiting for jobs to settle (`start`, `stop`, `emit`), and why a
//! settled instance is not where its client wanted it. Pure data and words; no I/O.

use super::jobs::Key;
use crate::control::proto::Response;
use crate::job::State;
use crate::job::cause::last_exit_text;
use tokio::sync::oneshot;

/// What a waiting client asked for, which decides its exit code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WaitKind {
    Start,
    Stop,
    Emit,
}

/// A client waiting until every instance in `keys` has settled.
#[derive(Debug)]
pub struct Waiter {
    pub keys: Vec<Key>,
    /// Of `keys`, those this request started (`emit` names each that failed).
    pub started: Vec<Key>,
    pub kind: WaitKind,
    pub reply: oneshot::Sender<Response>,
    /// A line for the answer (`Response::note`).
    pub note: Option<String>,
}

/// Why a settled instance is not where `kind` wanted it (`None`: it is):
/// `did not start: exec: No such file or directory (os error 2)`,
/// `failed: task ended with exit 3`, `did not stop`.
pub fn why_not(job: &crate::job::Job, kind: WaitKind) -> Option<String> {
    let reason = || {
        let exit = job.last_exit.map(|e| {
            format!(
                "main process ended ({})",
                last_exit_text(e, job.last_cause.as_ref())
            )
        });
        job.reason.clone().or(exit)
    };
    let started = |reason: Option<String>| match reason {
        Some(r) => format!("did not start: {r}"),
        None => "did not start".to_string(),
    };
    match kind {
        WaitKind::Start if job.policy.task && job.state == State::Waiting => None,
        WaitKind::Start if !job.policy.task && job.state == State::Running => None,
        WaitKind::Start if job.policy.task && job.state == State::Failed => {
            Some(format!("failed: {}", reason().unwrap_or_default()))
        }
        WaitKind::Start => Some(started(reason())),
        WaitKind::Stop if matches!(job.state, State::Waiting | State::Failed) => None,
        WaitKind::Stop => Some("did not stop".to_string()),
        WaitKind::Emit if job.state == State::Failed => Some(match &job.reason {
            Some(r) => format!("failed: {r}"),
            None => "failed".to_string(),
        }),
        WaitKind::Emit => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::{Cause, Exit, Goal, Job, Policy};

    fn job(state: State, reason: Option<&str>, exit: Option<Exit>) -> Job {
        let mut j = Job::new(Policy::default());
        (j.goal, j.state) = (Goal::Stop, state);
        j.reason = reason.map(str::to_string);
        j.last_exit = exit;
        j
    }

    #[test]
    fn a_failed_start_says_why() {
        let j = job(State::Failed, Some("not ready within 30s"), None);
        assert_eq!(
            why_not(&j, WaitKind::Start).as_deref(),
            Some("did not start: not ready within 30s")
        );
        let mut j = job(State::Waiting, None, Some(Exit::Signal(11)));
        j.last_cause = Some(Cause::Outside);
        assert_eq!(
            why_not(&j, WaitKind::Start).as_deref(),
            Some("did not start: main process ended (signal SEGV (not sent by gsup))")
        );
        let mut j = job(State::Failed, Some("task ended with exit 3"), None);
        j.policy.task = true;
        assert_eq!(
            why_not(&j, WaitKind::Emit).as_deref(),
            Some("failed: task ended with exit 3")
        );
        assert_eq!(
            why_not(&j, WaitKind::Start).as_deref(),
            Some("failed: task ended with exit 3")
        );
        let ok = job(State::Waiting, None, Some(Exit::Code(0)));
        assert_eq!(why_not(&ok, WaitKind::Emit), None);
        assert_eq!(why_not(&ok, WaitKind::Stop), None);
    }
}
