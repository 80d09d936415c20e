//! Unit tests of the reference walk and key positions; graph behaviour is
//! tested through the public API in `tests/graph_check.rs`.

use super::*;
use crate::expr::{ArgMatch, EventMatch};

fn ev(event: &str, args: &[ArgMatch]) -> Expr {
    Expr::Match(EventMatch {
        event: event.into(),
        args: args.to_vec(),
    })
}

fn pos(v: &str) -> ArgMatch {
    ArgMatch::Positional(v.into())
}

#[test]
fn references_take_first_positional_or_literal_job_eq() {
    let e = Expr::Or(
        Box::new(Expr::And(
            Box::new(ev("started", &[pos("a"), pos("x")])),
            Box::new(ev("stopped", &[ArgMatch::Eq("JOB".into(), "b".into())])),
        )),
        Box::new(Expr::Or(
            Box::new(ev("starting", &[pos("c*")])),
            Box::new(ev("runlevel", &[pos("[2345]")])),
        )),
    );
    let got = references(Key::StartOn, &e);
    let want = vec![
        Reference {
            key: Key::StartOn,
            event: "started".into(),
            target: "a".into(),
        },
        Reference {
            key: Key::StartOn,
            event: "stopped".into(),
            target: "b".into(),
        },
    ];
    assert_eq!(got, want);
}

#[test]
fn started_without_job_and_negated_job_name_no_job() {
    let e = Expr::Or(
        Box::new(ev("started", &[])),
        Box::new(ev("stopped", &[ArgMatch::Ne("JOB".into(), "b".into())])),
    );
    assert_eq!(references(Key::StopOn, &e), Vec::new());
}

#[test]
fn stop_on_started_is_not_a_dependency() {
    let r = |key, event: &str| Reference {
        key,
        event: event.into(),
        target: "a".into(),
    };
    assert!(r(Key::StartOn, "started").is_dependency());
    assert!(r(Key::StartOn, "stopping").is_dependency());
    assert!(r(Key::StopOn, "stopped").is_dependency());
    assert!(r(Key::StopOn, "stopping").is_dependency());
    assert!(!r(Key::StopOn, "started").is_dependency());
    assert!(!r(Key::StopOn, "starting").is_dependency());
}

#[test]
fn key_position_finds_top_level_key_only() {
    let text = "description: x\nenv:\n  start_on: no\nstart_on : started a\nstop_on: stopped a\n";
    assert_eq!(key_position(text, Key::StartOn), Some((4, 1)));
    assert_eq!(key_position(text, Key::StopOn), Some((5, 1)));
    assert_eq!(key_position("start_only: x\n", Key::StartOn), None);
    assert_eq!(key_position("\"stop_on\": x\n", Key::StopOn), Some((1, 1)));
}
