//! Property tests of the watchdog's Monit semantics against a small reference model:
//! for any sequence of cycles, `for N cycles` and `N times within M cycles` fire exactly
//! where the model says, and report the model's counts in between. Pure.

use gsup::rule::{Action, Check, Condition, Op, Resource, Value, Window};
use gsup::watchdog::eval::{CheckState, Observation, RestartLog, Values, Verdict, evaluate};
use proptest::prelude::*;

fn check(window: Window) -> Check {
    Check {
        source: "prop".into(),
        condition: Condition::Resource {
            resource: Resource::Children,
            op: Op::Gt,
            value: Value::Count(0),
        },
        window,
        action: Action::Restart,
    }
}

fn run(window: Window, seq: &[bool]) -> Vec<Verdict> {
    let c = check(window);
    let mut state = CheckState::default();
    let log = RestartLog::default();
    seq.iter()
        .enumerate()
        .map(|(i, &hot)| {
            let values = Values {
                children: u64::from(hot),
                ..Values::default()
            };
            let obs = Observation {
                values: &values,
                restarts: &log,
                cycle: i as u64 + 1,
            };
            evaluate(&c, &mut state, &obs)
        })
        .collect()
}

proptest! {
    #[test]
    fn consecutive_matches_model(n in 1u32..6, seq in prop::collection::vec(any::<bool>(), 0..60)) {
        let got = run(Window::Consecutive(n), &seq);
        let mut run_len = 0u32;
        for (i, &hot) in seq.iter().enumerate() {
            let want = if hot {
                run_len += 1;
                if run_len == n {
                    run_len = 0;
                    Verdict::Fire(Action::Restart)
                } else {
                    Verdict::Failing { count: run_len, of: n }
                }
            } else {
                run_len = 0;
                Verdict::Ok
            };
            prop_assert_eq!(&got[i], &want, "cycle {}", i + 1);
        }
    }

    #[test]
    fn within_matches_model(
        times in 1u32..5,
        extra in 0u32..5,
        seq in prop::collection::vec(any::<bool>(), 0..60),
    ) {
        let cycles = times + extra;
        let got = run(Window::Within { times, cycles }, &seq);
        let mut window: Vec<bool> = Vec::new();
        for (i, &hot) in seq.iter().enumerate() {
            window.push(hot);
            if window.len() > cycles as usize {
                window.remove(0);
            }
            let count = window.iter().filter(|&&b| b).count() as u32;
            let want = if !hot {
                Verdict::Ok
            } else if count >= times {
                window.clear();
                Verdict::Fire(Action::Restart)
            } else {
                Verdict::Failing { count, of: times }
            };
            prop_assert_eq!(&got[i], &want, "cycle {}", i + 1);
        }
    }
}
