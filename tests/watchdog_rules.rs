//! SPEC section 5, the check lines as written: each example of the SPEC parsed by
//! `rule::parse` and driven through the watchdog's Monit semantics cycle by cycle.
//! Pure: no processes.

use gsup::rule::{self, Action};
use gsup::watchdog::eval::{CheckState, Observation, RestartLog, Values, Verdict, evaluate};
use gsup::watchdog::eval::{describe_failing, value_text};
use std::time::Duration;

const MB: u64 = 1 << 20;

/// Evaluates `line` over `values`, one per cycle, with `restarts[i]` restarts seen at
/// cycle i+1.
fn drive(line: &str, child: bool, values: &[Values], restarts: &[u32]) -> Vec<Verdict> {
    let check = rule::parse(line, child).expect("the SPEC's example parses");
    let mut state = CheckState::default();
    let mut log = RestartLog::default();
    let mut out = Vec::new();
    for (i, v) in values.iter().enumerate() {
        let cycle = i as u64 + 1;
        log.record(cycle, restarts.get(i).copied().unwrap_or(0));
        let obs = Observation {
            values: v,
            restarts: &log,
            cycle,
        };
        out.push(evaluate(&check, &mut state, &obs));
    }
    out
}

fn mem(mem_mb: u64, total_mb: u64) -> Values {
    Values {
        mem: mem_mb * MB,
        totalmem: total_mb * MB,
        ..Values::default()
    }
}

#[test]
fn spec_totalmem_for_three_cycles_then_restart() {
    let line = "if totalmem > 300 MB for 3 cycles then restart";
    // The Resque master stays at 20 MB; its job child grows.
    let v = [mem(20, 350), mem(20, 380), mem(20, 412)];
    assert_eq!(
        drive(line, false, &v, &[]),
        vec![
            Verdict::Failing { count: 1, of: 3 },
            Verdict::Failing { count: 2, of: 3 },
            Verdict::Fire(Action::Restart)
        ]
    );
    let check = rule::parse(line, false).expect("parses");
    let log = RestartLog::default();
    let obs = Observation {
        values: &v[2],
        restarts: &log,
        cycle: 3,
    };
    let text = value_text(&check, &obs, &CheckState::default());
    assert_eq!(
        describe_failing(&check, &text, 2, 3),
        "totalmem 412 MB > 300 MB, 2 of 3 cycles"
    );
}

#[test]
fn spec_mem_then_restart_ignores_the_children() {
    let v = [mem(20, 500), mem(250, 250)];
    assert_eq!(
        drive("if mem > 200 MB then restart", false, &v, &[]),
        vec![Verdict::Ok, Verdict::Fire(Action::Restart)]
    );
}

#[test]
fn spec_cpu_for_five_cycles_then_alert() {
    let hot = Values {
        cpu: Some(95.0),
        ..Values::default()
    };
    let v = [hot; 6];
    let got = drive("if cpu > 90% for 5 cycles then alert", false, &v, &[]);
    assert_eq!(got[3], Verdict::Failing { count: 4, of: 5 });
    assert_eq!(got[4], Verdict::Fire(Action::Alert));
    // Still hot: the alert is not repeated (Monit alerts once per failure).
    assert_eq!(got[5], Verdict::Failing { count: 1, of: 5 });
}

#[test]
fn spec_children_then_alert() {
    let many = Values {
        children: 21,
        ..Values::default()
    };
    let few = Values {
        children: 20,
        ..Values::default()
    };
    assert_eq!(
        drive("if children > 20 then alert", false, &[few, many, few], &[]),
        vec![
            Verdict::Ok,
            Verdict::Fire(Action::Alert),
            Verdict::Recovered
        ]
    );
}

#[test]
fn spec_restarts_within_cycles_then_stop() {
    let v = [Values::default(); 6];
    assert_eq!(
        drive(
            "if 3 restarts within 5 cycles then stop",
            false,
            &v,
            &[1, 0, 1, 0, 1, 0]
        ),
        vec![
            Verdict::Ok,
            Verdict::Ok,
            Verdict::Ok,
            Verdict::Ok,
            Verdict::Fire(Action::Stop),
            Verdict::Ok
        ]
    );
}

#[test]
fn child_kill_and_uptime() {
    let v = [mem(150, 150), mem(160, 160)];
    assert_eq!(
        drive("if mem > 100 MB for 2 cycles then kill", true, &v, &[]),
        vec![
            Verdict::Failing { count: 1, of: 2 },
            Verdict::Fire(Action::Kill)
        ]
    );
    let old = Values {
        uptime: Duration::from_secs(7201),
        ..Values::default()
    };
    assert_eq!(
        drive("if uptime > 2h then restart", false, &[old], &[]),
        vec![Verdict::Fire(Action::Restart)]
    );
}
