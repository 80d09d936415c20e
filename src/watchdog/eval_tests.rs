//! Unit tests of Monit's semantics in `eval`: every window, every operator, every
//! value type, the restarts rule, latching and the status text.

use super::*;
use crate::unit::Signal;

const MB: u64 = 1 << 20;

fn check(condition: Condition, window: Window, action: Action) -> Check {
    Check {
        source: "test".into(),
        condition,
        window,
        action,
    }
}

fn mem_over(mb: u64, window: Window, action: Action) -> Check {
    check(
        Condition::Resource {
            resource: Resource::TotalMem,
            op: Op::Gt,
            value: Value::Bytes(mb * MB),
        },
        window,
        action,
    )
}

fn with_totalmem(mb: u64) -> Values {
    Values {
        totalmem: mb * MB,
        ..Values::default()
    }
}

/// Runs `check` over one totalmem value per cycle and returns the verdicts.
fn run(check: &Check, mbs: &[u64]) -> Vec<Verdict> {
    let mut state = CheckState::default();
    let log = RestartLog::default();
    mbs.iter()
        .enumerate()
        .map(|(i, &mb)| {
            let values = with_totalmem(mb);
            let obs = Observation {
                values: &values,
                restarts: &log,
                cycle: i as u64 + 1,
            };
            evaluate(check, &mut state, &obs)
        })
        .collect()
}

fn failing(count: u32, of: u32) -> Verdict {
    Verdict::Failing { count, of }
}

#[test]
fn one_cycle_fires_at_once_and_again_for_restart() {
    let c = mem_over(300, Window::Once, Action::Restart);
    assert_eq!(
        run(&c, &[100, 400, 400, 200]),
        vec![
            Verdict::Ok,
            Verdict::Fire(Action::Restart),
            Verdict::Fire(Action::Restart),
            Verdict::Ok
        ]
    );
}

#[test]
fn for_three_cycles_with_a_clear_in_the_middle() {
    let c = mem_over(300, Window::Consecutive(3), Action::Restart);
    assert_eq!(
        run(&c, &[400, 400, 200, 400, 400, 400, 400]),
        vec![
            failing(1, 3),
            failing(2, 3),
            Verdict::Ok,
            failing(1, 3),
            failing(2, 3),
            Verdict::Fire(Action::Restart),
            // Reset after the action: counting starts again.
            failing(1, 3),
        ]
    );
}

#[test]
fn two_times_within_five_cycles_slides() {
    let c = mem_over(
        300,
        Window::Within {
            times: 2,
            cycles: 5,
        },
        Action::Stop,
    );
    // Hits at cycles 1 and 7 are 7 cycles apart: never 2 within 5. Then hits at 7 and
    // 10 (4 cycles apart) fire; the window is cleared after firing.
    let mbs = [400, 100, 100, 100, 100, 100, 400, 100, 100, 400, 400];
    assert_eq!(
        run(&c, &mbs),
        vec![
            failing(1, 2),
            Verdict::Ok,
            Verdict::Ok,
            Verdict::Ok,
            Verdict::Ok,
            Verdict::Ok,
            failing(1, 2),
            Verdict::Ok,
            Verdict::Ok,
            Verdict::Fire(Action::Stop),
            failing(1, 2),
        ]
    );
}

#[test]
fn within_window_counts_non_consecutive_hits() {
    let c = mem_over(
        300,
        Window::Within {
            times: 3,
            cycles: 4,
        },
        Action::Restart,
    );
    assert_eq!(
        run(&c, &[400, 100, 400, 400]),
        vec![
            failing(1, 3),
            Verdict::Ok,
            failing(2, 3),
            Verdict::Fire(Action::Restart)
        ]
    );
}

#[test]
fn alert_latches_until_the_condition_clears() {
    let c = mem_over(300, Window::Consecutive(2), Action::Alert);
    assert_eq!(
        run(&c, &[400, 400, 400, 400, 100, 400, 400]),
        vec![
            failing(1, 2),
            Verdict::Fire(Action::Alert),
            failing(1, 2),
            failing(2, 2),
            Verdict::Recovered,
            failing(1, 2),
            Verdict::Fire(Action::Alert),
        ]
    );
    let e = mem_over(300, Window::Once, Action::Exec(vec!["/bin/true".into()]));
    assert_eq!(
        run(&e, &[400, 400]),
        vec![
            Verdict::Fire(Action::Exec(vec!["/bin/true".into()])),
            failing(1, 1)
        ]
    );
    let s = mem_over(300, Window::Once, Action::Signal(Signal::USR2));
    assert_eq!(
        run(&s, &[400])[0],
        Verdict::Fire(Action::Signal(Signal::USR2))
    );
}

#[test]
fn restarts_within_cycles_counts_a_sliding_window_and_resets_after_firing() {
    let c = check(
        Condition::Restarts {
            count: 3,
            cycles: 5,
        },
        Window::Once,
        Action::Stop,
    );
    let mut log = RestartLog::default();
    let mut state = CheckState::default();
    let values = Values::default();
    let at = |log: &RestartLog, state: &mut CheckState, cycle| {
        let obs = Observation {
            values: &values,
            restarts: log,
            cycle,
        };
        evaluate(&c, state, &obs)
    };
    log.record(1, 1);
    log.record(2, 1);
    assert_eq!(at(&log, &mut state, 2), Verdict::Ok);
    // The restart of cycle 1 is out of the window 3..=7 by cycle 7.
    log.record(7, 1);
    assert_eq!(at(&log, &mut state, 7), Verdict::Ok);
    log.record(8, 1);
    assert_eq!(at(&log, &mut state, 8), Verdict::Ok);
    log.record(9, 1);
    assert_eq!(log.count(9, 5, 0), 3);
    assert_eq!(at(&log, &mut state, 9), Verdict::Fire(Action::Stop));
    // Those restarts were acted on: no second firing from the same ones.
    assert_eq!(at(&log, &mut state, 10), Verdict::Ok);
    log.record(11, 2);
    assert_eq!(at(&log, &mut state, 11), Verdict::Ok);
    log.record(12, 1);
    assert_eq!(at(&log, &mut state, 12), Verdict::Fire(Action::Stop));
    log.prune(12, 5);
    // Cycles 1, 2 and 7 are gone; 8, 9, 11, 11, 12 remain.
    assert_eq!(log.count(12, 100, 0), 5);
}

#[test]
fn every_operator() {
    let cases = [
        (Op::Gt, [false, false, true]),
        (Op::Lt, [true, false, false]),
        (Op::Ge, [false, true, true]),
        (Op::Le, [true, true, false]),
        (Op::Eq, [false, true, false]),
        (Op::Ne, [true, false, true]),
    ];
    for (op, expect) in cases {
        for (mb, want) in [299, 300, 301].into_iter().zip(expect) {
            let c = check(
                Condition::Resource {
                    resource: Resource::TotalMem,
                    op,
                    value: Value::Bytes(300 * MB),
                },
                Window::Once,
                Action::Restart,
            );
            let got = run(&c, &[mb])[0] == Verdict::Fire(Action::Restart);
            assert_eq!(got, want, "{op:?} with {mb} MB");
        }
    }
}

fn one(resource: Resource, value: Value, values: Values) -> (Verdict, String) {
    let c = check(
        Condition::Resource {
            resource,
            op: Op::Gt,
            value,
        },
        Window::Consecutive(2),
        Action::Restart,
    );
    let mut state = CheckState::default();
    let log = RestartLog::default();
    let obs = Observation {
        values: &values,
        restarts: &log,
        cycle: 1,
    };
    let v = evaluate(&c, &mut state, &obs);
    let text = value_text(&c, &obs, &state);
    (v, text)
}

#[test]
fn every_resource_and_value_type() {
    let v = Values {
        mem: 250 * MB,
        totalmem: 412 * MB,
        cpu: Some(95.25),
        totalcpu: Some(180.0),
        children: 25,
        uptime: Duration::from_secs(3723),
    };
    let cases = [
        (Resource::Mem, Value::Bytes(200 * MB), "mem 250 MB > 200 MB"),
        (
            Resource::TotalMem,
            Value::Bytes(300 * MB),
            "totalmem 412 MB > 300 MB",
        ),
        (Resource::Cpu, Value::Percent(90.0), "cpu 95.2% > 90%"),
        (
            Resource::TotalCpu,
            Value::Percent(150.0),
            "totalcpu 180% > 150%",
        ),
        (Resource::Children, Value::Count(20), "children 25 > 20"),
        (
            Resource::Uptime,
            Value::Duration(Duration::from_secs(3600)),
            "uptime 1h 2m 3s > 1h",
        ),
    ];
    for (resource, value, text) in cases {
        assert_eq!(one(resource, value, v), (failing(1, 2), text.to_string()));
    }
    // Just under each limit: fine.
    let under = [
        (Resource::Mem, Value::Bytes(250 * MB)),
        (Resource::Cpu, Value::Percent(95.25)),
        (Resource::Children, Value::Count(25)),
        (Resource::Uptime, Value::Duration(Duration::from_secs(3723))),
    ];
    for (resource, value) in under {
        assert_eq!(one(resource, value, v).0, Verdict::Ok, "{resource:?}");
    }
}

#[test]
fn cpu_unknown_on_first_cycle_leaves_counters_alone() {
    let c = check(
        Condition::Resource {
            resource: Resource::Cpu,
            op: Op::Gt,
            value: Value::Percent(90.0),
        },
        Window::Consecutive(2),
        Action::Alert,
    );
    let mut state = CheckState::default();
    let log = RestartLog::default();
    let hot = Values {
        cpu: Some(99.0),
        ..Values::default()
    };
    let unknown = Values::default();
    for (values, want) in [
        (&hot, failing(1, 2)),
        (&unknown, Verdict::Unknown),
        (&hot, Verdict::Fire(Action::Alert)),
    ] {
        let obs = Observation {
            values,
            restarts: &log,
            cycle: 1,
        };
        assert_eq!(evaluate(&c, &mut state, &obs), want);
    }
}

#[test]
fn failing_descriptions() {
    let c = mem_over(300, Window::Consecutive(3), Action::Restart);
    assert_eq!(
        describe_failing(&c, "totalmem 412 MB > 300 MB", 2, 3),
        "totalmem 412 MB > 300 MB, 2 of 3 cycles"
    );
    let w = mem_over(
        300,
        Window::Within {
            times: 2,
            cycles: 5,
        },
        Action::Restart,
    );
    assert_eq!(
        describe_failing(&w, "totalmem 412 MB > 300 MB", 1, 2),
        "totalmem 412 MB > 300 MB, 1 of 2 times within 5 cycles"
    );
    let o = mem_over(300, Window::Once, Action::Alert);
    assert_eq!(describe_failing(&o, "x", 1, 1), "x");
}

#[test]
fn formats() {
    assert_eq!(format_bytes(900), "900 B");
    assert_eq!(format_bytes(1536), "1.5 KB");
    assert_eq!(format_bytes(412 * MB), "412 MB");
    assert_eq!(format_bytes(3 * 1024 * MB / 2), "1.5 GB");
    assert_eq!(format_duration(Duration::from_secs(0)), "0s");
    assert_eq!(format_duration(Duration::from_secs(7200)), "2h");
    assert_eq!(format_duration(Duration::from_secs(61)), "1m 1s");
}
