//! Table tests of the pure job state machine: every state × goal × input, and
//! the whole lifecycles (start, stop, respawn, limit, task, hooks, readiness).

use gsup::job::machine::{CheckAction, Effect, Input, Job, Process, Timer, next_state, step};
use gsup::job::{Exit, Goal, Policy, State};
use gsup::sys::KillTarget;
use gsup::unit::{RespawnLimit, Signal};
use std::time::{Duration, Instant};

const PID: i32 = 100;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn emit(name: &'static str, pairs: &[(&str, &str)]) -> Effect {
    Effect::Emit {
        name,
        env: env(pairs),
    }
}

/// `process` started as `pid`.
fn spawned(process: Process, pid: i32) -> Input {
    Input::Spawned { process, pid }
}

/// `process` ended with `exit`.
fn exited(process: Process, exit: Exit) -> Input {
    Input::Exited { process, exit }
}

/// Effects without the log lines, for exact comparison.
fn acts(fx: Vec<Effect>) -> Vec<Effect> {
    fx.into_iter()
        .filter(|e| !matches!(e, Effect::Log(_) | Effect::Note(_)))
        .collect()
}

/// A job resting in `state` with `goal`, holding the facts that state implies.
fn at(state: State, goal: Goal, policy: Policy) -> Job {
    let mut j = Job::new(policy);
    j.state = state;
    j.goal = goal;
    if matches!(
        state,
        State::Spawned | State::PostStart | State::Running | State::PreStop | State::Killed
    ) {
        j.main_pid = Some(PID);
        j.pgid = Some(PID);
        j.ready = state != State::Spawned;
    }
    j.hook = match state {
        State::PreStart => Some(Process::PreStart),
        State::PostStart => Some(Process::PostStart),
        State::PreStop => Some(Process::PreStop),
        State::PostStop => Some(Process::PostStop),
        _ => None,
    };
    j.delay_pending = state == State::Starting;
    j
}

fn all_inputs() -> Vec<Input> {
    let mut v = vec![Input::Start, Input::Stop, Input::Ready, Input::MainLost];
    for p in [
        Process::Main,
        Process::PreStart,
        Process::PostStart,
        Process::PreStop,
        Process::PostStop,
    ] {
        v.push(spawned(p, 200));
        v.push(Input::SpawnFailed {
            process: p,
            reason: "exec: No such file or directory (os error 2)".into(),
        });
        v.push(exited(p, Exit::Code(0)));
        v.push(exited(p, Exit::Signal(9)));
    }
    for t in [Timer::KillTimeout, Timer::RespawnDelay, Timer::ReadyTimeout] {
        v.push(Input::Timer(t));
    }
    v.push(Input::MainReplaced { pid: 300 });
    v.push(Input::Check {
        action: CheckAction::Restart,
        rule: "if mem > 1 MB then restart".into(),
        value: "mem".into(),
    });
    v.push(Input::Check {
        action: CheckAction::Stop,
        rule: "if mem > 1 MB then restart".into(),
        value: "mem".into(),
    });
    v
}

fn hooks() -> Policy {
    Policy {
        pre_start: true,
        post_start: true,
        pre_stop: true,
        post_stop: true,
        respawn: true,
        wait_ready: true,
        ..Policy::default()
    }
}

/// Every (state, goal, input): no panic; an ignored input changes nothing and
/// says so with exactly one `Ignored` effect; every other leaves a named state.
#[test]
fn every_state_goal_input_is_handled() {
    let t0 = Instant::now();
    let mut handled = 0;
    let mut ignored = 0;
    for policy in [Policy::default(), hooks()] {
        for state in State::ALL {
            for goal in [Goal::Start, Goal::Stop] {
                for input in all_inputs() {
                    let mut j = at(state, goal, policy.clone());
                    let before = j.clone();
                    let fx = step(&mut j, input.clone(), t0);
                    let ign = fx
                        .iter()
                        .filter(|e| matches!(e, Effect::Ignored(_)))
                        .count();
                    if ign > 0 {
                        assert_eq!(fx.len(), 1, "{state}/{goal} {input:?}: {fx:?}");
                        assert_eq!(
                            j, before,
                            "{state}/{goal} {input:?} ignored but changed the job"
                        );
                        ignored += 1;
                    } else {
                        handled += 1;
                    }
                    assert!(State::ALL.contains(&j.state));
                }
            }
        }
    }
    assert!(
        handled > 100 && ignored > 100,
        "handled {handled}, ignored {ignored}"
    );
}

/// The inputs that must be handled (not ignored) in each resting state.
#[test]
fn expected_inputs_are_not_ignored() {
    let t0 = Instant::now();
    let rows: Vec<(State, Goal, Input, State)> = vec![
        (State::Waiting, Goal::Stop, Input::Start, State::Spawned),
        (State::Failed, Goal::Stop, Input::Start, State::Spawned),
        (State::Running, Goal::Start, Input::Stop, State::Killed),
        (State::Spawned, Goal::Start, Input::Ready, State::Running),
        (State::Spawned, Goal::Start, Input::Stop, State::Killed),
        (
            State::Killed,
            Goal::Stop,
            exited(Process::Main, Exit::Signal(15)),
            State::Waiting,
        ),
        (
            State::Killed,
            Goal::Start,
            exited(Process::Main, Exit::Signal(15)),
            State::Spawned,
        ),
        (
            State::Killed,
            Goal::Stop,
            Input::Timer(Timer::KillTimeout),
            State::Killed,
        ),
        (
            State::Spawned,
            Goal::Start,
            Input::Timer(Timer::ReadyTimeout),
            State::Killed,
        ),
        (
            State::Starting,
            Goal::Start,
            Input::Timer(Timer::RespawnDelay),
            State::Spawned,
        ),
        (State::Starting, Goal::Start, Input::Stop, State::Waiting),
        (
            State::Running,
            Goal::Start,
            Input::MainReplaced { pid: 300 },
            State::Running,
        ),
        (State::Running, Goal::Start, Input::MainLost, State::Waiting),
        (
            State::Running,
            Goal::Start,
            Input::Check {
                action: CheckAction::Restart,
                rule: "if mem > 1 MB then restart".into(),
                value: "m".into(),
            },
            State::Killed,
        ),
    ];
    for (state, goal, input, want) in rows {
        let mut policy = Policy {
            wait_ready: state == State::Spawned,
            ..Policy::default()
        };
        policy.respawn_delay = Duration::from_secs(1);
        let mut j = at(state, goal, policy);
        let fx = step(&mut j, input.clone(), t0);
        assert!(
            !fx.iter().any(|e| matches!(e, Effect::Ignored(_))),
            "{state}/{goal} {input:?}: {fx:?}"
        );
        assert_eq!(j.state, want, "{state}/{goal} {input:?}: {fx:?}");
    }
}

#[test]
fn start_then_stop_of_a_plain_service() {
    let t0 = Instant::now();
    let mut j = Job::new(Policy::default());
    let fx = acts(step(&mut j, Input::Start, t0));
    assert_eq!(
        fx,
        vec![emit("starting", &[]), Effect::Spawn(Process::Main)]
    );
    assert_eq!((j.goal, j.state), (Goal::Start, State::Spawned));
    let fx = acts(step(&mut j, spawned(Process::Main, PID), t0));
    assert_eq!(fx, vec![emit("started", &[])]);
    assert_eq!(
        (j.goal, j.state, j.main_pid),
        (Goal::Start, State::Running, Some(PID))
    );
    assert!(j.is_settled());

    let fx = acts(step(&mut j, Input::Stop, t0));
    assert_eq!(
        fx,
        vec![
            emit("stopping", &[("RESULT", "ok")]),
            Effect::Signal {
                target: KillTarget::Group(PID),
                sig: Signal::TERM
            },
            Effect::SetTimer(Timer::KillTimeout, Duration::from_secs(5)),
        ]
    );
    assert_eq!((j.goal, j.state), (Goal::Stop, State::Killed));
    let fx = acts(step(&mut j, exited(Process::Main, Exit::Signal(15)), t0));
    assert_eq!(
        fx,
        vec![
            Effect::CancelTimer(Timer::KillTimeout),
            Effect::Signal {
                target: KillTarget::Group(PID),
                sig: Signal::KILL
            },
            Effect::SignalStrays { sig: Signal::KILL },
            emit(
                "stopped",
                &[
                    ("RESULT", "ok"),
                    ("PROCESS", "main"),
                    ("EXIT_SIGNAL", "TERM")
                ]
            ),
        ]
    );
    assert_eq!(
        (j.goal, j.state, j.main_pid),
        (Goal::Stop, State::Waiting, None)
    );
}

#[test]
fn kill_timeout_escalates_to_sigkill_and_the_kill_counts_as_ok() {
    let t0 = Instant::now();
    let mut j = at(State::Running, Goal::Start, Policy::default());
    step(&mut j, Input::Stop, t0);
    let fx = acts(step(&mut j, Input::Timer(Timer::KillTimeout), t0));
    assert_eq!(
        fx,
        vec![
            Effect::Signal {
                target: KillTarget::Group(PID),
                sig: Signal::KILL
            },
            Effect::SignalStrays { sig: Signal::KILL },
        ]
    );
    let fx = acts(step(&mut j, exited(Process::Main, Exit::Signal(9)), t0));
    assert!(
        fx.contains(&emit(
            "stopped",
            &[
                ("RESULT", "ok"),
                ("PROCESS", "main"),
                ("EXIT_SIGNAL", "KILL")
            ]
        )),
        "{fx:?}"
    );
    assert_eq!(j.state, State::Waiting);
}

#[test]
fn respawn_after_a_crash_spawns_at_once_without_timers() {
    let t0 = Instant::now();
    let mut j = at(
        State::Running,
        Goal::Start,
        Policy {
            respawn: true,
            ..Policy::default()
        },
    );
    let fx = acts(step(&mut j, exited(Process::Main, Exit::Signal(9)), t0));
    assert_eq!(
        fx,
        vec![
            emit(
                "stopping",
                &[
                    ("RESULT", "failed"),
                    ("PROCESS", "main"),
                    ("EXIT_SIGNAL", "KILL")
                ]
            ),
            Effect::Signal {
                target: KillTarget::Group(PID),
                sig: Signal::KILL
            },
            Effect::SignalStrays { sig: Signal::KILL },
            emit("starting", &[]),
            Effect::Spawn(Process::Main),
        ]
    );
    assert_eq!(
        (j.goal, j.state, j.restarts),
        (Goal::Start, State::Spawned, 1)
    );
    step(&mut j, spawned(Process::Main, 101), t0);
    assert_eq!(
        (j.state, j.main_pid, j.pgid),
        (State::Running, Some(101), Some(101))
    );
}

#[test]
fn respawn_delay_is_a_timer() {
    let t0 = Instant::now();
    let policy = Policy {
        respawn: true,
        respawn_delay: Duration::from_millis(300),
        ..Policy::default()
    };
    let mut j = at(State::Running, Goal::Start, policy);
    let fx = acts(step(&mut j, exited(Process::Main, Exit::Code(1)), t0));
    assert_eq!(
        fx.last(),
        Some(&Effect::SetTimer(
            Timer::RespawnDelay,
            Duration::from_millis(300)
        ))
    );
    assert_eq!((j.goal, j.state), (Goal::Start, State::Starting));
    let fx = acts(step(&mut j, Input::Timer(Timer::RespawnDelay), t0));
    assert_eq!(fx, vec![Effect::Spawn(Process::Main)]);
}

#[test]
fn respawn_limit_fails_the_job_on_the_eleventh_crash_within_the_interval() {
    let t0 = Instant::now();
    let mut j = at(
        State::Running,
        Goal::Start,
        Policy {
            respawn: true,
            ..Policy::default()
        },
    );
    for i in 0..10u32 {
        let now = t0 + Duration::from_millis(10 * i as u64);
        step(&mut j, exited(Process::Main, Exit::Code(1)), now);
        assert_eq!((j.state, j.restarts), (State::Spawned, i + 1));
        step(&mut j, spawned(Process::Main, 200 + i as i32), now);
    }
    let fx = acts(step(
        &mut j,
        exited(Process::Main, Exit::Code(1)),
        t0 + Duration::from_millis(200),
    ));
    assert_eq!((j.goal, j.state), (Goal::Stop, State::Failed));
    assert_eq!(j.reason.as_deref(), Some("respawn limit (10 in 5s)"));
    assert_eq!(
        fx.last(),
        Some(&emit(
            "stopped",
            &[
                ("RESULT", "failed"),
                ("PROCESS", "main"),
                ("EXIT_STATUS", "1")
            ]
        ))
    );
    assert!(j.is_settled());
}

#[test]
fn crashes_spread_beyond_the_interval_never_hit_the_limit() {
    let t0 = Instant::now();
    let policy = Policy {
        respawn: true,
        respawn_limit: RespawnLimit {
            count: 2,
            interval: Duration::from_secs(1),
        },
        ..Policy::default()
    };
    let mut j = at(State::Running, Goal::Start, policy);
    for i in 0..20u64 {
        let now = t0 + Duration::from_millis(600 * i);
        step(&mut j, exited(Process::Main, Exit::Code(1)), now);
        step(&mut j, spawned(Process::Main, 200 + i as i32), now);
        assert_eq!(j.state, State::Running, "crash {i}");
    }
}

#[test]
fn normal_exit_of_a_respawning_service_stops_it() {
    let t0 = Instant::now();
    let mut j = at(
        State::Running,
        Goal::Start,
        Policy {
            respawn: true,
            ..Policy::default()
        },
    );
    step(&mut j, exited(Process::Main, Exit::Code(0)), t0);
    assert_eq!(
        (j.goal, j.state, j.restarts),
        (Goal::Stop, State::Waiting, 0)
    );
}

#[test]
fn spawn_failure_fails_the_job_with_the_reason() {
    let t0 = Instant::now();
    let mut j = Job::new(Policy::default());
    step(&mut j, Input::Start, t0);
    let reason = "exec: No such file or directory (os error 2)";
    step(
        &mut j,
        Input::SpawnFailed {
            process: Process::Main,
            reason: reason.into(),
        },
        t0,
    );
    assert_eq!((j.goal, j.state), (Goal::Stop, State::Failed));
    assert_eq!(j.reason.as_deref(), Some(reason));
    // A new start clears the failure.
    step(&mut j, Input::Start, t0);
    assert_eq!((j.state, j.reason.clone()), (State::Spawned, None));
}

#[test]
fn task_runs_to_completion_and_fails_on_nonzero_exit() {
    let t0 = Instant::now();
    let task = Policy {
        task: true,
        ..Policy::default()
    };
    let mut j = Job::new(task.clone());
    step(&mut j, Input::Start, t0);
    step(&mut j, spawned(Process::Main, PID), t0);
    assert_eq!(j.state, State::Running);
    assert!(!j.is_settled(), "a running task is not settled");
    step(&mut j, exited(Process::Main, Exit::Code(0)), t0);
    assert_eq!((j.goal, j.state), (Goal::Stop, State::Waiting));

    let mut j = Job::new(task);
    step(&mut j, Input::Start, t0);
    step(&mut j, spawned(Process::Main, PID), t0);
    step(&mut j, exited(Process::Main, Exit::Code(3)), t0);
    assert_eq!((j.goal, j.state), (Goal::Stop, State::Failed));
    assert_eq!(j.reason.as_deref(), Some("task ended with exit 3"));
}

#[test]
fn hooks_run_in_order() {
    let t0 = Instant::now();
    let mut j = Job::new(Policy {
        pre_start: true,
        post_start: true,
        pre_stop: true,
        post_stop: true,
        ..Policy::default()
    });
    let ok = Exit::Code(0);
    assert_eq!(
        acts(step(&mut j, Input::Start, t0)).last(),
        Some(&Effect::Spawn(Process::PreStart))
    );
    step(&mut j, spawned(Process::PreStart, 10), t0);
    let fx = acts(step(&mut j, exited(Process::PreStart, ok), t0));
    assert_eq!(fx, vec![Effect::Spawn(Process::Main)]);
    let fx = acts(step(&mut j, spawned(Process::Main, PID), t0));
    assert_eq!(fx, vec![Effect::Spawn(Process::PostStart)]);
    assert_eq!(j.state, State::PostStart);
    step(&mut j, spawned(Process::PostStart, 11), t0);
    let fx = acts(step(&mut j, exited(Process::PostStart, ok), t0));
    assert_eq!(fx, vec![emit("started", &[])]);
    let fx = acts(step(&mut j, Input::Stop, t0));
    assert_eq!(fx, vec![Effect::Spawn(Process::PreStop)]);
    step(&mut j, spawned(Process::PreStop, 12), t0);
    let fx = acts(step(&mut j, exited(Process::PreStop, ok), t0));
    assert_eq!(fx[0], emit("stopping", &[("RESULT", "ok")]));
    step(&mut j, exited(Process::Main, Exit::Signal(15)), t0);
    assert_eq!(j.state, State::PostStop);
    step(&mut j, spawned(Process::PostStop, 13), t0);
    step(&mut j, exited(Process::PostStop, ok), t0);
    assert_eq!((j.goal, j.state), (Goal::Stop, State::Waiting));
}

#[test]
fn failing_pre_start_fails_the_job_without_spawning_main() {
    let t0 = Instant::now();
    let mut j = Job::new(Policy {
        pre_start: true,
        ..Policy::default()
    });
    step(&mut j, Input::Start, t0);
    step(&mut j, spawned(Process::PreStart, 10), t0);
    let fx = step(&mut j, exited(Process::PreStart, Exit::Code(2)), t0);
    assert!(!fx.contains(&Effect::Spawn(Process::Main)));
    assert_eq!(
        (j.state, j.reason.as_deref()),
        (State::Failed, Some("pre-start ended with exit 2"))
    );
}

#[test]
fn ready_timeout_kills_and_fails() {
    let t0 = Instant::now();
    let mut j = Job::new(Policy {
        wait_ready: true,
        ..Policy::default()
    });
    step(&mut j, Input::Start, t0);
    let fx = acts(step(&mut j, spawned(Process::Main, PID), t0));
    assert_eq!(
        fx,
        vec![
            Effect::StartReadiness,
            Effect::SetTimer(Timer::ReadyTimeout, Duration::from_secs(30))
        ]
    );
    assert!(!j.is_settled());
    let fx = acts(step(&mut j, Input::Timer(Timer::ReadyTimeout), t0));
    assert!(
        fx.contains(&Effect::Signal {
            target: KillTarget::Group(PID),
            sig: Signal::TERM
        }),
        "{fx:?}"
    );
    step(&mut j, exited(Process::Main, Exit::Signal(15)), t0);
    assert_eq!(
        (j.state, j.reason.as_deref()),
        (State::Failed, Some("not ready within 30s"))
    );
}

#[test]
fn restart_while_killing_starts_again_after_the_stop() {
    let t0 = Instant::now();
    let mut j = at(State::Running, Goal::Start, Policy::default());
    step(&mut j, Input::Stop, t0);
    step(&mut j, Input::Start, t0);
    assert_eq!((j.goal, j.state), (Goal::Start, State::Killed));
    let fx = acts(step(&mut j, exited(Process::Main, Exit::Signal(15)), t0));
    assert_eq!(fx.last(), Some(&Effect::Spawn(Process::Main)));
    assert_eq!(j.restarts, 0);
}

#[test]
fn main_replaced_keeps_running_without_events() {
    let t0 = Instant::now();
    let mut j = at(State::Running, Goal::Start, Policy::default());
    let fx = acts(step(&mut j, Input::MainReplaced { pid: 300 }, t0));
    assert_eq!(fx, vec![]);
    assert_eq!(
        (j.state, j.main_pid, j.pgid),
        (State::Running, Some(300), Some(PID))
    );
    // Stopping now signals the group and the new main that left it.
    let fx = acts(step(&mut j, Input::Stop, t0));
    assert!(
        fx.contains(&Effect::Signal {
            target: KillTarget::Pid(300),
            sig: Signal::TERM
        }),
        "{fx:?}"
    );
}

/// The table in docs/states.md is `next_state`, row by row.
#[test]
fn docs_state_table_matches_next_state() {
    let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/docs/states.md"))
        .expect("docs/states.md");
    let parse = |w: &str| {
        State::ALL
            .into_iter()
            .find(|s| s.as_str() == w.trim().trim_matches('`'))
    };
    let mut rows = 0;
    let section = text
        .split("## Next state")
        .nth(1)
        .expect("section")
        .split("\n## ")
        .next()
        .expect("body");
    for line in section.lines().filter(|l| l.starts_with("| `")) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
        assert_eq!(cells.len(), 4, "row: {line}");
        let state = parse(cells[0]).unwrap_or_else(|| panic!("state in {line}"));
        let want = [
            (Goal::Start, false, cells[1]),
            (Goal::Stop, false, cells[2]),
            (Goal::Stop, true, cells[3]),
        ];
        for (goal, failed, cell) in want {
            let doc = parse(cell).unwrap_or_else(|| panic!("cell {cell} in {line}"));
            assert_eq!(
                next_state(state, goal, failed),
                doc,
                "{state} goal {goal} failed {failed}"
            );
        }
        rows += 1;
    }
    assert_eq!(rows, State::ALL.len());
}

/// One line per (policy, state, goal, input): the resulting goal/state and the
/// effects (logs left out). Compared with `tests/daemon_machine_table.txt`;
/// `GSUP_BLESS=1` rewrites it (review the diff: it is the whole machine).
#[test]
fn full_transition_table_matches_the_golden_file() {
    let t0 = Instant::now();
    let mut out = String::new();
    let policies = [
        ("plain", Policy::default()),
        ("hooks+respawn+ready", hooks()),
    ];
    for (pname, policy) in policies {
        for state in State::ALL {
            for goal in [Goal::Start, Goal::Stop] {
                for input in all_inputs() {
                    let mut j = at(state, goal, policy.clone());
                    let fx = acts(step(&mut j, input.clone(), t0));
                    let fx: Vec<String> = fx
                        .iter()
                        .map(|e| match e {
                            Effect::Ignored(_) => "IGNORED".to_string(),
                            Effect::Emit { name, env } => {
                                let kv: Vec<String> =
                                    env.iter().map(|(k, v)| format!("{k}={v}")).collect();
                                format!("emit {name} {}", kv.join(" "))
                            }
                            other => format!("{other:?}"),
                        })
                        .collect();
                    out.push_str(&format!(
                        "{pname:20} {goal}/{state:10} {input:?}\n    -> {}/{} {}\n",
                        j.goal,
                        j.state,
                        fx.join("; ")
                    ));
                }
            }
        }
    }
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/daemon_machine_table.txt"
    );
    if std::env::var_os("GSUP_BLESS").is_some() {
        std::fs::write(path, &out).expect("write golden table");
    }
    let golden = std::fs::read_to_string(path).expect("tests/daemon_machine_table.txt");
    assert!(
        golden == out,
        "the machine changed; review with GSUP_BLESS=1 and git diff"
    );
}

#[test]
fn pre_start_that_cannot_spawn_fails_the_job() {
    let t0 = Instant::now();
    let mut j = Job::new(Policy {
        pre_start: true,
        ..Policy::default()
    });
    step(&mut j, Input::Start, t0);
    let reason = "exec: Permission denied (os error 13)".to_string();
    let fx = acts(step(
        &mut j,
        Input::SpawnFailed {
            process: Process::PreStart,
            reason,
        },
        t0,
    ));
    assert_eq!(
        fx,
        vec![
            emit(
                "stopping",
                &[("RESULT", "failed"), ("PROCESS", "pre-start")]
            ),
            emit("stopped", &[("RESULT", "failed"), ("PROCESS", "pre-start")]),
        ]
    );
    assert_eq!((j.goal, j.state), (Goal::Stop, State::Failed));
    assert_eq!(
        j.reason.as_deref(),
        Some("pre-start: exec: Permission denied (os error 13)")
    );
}

#[test]
fn start_during_a_stopping_hook_brings_the_goal_back() {
    let t0 = Instant::now();
    let mut j = Job::new(Policy {
        pre_stop: true,
        ..Policy::default()
    });
    step(&mut j, Input::Start, t0);
    step(&mut j, spawned(Process::Main, PID), t0);
    step(&mut j, Input::Stop, t0);
    step(&mut j, spawned(Process::PreStop, 12), t0);
    assert_eq!((j.goal, j.state), (Goal::Stop, State::PreStop));
    step(&mut j, Input::Start, t0);
    let fx = acts(step(&mut j, exited(Process::PreStop, Exit::Code(0)), t0));
    assert_eq!(fx, vec![emit("started", &[])]);
    assert_eq!(
        (j.goal, j.state, j.main_pid),
        (Goal::Start, State::Running, Some(PID))
    );
}

/// The notes of `fx` (gsup's lines for the job's log), in order.
fn notes(fx: &[Effect]) -> Vec<String> {
    fx.iter()
        .filter_map(|e| match e {
            Effect::Note(n) => Some(n.clone()),
            _ => None,
        })
        .collect()
}

/// Why a run ended travels as data: the machine keeps the cause of the last
/// exit and says it in notes for the job's log; no I/O, no clock.
#[test]
fn causes_of_an_exit_are_data() {
    use gsup::job::Cause;
    let t0 = Instant::now();
    let ended = |j: &mut Job, e: Exit| step(j, exited(Process::Main, e), t0);

    // A check's restart: the note names the rule and value; the exit the check.
    let mut j = at(State::Running, Goal::Start, Policy::default());
    let fx = step(
        &mut j,
        Input::Check {
            action: CheckAction::Restart,
            rule: "if totalmem > 300 MB for 3 cycles then restart".into(),
            value: "totalmem 312 MB".into(),
        },
        t0,
    );
    assert_eq!(
        notes(&fx),
        [
            "restarting: check 'if totalmem > 300 MB for 3 cycles then restart' failed: totalmem 312 MB"
        ]
    );
    let fx = ended(&mut j, Exit::Signal(libc::SIGTERM));
    assert_eq!(notes(&fx), ["killed by SIGTERM"]);
    assert!(
        matches!(&j.last_cause, Some(Cause::Check { value, .. }) if value == "totalmem 312 MB")
    );
    assert_eq!(j.kill_cause, None, "a new run was spawned");

    // kill_timeout: SIGKILL, and the cause says so.
    let mut j = at(State::Running, Goal::Start, Policy::default());
    let fx = step(&mut j, Input::Stop, t0);
    assert_eq!(notes(&fx), ["stopping: SIGTERM"]);
    step(&mut j, Input::Timer(Timer::KillTimeout), t0);
    let fx = ended(&mut j, Exit::Signal(libc::SIGKILL));
    assert_eq!(notes(&fx), ["killed by SIGKILL after kill_timeout 5s"]);
    assert_eq!(
        j.last_cause,
        Some(Cause::KillTimeout(Duration::from_secs(5)))
    );

    // A signal gsup did not send; a plain exit has no cause.
    let mut j = at(State::Running, Goal::Start, Policy::default());
    let fx = ended(&mut j, Exit::Signal(libc::SIGSEGV));
    assert_eq!(notes(&fx), ["killed by SIGSEGV (not sent by gsup)"]);
    assert_eq!(j.last_cause, Some(Cause::Outside));
    let mut j = at(State::Running, Goal::Start, Policy::default());
    let fx = ended(&mut j, Exit::Code(3));
    assert_eq!(notes(&fx), ["exited 3"]);
    assert_eq!(j.last_cause, None);

    // The respawn limit.
    let policy = Policy {
        respawn: true,
        respawn_limit: RespawnLimit {
            count: 1,
            interval: Duration::from_secs(60),
        },
        ..Policy::default()
    };
    let mut j = at(State::Running, Goal::Start, policy);
    let fx = ended(&mut j, Exit::Code(1));
    assert_eq!(notes(&fx), ["exited 1", "respawning (restart 1)"]);
    step(&mut j, spawned(Process::Main, 201), t0);
    let fx = ended(&mut j, Exit::Code(1));
    assert_eq!(notes(&fx), ["exited 1", "stopped: respawn limit (1 in 1m)"]);
    assert_eq!(
        (j.state, j.last_cause.clone()),
        (State::Failed, Some(Cause::RespawnLimit))
    );
}
