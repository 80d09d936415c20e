//! The pure job state machine: `step` is one exhaustive match over (state, input).
//! It never does I/O or reads the clock: processes, timers and events leave as effects.

use super::policy::Policy;
use super::state::{Exit, Goal, State};
use crate::sys::KillTarget;
use crate::unit::Signal;
use std::collections::VecDeque;
use std::time::Instant;

/// One process of a job, as Upstart names them (`PROCESS=` of `stopping`/`stopped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Process {
    Main,
    PreStart,
    PostStart,
    PreStop,
    PostStop,
}

impl Process {
    /// The word of the `PROCESS` event variable.
    pub fn as_str(self) -> &'static str {
        match self {
            Process::Main => "main",
            Process::PreStart => "pre-start",
            Process::PostStart => "post-start",
            Process::PreStop => "pre-stop",
            Process::PostStop => "post-stop",
        }
    }
}

/// The timers a job can arm; each comes back as `Input::Timer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// `kill_timeout` after the kill signal: escalate to SIGKILL.
    KillTimeout,
    /// `respawn_delay` before a respawn (never armed when the delay is 0).
    RespawnDelay,
    /// `ready_timeout` after the main process was spawned.
    ReadyTimeout,
}

/// What a watchdog check asks of a job (the seam for the watchdog helper).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckAction {
    Restart,
    Stop,
}

/// Everything that can happen to a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `gsup start`, a matching `start_on`, or a restart's second half.
    Start,
    /// `gsup stop`, a matching `stop_on`, or shutdown.
    Stop,
    /// The `Effect::Spawn` of this process succeeded.
    Spawned { process: Process, pid: i32 },
    /// The `Effect::Spawn` of this process failed (stage and errno in `reason`).
    SpawnFailed { process: Process, reason: String },
    /// A process of the job was reaped, with its whole wait status.
    Exited { process: Process, exit: Exit },
    /// The readiness probe succeeded.
    Ready,
    /// A timer armed by `Effect::SetTimer` expired.
    Timer(Timer),
    /// Pidfile seam: the main process is now `pid` (no restart, no event).
    MainReplaced { pid: i32 },
    /// Pidfile seam: no live main process within `pidfile_grace`; the main
    /// process has ended, with its last known exit if any.
    MainLost,
    /// Watchdog seam: a check fired with this action.
    Check { action: CheckAction, reason: String },
}

/// What the supervisor must do for the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Expand and spawn this process; answer with `Spawned` or `SpawnFailed`.
    Spawn(Process),
    /// Send `sig` to a process group or one pid.
    Signal { target: KillTarget, sig: Signal },
    /// Send `sig` to every known process of the job outside its group.
    SignalStrays { sig: Signal },
    /// Arm a timer (replacing one of the same kind).
    SetTimer(Timer, std::time::Duration),
    /// Disarm a timer (a no-op when not armed).
    CancelTimer(Timer),
    /// Emit `NAME JOB` with `JOB`, `INSTANCE` prepended to `env`.
    Emit {
        name: &'static str,
        env: Vec<(String, String)>,
    },
    /// Start probing readiness (tcp, exec, notify).
    StartReadiness,
    /// Stop probing readiness.
    StopReadiness,
    /// A lifecycle line for the daemon log (info).
    Log(String),
    /// An input that cannot happen in this state; logged (warn) and ignored.
    Ignored(String),
}

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
            respawns: VecDeque::new(),
            restarts: 0,
            spawned_at: None,
            delay_pending: false,
        }
    }

    /// True when the job rests where its goal points: a waiter can be answered.
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
        (Starting | PreStart | Spawned | PostStart | Running, Input::Start) => {}
        (PreStop | Stopping | Killed | PostStop, Input::Start) => {
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
        ) => {
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
        ) => {
            job.outcome = Some(Outcome {
                ok: false,
                process: Process::PreStart,
                exit: None,
            });
            fail(job, format!("pre-start: {reason}"), fx_ref);
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
            fail(job, format!("not ready within {t}"), fx_ref);
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
        (Spawned | PostStart | Running, Input::Check { action, reason }) => {
            fx_ref.push(Effect::Log(format!("check: {reason}")));
            match action {
                CheckAction::Restart => {
                    // Goal stays start: stopping, killed, post-stop, then starting.
                    job.restarts += 1;
                    stop_readiness(job, fx_ref);
                    go(job, Stopping, now, fx_ref);
                }
                CheckAction::Stop => {
                    fail(job, format!("stopped by check: {reason}"), fx_ref);
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
            Input::Check { reason, .. },
        ) => ignored(job, format!("check: {reason}"), fx_ref),
    }
    fx
}

/// The hook that runs in `state`, if the state has one.
fn hook_of(state: State) -> Option<Process> {
    match state {
        State::PreStart => Some(Process::PreStart),
        State::PostStart => Some(Process::PostStart),
        State::PreStop => Some(Process::PreStop),
        State::PostStop => Some(Process::PostStop),
        State::Waiting
        | State::Starting
        | State::Spawned
        | State::Running
        | State::Stopping
        | State::Killed
        | State::Failed => None,
    }
}

fn ignored(job: &Job, what: String, fx: &mut Vec<Effect>) {
    fx.push(Effect::Ignored(format!(
        "{what} ignored in {}/{}",
        job.goal, job.state
    )));
}

fn fail(job: &mut Job, reason: String, fx: &mut Vec<Effect>) {
    fx.push(Effect::Log(format!("failed: {reason}")));
    job.goal = Goal::Stop;
    job.failed = true;
    job.reason = Some(reason);
}

fn stop_readiness(job: &Job, fx: &mut Vec<Effect>) {
    if job.policy.wait_ready && !job.ready && job.main_pid.is_some() {
        fx.push(Effect::StopReadiness);
        fx.push(Effect::CancelTimer(Timer::ReadyTimeout));
    }
}

/// Signals the job's group (and, for SIGKILL, every known stray).
fn kill(job: &Job, sig: Signal, fx: &mut Vec<Effect>) {
    if let Some(pg) = job.pgid {
        fx.push(Effect::Signal {
            target: KillTarget::Group(pg),
            sig,
        });
    }
    if let Some(pid) = job.main_pid
        && Some(pid) != job.pgid
    {
        fx.push(Effect::Signal {
            target: KillTarget::Pid(pid),
            sig,
        });
    }
    if sig == Signal::KILL {
        fx.push(Effect::SignalStrays { sig });
    }
}

/// The main process ended (`exit` None: lost, per the pidfile seam).
fn main_exited(job: &mut Job, exit: Option<Exit>, now: Instant, fx: &mut Vec<Effect>) {
    job.main_pid = None;
    if exit.is_some() {
        job.last_exit = exit;
    }
    let text = exit.map_or("lost".to_string(), exit_text);
    fx.push(Effect::Log(format!("main process ended ({text})")));
    if job.state == State::Spawned && job.policy.wait_ready && !job.ready {
        fx.push(Effect::StopReadiness);
        fx.push(Effect::CancelTimer(Timer::ReadyTimeout));
    }
    if job.state == State::Killed {
        let ok = exit.is_none_or(|e| job.policy.is_normal(e) || job.policy.is_kill(e));
        job.outcome = Some(Outcome {
            ok,
            process: Process::Main,
            exit,
        });
        fx.push(Effect::CancelTimer(Timer::KillTimeout));
        sweep(job, fx);
        advance(job, now, fx);
        return;
    }
    let normal = exit.is_some_and(|e| job.policy.is_normal(e));
    if job.goal == Goal::Stop {
        // Ended while a hook ran on the way down: the stop finishes after it.
        let ok = exit.is_none_or(|e| normal || job.policy.is_kill(e));
        job.outcome = Some(Outcome {
            ok,
            process: Process::Main,
            exit,
        });
    } else if !normal && job.policy.respawn {
        job.outcome = Some(Outcome {
            ok: false,
            process: Process::Main,
            exit,
        });
        respawn_or_fail(job, now, fx);
    } else {
        job.goal = Goal::Stop;
        job.outcome = Some(Outcome {
            ok: normal,
            process: Process::Main,
            exit,
        });
        if !normal && job.policy.task {
            fail(job, format!("task ended with {text}"), fx);
        }
    }
    if job.hook.is_none() {
        go(job, State::Stopping, now, fx);
    }
}

/// Pure respawn throttling: more than `count` respawns within `interval` fails.
fn respawn_or_fail(job: &mut Job, now: Instant, fx: &mut Vec<Effect>) {
    let limit = job.policy.respawn_limit;
    while let Some(&t) = job.respawns.front() {
        if now.saturating_duration_since(t) >= limit.interval {
            job.respawns.pop_front();
        } else {
            break;
        }
    }
    if job.respawns.len() >= limit.count as usize {
        let i = crate::job::policy::duration_text(limit.interval);
        fail(job, format!("respawn limit ({} in {i})", limit.count), fx);
        return;
    }
    job.respawns.push_back(now);
    job.restarts += 1;
    job.delay_pending = !job.policy.respawn_delay.is_zero();
    fx.push(Effect::Log(format!(
        "respawning (restart {})",
        job.restarts
    )));
}

/// Whatever is left of the job's group after its main process ended is killed.
fn sweep(job: &mut Job, fx: &mut Vec<Effect>) {
    kill(job, Signal::KILL, fx);
    job.pgid = None;
}

fn hook_exited(job: &mut Job, process: Process, exit: Exit, now: Instant, fx: &mut Vec<Effect>) {
    job.hook = None;
    if exit != Exit::Code(0) {
        fx.push(Effect::Log(format!(
            "{} ended with {}",
            process.as_str(),
            exit_text(exit)
        )));
        if process == Process::PreStart {
            job.outcome = Some(Outcome {
                ok: false,
                process,
                exit: Some(exit),
            });
            fail(job, format!("pre-start ended with {}", exit_text(exit)), fx);
        }
    }
    advance(job, now, fx);
}

/// `exit 3` / `signal KILL`, as status lines print a last exit.
pub fn exit_text(exit: Exit) -> String {
    match exit {
        Exit::Code(c) => format!("exit {c}"),
        Exit::Signal(s) => format!("signal {}", crate::job::policy::signal_name(s)),
    }
}

/// Moves on from the current state once its work is done.
fn advance(job: &mut Job, now: Instant, fx: &mut Vec<Effect>) {
    let mut next = next_state(job.state, job.goal, job.failed);
    if matches!(next, State::PostStart | State::Running) && job.main_pid.is_none() {
        next = State::Stopping;
    }
    go(job, next, now, fx);
}

/// Enters `to` and keeps moving while the entered state has nothing to wait for.
fn go(job: &mut Job, to: State, now: Instant, fx: &mut Vec<Effect>) {
    job.state = to;
    let rests = match to {
        State::Waiting => {
            emit_end(job, "stopped", fx);
            true
        }
        State::Failed => {
            emit_end(job, "stopped", fx);
            true
        }
        State::Starting => {
            fx.push(Effect::Emit {
                name: "starting",
                env: Vec::new(),
            });
            if job.delay_pending {
                fx.push(Effect::SetTimer(
                    Timer::RespawnDelay,
                    job.policy.respawn_delay,
                ));
            }
            job.delay_pending
        }
        State::PreStart => spawn_hook(job, Process::PreStart, fx),
        State::Spawned => {
            job.main_pid = None;
            fx.push(Effect::Spawn(Process::Main));
            true
        }
        State::PostStart => spawn_hook(job, Process::PostStart, fx),
        State::Running => {
            fx.push(Effect::Emit {
                name: "started",
                env: Vec::new(),
            });
            true
        }
        State::PreStop => job.main_pid.is_some() && spawn_hook(job, Process::PreStop, fx),
        State::Stopping => {
            emit_end(job, "stopping", fx);
            false
        }
        State::Killed => {
            if job.main_pid.is_some() {
                kill(job, job.policy.kill_signal, fx);
                fx.push(Effect::SetTimer(
                    Timer::KillTimeout,
                    job.policy.kill_timeout,
                ));
                true
            } else {
                if job.pgid.is_some() {
                    sweep(job, fx);
                }
                false
            }
        }
        State::PostStop => spawn_hook(job, Process::PostStop, fx),
    };
    if !rests {
        advance(job, now, fx);
    }
}

fn spawn_hook(job: &mut Job, process: Process, fx: &mut Vec<Effect>) -> bool {
    if job.policy.has_hook(process) {
        fx.push(Effect::Spawn(process));
        true
    } else {
        false
    }
}

/// Emits `stopping`/`stopped` with `RESULT`, `PROCESS`, `EXIT_STATUS`/`EXIT_SIGNAL`.
fn emit_end(job: &Job, name: &'static str, fx: &mut Vec<Effect>) {
    let mut env = Vec::new();
    let ok = !job.failed && job.outcome.is_none_or(|o| o.ok);
    env.push((
        "RESULT".to_string(),
        if ok { "ok" } else { "failed" }.to_string(),
    ));
    if let Some(o) = job.outcome {
        env.push(("PROCESS".to_string(), o.process.as_str().to_string()));
        match o.exit {
            Some(Exit::Code(c)) => env.push(("EXIT_STATUS".to_string(), c.to_string())),
            Some(Exit::Signal(s)) => env.push((
                "EXIT_SIGNAL".to_string(),
                crate::job::policy::signal_name(s),
            )),
            None => {}
        }
    }
    fx.push(Effect::Emit { name, env });
}
