//! The entry actions of each state and the exits of processes: what `step` does
//! once it has chosen a transition. Pure: effects only, no I/O, no clock.

use super::cause::{Cause, ended_note};
use super::io::{Effect, Process, Timer};
use super::machine::{Job, Outcome, next_state};
use super::state::{Exit, Goal, State};
use crate::sys::KillTarget;
use crate::unit::Signal;
use std::time::Instant;

/// The hook that runs in `state`, if the state has one.
pub(super) fn hook_of(state: State) -> Option<Process> {
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

pub(super) fn ignored(job: &Job, what: String, fx: &mut Vec<Effect>) {
    fx.push(Effect::Ignored(format!(
        "{what} ignored in {}/{}",
        job.goal, job.state
    )));
}

pub(super) fn fail(job: &mut Job, reason: String, fx: &mut Vec<Effect>) {
    fx.push(Effect::Log(format!("failed: {reason}")));
    job.goal = Goal::Stop;
    job.failed = true;
    job.reason = Some(reason);
}

pub(super) fn stop_readiness(job: &Job, fx: &mut Vec<Effect>) {
    if job.policy.wait_ready && !job.ready && job.main_pid.is_some() {
        fx.push(Effect::StopReadiness);
        fx.push(Effect::CancelTimer(Timer::ReadyTimeout));
    }
}

/// Signals the job's group (and, for SIGKILL, every known stray).
pub(super) fn kill(job: &Job, sig: Signal, fx: &mut Vec<Effect>) {
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
pub(super) fn main_exited(job: &mut Job, exit: Option<Exit>, now: Instant, fx: &mut Vec<Effect>) {
    job.main_pid = None;
    // gsup's reason when it was ending the run; a signal it did not send
    // (not while stopping: a pre-stop hook may send one) is from outside.
    let cause = match (&job.kill_cause, exit) {
        (Some(c), _) => Some(c.clone()),
        (None, Some(Exit::Signal(_))) if job.goal == Goal::Stop => Some(Cause::Stop),
        (None, Some(Exit::Signal(_))) => Some(Cause::Outside),
        (None, _) => None,
    };
    if exit.is_some() {
        job.last_exit = exit;
        job.last_cause = cause.clone();
    }
    let text = exit.map_or("lost".to_string(), exit_text);
    fx.push(Effect::Log(format!("main process ended ({text})")));
    fx.push(Effect::Note(ended_note(exit, cause.as_ref())));
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
        let reason = format!("respawn limit ({} in {i})", limit.count);
        fx.push(Effect::Note(format!("stopped: {reason}")));
        fail(job, reason, fx);
        job.last_cause = Some(Cause::RespawnLimit);
        return;
    }
    job.respawns.push_back(now);
    job.restarts += 1;
    job.delay_pending = !job.policy.respawn_delay.is_zero();
    fx.push(Effect::Log(format!(
        "respawning (restart {})",
        job.restarts
    )));
    fx.push(Effect::Note(format!(
        "respawning (restart {})",
        job.restarts
    )));
}

/// Whatever is left of the job's group after its main process ended is killed.
fn sweep(job: &mut Job, fx: &mut Vec<Effect>) {
    kill(job, Signal::KILL, fx);
    job.pgid = None;
}

pub(super) fn hook_exited(
    job: &mut Job,
    process: Process,
    exit: Exit,
    now: Instant,
    fx: &mut Vec<Effect>,
) {
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
            let reason = format!("pre-start ended with {}", exit_text(exit));
            fx.push(Effect::Note(format!("stopped: {reason}")));
            fail(job, reason, fx);
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
pub(super) fn advance(job: &mut Job, now: Instant, fx: &mut Vec<Effect>) {
    let mut next = next_state(job.state, job.goal, job.failed);
    if matches!(next, State::PostStart | State::Running) && job.main_pid.is_none() {
        next = State::Stopping;
    }
    go(job, next, now, fx);
}

/// Enters `to` and keeps moving while the entered state has nothing to wait for.
pub(super) fn go(job: &mut Job, to: State, now: Instant, fx: &mut Vec<Effect>) {
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
            job.kill_cause = None;
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
                if job.kill_cause.is_none() {
                    let sig = crate::job::policy::signal_name(job.policy.kill_signal.0);
                    fx.push(Effect::Note(format!("stopping: SIG{sig}")));
                    job.kill_cause = Some(match (&job.reason, job.failed) {
                        (Some(r), true) => Cause::Failed(r.clone()),
                        _ => Cause::Stop,
                    });
                }
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
