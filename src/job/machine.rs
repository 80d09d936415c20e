//! The pure job state machine: `step` is one exhaustive match over (state, input).
//! It never does I/O or reads the clock: processes, timers and events leave as effects.

pub use super::cause::Cause;
pub use super::io::{CheckAction, Effect, Input, Process, Timer};
use super::policy::Policy;
use super::state::{Exit, Goal, State};
pub use super::transitions::exit_text;
use super::transitions::{
    advance, fail, go, hook_exited, hook_of, ignored, kill, main_exited, stop_readiness,
};
use crate::unit::Signal;
use std::collections::VecDeque;
use std::time::Instant;

/// How the last run of the main process (or a hook) ended, for the
/// `RESULT`/`PROCESS`/`EXIT_*` variables of `stopping` and `stopped`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Outcome {
    pub ok: bool,
    pub process: Process,
    pub exit: Option<Exit>,
}

/// One job instance's lifecycle: the goal and state apart, plus the facts the
/// next transition needs. Owned by the supervisor; changed only by `step`.
#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub policy: Policy,
    pub goal: Goal,
    pub state: State,
    /// The main process while it lives (replaced when a pidfile names another).
    pub main_pid: Option<i32>,
    /// Process group of the job: the first main pid of this run (setsid).
    pub pgid: Option<i32>,
    /// The hook running now, if any.
    pub hook: Option<Process>,
    /// Whether the main process counted as ready this run.
    pub ready: bool,
    /// The run failed: the job ends `stop/failed` rather than `stop/waiting`.
    pub failed: bool,
    /// Why the job failed, for `status`.
    pub reason: Option<String>,
    /// How the current or last run ended.
    pub outcome: Option<Outcome>,
    pub last_exit: Option<Exit>,
    /// Why the last exit happened, when gsup ended the process or a signal
    /// came from outside (`status` prints it after the exit).
    pub last_cause: Option<Cause>,
    /// Why gsup is ending the current run, once it has begun to (a stop, a
    /// check, `kill_timeout`); cleared when the next main process is spawned.
    pub kill_cause: Option<Cause>,
    /// Times of the recent respawns (respawn throttling, pure).
    pub respawns: VecDeque<Instant>,
    pub restarts: u32,
    /// When the current main process was spawned (uptime).
    pub spawned_at: Option<Instant>,
    /// A respawn is pending: the `starting` state waits out `respawn_delay`.
    pub delay_pending: bool,
}

impl Job {
    /// A new job instance: `stop/waiting`.
    pub fn new(policy: Policy) -> Job {
        Job {
            policy,
            goal: Goal::Stop,
            state: State::Waiting,
            main_pid: None,
            pgid: None,
            hook: None,
            ready: false,
            failed: false,
            reason: None,
            outcome: None,
            last_exit: None,
            last_cause: None,
            kill_cause: None,
            respawns: VecDeque::new(),
            restarts: 0,
            spawned_at: None,
            delay_pending: false,
        }
    }

    /// A job taken back from a daemon that ran before this one (its saved
    /// state): `start/running` with the main process it had, counting as
    /// ready. No event: the jobs that followed it were taken back too.
    pub fn adopted(policy: Policy, main: i32, pgid: Option<i32>, spawned_at: Instant) -> Job {
        Job {
            goal: Goal::Start,
            state: State::Running,
            main_pid: Some(main),
            pgid,
            ready: true,
            spawned_at: Some(spawned_at),
            ..Job::new(policy)
        }
    }

    /// True when the job rests where its goal points: a waiter can be answered.
    /// True while the job waits for the outcome of spawning `p` (the input
    /// `Spawned` or `SpawnFailed`): a spawn put off by a shortage may then
    /// be tried again.
    pub fn awaits_spawn(&self, p: Process) -> bool {
        match p {
            Process::Main => self.state == State::Spawned && self.main_pid.is_none(),
            hook => self.hook.is_none() && super::transitions::hook_of(self.state) == Some(hook),
        }
    }

    pub fn is_settled(&self) -> bool {
        match self.goal {
            Goal::Stop => matches!(self.state, State::Waiting | State::Failed),
            Goal::Start => self.state == State::Running && !self.policy.task,
        }
    }
}

/// Upstart's `job_next_state`: where a job goes when the current state's work
/// is done. `docs/states.md` holds this table; a test checks they agree.
pub fn next_state(state: State, goal: Goal, failed: bool) -> State {
    use State::*;
    match (state, goal) {
        (Waiting, Goal::Start) => Starting,
        (Waiting, Goal::Stop) => Waiting,
        (Starting, Goal::Start) => PreStart,
        (Starting, Goal::Stop) => Stopping,
        (PreStart, Goal::Start) => Spawned,
        (PreStart, Goal::Stop) => Stopping,
        (Spawned, Goal::Start) => PostStart,
        (Spawned, Goal::Stop) => Stopping,
        (PostStart, Goal::Start) => Running,
        (PostStart, Goal::Stop) => Stopping,
        (Running, Goal::Start) => Stopping,
        (Running, Goal::Stop) => PreStop,
        (PreStop, Goal::Start) => Running,
        (PreStop, Goal::Stop) => Stopping,
        (Stopping, Goal::Start | Goal::Stop) => Killed,
        (Killed, Goal::Start | Goal::Stop) => PostStop,
        (PostStop, Goal::Start) => Starting,
        (PostStop, Goal::Stop) if failed => Failed,
        (PostStop, Goal::Stop) => Waiting,
        (Failed, Goal::Start) => Starting,
        (Failed, Goal::Stop) => Failed,
    }
}

/// Feeds one input to a job; returns the effects, in order.
pub fn step(job: &mut Job, input: Input, now: Instant) -> Vec<Effect> {
    use State::*;
    let mut fx = Vec::new();
    let fx_ref = &mut fx;
    match (job.state, input) {
        (Waiting | Failed, Input::Start) => {
            job.goal = Goal::Start;
            job.failed = false;
            job.reason = None;
            job.outcome = None;
            job.respawns.clear();
            go(job, Starting, now, fx_ref);
        }
        (
            Starting | PreStart | Spawned | PostStart | Running | PreStop | Stopping | Killed
            | PostStop,
            Input::Start,
        ) => {
            job.goal = Goal::Start;
            job.failed = false;
        }
        (Waiting | Failed, Input::Stop) => job.goal = Goal::Stop,
        (Starting, Input::Stop) => {
            job.goal = Goal::Stop;
            job.delay_pending = false;
            fx_ref.push(Effect::CancelTimer(Timer::RespawnDelay));
            go(job, Stopping, now, fx_ref);
        }
        (Spawned, Input::Stop) => {
            job.goal = Goal::Stop;
            stop_readiness(job, fx_ref);
            go(job, Stopping, now, fx_ref);
        }
        (Running, Input::Stop) => {
            job.goal = Goal::Stop;
            go(job, PreStop, now, fx_ref);
        }
        (PreStart | PostStart | PreStop | Stopping | Killed | PostStop, Input::Stop) => {
            job.goal = Goal::Stop;
        }
        (
            Spawned,
            Input::Spawned {
                process: Process::Main,
                pid,
            },
        ) if job.main_pid.is_none() => {
            job.main_pid = Some(pid);
            job.pgid = Some(pid);
            job.spawned_at = Some(now);
            job.ready = false;
            job.outcome = None;
            fx_ref.push(Effect::Log(format!("main process {pid} spawned")));
            if job.policy.wait_ready {
                fx_ref.push(Effect::StartReadiness);
                fx_ref.push(Effect::SetTimer(
                    Timer::ReadyTimeout,
                    job.policy.ready_timeout,
                ));
            } else {
                job.ready = true;
                advance(job, now, fx_ref);
            }
        }
        (PreStart | PostStart | PreStop | PostStop, Input::Spawned { process, pid })
            if job.hook.is_none() && hook_of(job.state) == Some(process) =>
        {
            job.hook = Some(process);
            fx_ref.push(Effect::Log(format!(
                "{} process {pid} spawned",
                process.as_str()
            )));
        }
        (
            Waiting | Failed | Starting | PreStart | Spawned | PostStart | Running | PreStop
            | Stopping | Killed | PostStop,
            Input::Spawned { process, pid },
        ) => ignored(job, format!("spawned {} {pid}", process.as_str()), fx_ref),
        (
            Spawned,
            Input::SpawnFailed {
                process: Process::Main,
                reason,
            },
        ) if job.main_pid.is_none() => {
            job.last_exit = None;
            job.outcome = Some(Outcome {
                ok: false,
                process: Process::Main,
                exit: None,
            });
            fail(job, reason, fx_ref);
            go(job, Stopping, now, fx_ref);
        }
        (
            PreStart,
            Input::SpawnFailed {
                process: Process::PreStart,
                reason,
            },
        ) if job.hook.is_none() => {
            job.outcome = Some(Outcome {
                ok: false,
                process: Process::PreStart,
                exit: None,
            });
            fail(job, format!("pre-start: {reason}"), fx_ref);
            fx_ref.push(Effect::Note(format!(
                "stopped: pre-start could not start: {reason}"
            )));
            advance(job, now, fx_ref);
        }
        (PostStart | PreStop | PostStop, Input::SpawnFailed { process, reason })
            if hook_of(job.state) == Some(process) =>
        {
            fx_ref.push(Effect::Log(format!(
                "{} failed: {reason}",
                process.as_str()
            )));
            advance(job, now, fx_ref);
        }
        (
            Waiting | Failed | Starting | PreStart | Spawned | PostStart | Running | PreStop
            | Stopping | Killed | PostStop,
            Input::SpawnFailed { process, reason },
        ) => ignored(
            job,
            format!("spawn of {} failed: {reason}", process.as_str()),
            fx_ref,
        ),
        (
            Spawned | PostStart | Running | PreStop | Killed,
            Input::Exited {
                process: Process::Main,
                exit,
            },
        ) if job.main_pid.is_some() => {
            main_exited(job, Some(exit), now, fx_ref);
        }
        (PreStart | PostStart | PreStop | PostStop, Input::Exited { process, exit })
            if job.hook == Some(process) =>
        {
            hook_exited(job, process, exit, now, fx_ref);
        }
        (
            Waiting | Failed | Starting | PreStart | Spawned | PostStart | Running | PreStop
            | Stopping | Killed | PostStop,
            Input::Exited { process, exit },
        ) => ignored(
            job,
            format!("{} exited ({})", process.as_str(), exit_text(exit)),
            fx_ref,
        ),
        (Spawned, Input::Ready) if !job.ready && job.main_pid.is_some() => {
            job.ready = true;
            fx_ref.push(Effect::CancelTimer(Timer::ReadyTimeout));
            fx_ref.push(Effect::StopReadiness);
            fx_ref.push(Effect::Log("ready".into()));
            advance(job, now, fx_ref);
        }
        (
            Waiting | Failed | Starting | PreStart | Spawned | PostStart | Running | PreStop
            | Stopping | Killed | PostStop,
            Input::Ready,
        ) => ignored(job, "ready".into(), fx_ref),
        (Killed, Input::Timer(Timer::KillTimeout)) if job.main_pid.is_some() => {
            fx_ref.push(Effect::Log(format!(
                "still alive after kill_timeout {}: SIGKILL",
                crate::job::policy::duration_text(job.policy.kill_timeout)
            )));
            job.kill_cause = Some(Cause::KillTimeout(job.policy.kill_timeout));
            kill(job, Signal::KILL, fx_ref);
        }
        (Starting, Input::Timer(Timer::RespawnDelay)) if job.delay_pending => {
            job.delay_pending = false;
            advance(job, now, fx_ref);
        }
        (Spawned, Input::Timer(Timer::ReadyTimeout)) if !job.ready => {
            stop_readiness(job, fx_ref);
            let t = crate::job::policy::duration_text(job.policy.ready_timeout);
            job.outcome = Some(Outcome {
                ok: false,
                process: Process::Main,
                exit: None,
            });
            let reason = format!("not ready within {t}");
            fx_ref.push(Effect::Note(format!("stopping: {reason}")));
            job.kill_cause = Some(Cause::Failed(reason.clone()));
            fail(job, reason, fx_ref);
            go(job, Stopping, now, fx_ref);
        }
        (
            Waiting | Failed | Starting | PreStart | Spawned | PostStart | Running | PreStop
            | Stopping | Killed | PostStop,
            Input::Timer(t),
        ) => ignored(job, format!("stale timer {t:?}"), fx_ref),
        (Spawned | PostStart | Running | PreStop | Killed, Input::MainReplaced { pid })
            if job.main_pid.is_some() =>
        {
            let old = job.main_pid.replace(pid).unwrap_or(0);
            fx_ref.push(Effect::Log(format!("main process {old} replaced by {pid}")));
        }
        (
            Waiting | Failed | Starting | PreStart | Spawned | PostStart | Running | PreStop
            | Stopping | Killed | PostStop,
            Input::MainReplaced { pid },
        ) => ignored(job, format!("main replaced by {pid}"), fx_ref),
        (Spawned | PostStart | Running | PreStop | Killed, Input::MainLost)
            if job.main_pid.is_some() =>
        {
            main_exited(job, None, now, fx_ref);
        }
        (
            Waiting | Failed | Starting | PreStart | Spawned | PostStart | Running | PreStop
            | Stopping | Killed | PostStop,
            Input::MainLost,
        ) => ignored(job, "main lost".into(), fx_ref),
        (
            Spawned | PostStart | Running,
            Input::Check {
                action,
                rule,
                value,
            },
        ) => {
            let failed = format!("check '{rule}' failed: {value}");
            fx_ref.push(Effect::Log(failed.clone()));
            job.kill_cause = Some(Cause::Check { rule, value });
            match action {
                CheckAction::Restart => {
                    // Goal stays start: stopping, killed, post-stop, then starting.
                    fx_ref.push(Effect::Note(format!("restarting: {failed}")));
                    job.restarts += 1;
                    stop_readiness(job, fx_ref);
                    go(job, Stopping, now, fx_ref);
                }
                CheckAction::Stop => {
                    fx_ref.push(Effect::Note(format!("stopping: {failed}")));
                    fail(job, failed, fx_ref);
                    stop_readiness(job, fx_ref);
                    let to = if job.state == Running {
                        PreStop
                    } else {
                        Stopping
                    };
                    go(job, to, now, fx_ref);
                }
            }
        }
        (
            Waiting | Failed | Starting | PreStart | PreStop | Stopping | Killed | PostStop,
            Input::Check { rule, value, .. },
        ) => ignored(job, format!("check '{rule}': {value}"), fx_ref),
    }
    fx
}
