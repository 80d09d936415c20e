//! Unit tests pinning Upstart's event-expression syntax and matching semantics.
//! Test-only: nothing here is used by the library.

use super::*;

fn m(event: &str, args: Vec<ArgMatch>) -> Expr {
    Expr::Match(EventMatch {
        event: event.into(),
        args,
    })
}
fn pos(v: &str) -> ArgMatch {
    ArgMatch::Positional(v.into())
}
fn eq(k: &str, v: &str) -> ArgMatch {
    ArgMatch::Eq(k.into(), v.into())
}
fn ne(k: &str, v: &str) -> ArgMatch {
    ArgMatch::Ne(k.into(), v.into())
}
fn and(l: Expr, r: Expr) -> Expr {
    Expr::And(Box::new(l), Box::new(r))
}
fn or(l: Expr, r: Expr) -> Expr {
    Expr::Or(Box::new(l), Box::new(r))
}
fn ev(name: &str, env: &[(&str, &str)]) -> Event {
    Event {
        name: name.into(),
        env: env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
    }
}
fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}
fn p(text: &str) -> Expr {
    parse(text).expect("parses")
}
fn perr(text: &str) -> (usize, String) {
    let e = parse(text).expect_err("must not parse");
    (e.offset, e.message)
}
fn job(name: &str, j: &str) -> Event {
    ev(name, &[("JOB", j), ("INSTANCE", "")])
}

#[test]
fn parses_seed_expressions() {
    assert_eq!(
        p("started gitorious/unicorn"),
        m("started", vec![pos("gitorious/unicorn")])
    );
    assert_eq!(p("runlevel [06]"), m("runlevel", vec![pos("[06]")]));
    assert_eq!(
        p("stopped gitorious/git-daemons"),
        m("stopped", vec![pos("gitorious/git-daemons")])
    );
}

#[test]
fn parses_arguments_and_quotes() {
    assert_eq!(
        p("stopped JOB=web RESULT!=ok"),
        m("stopped", vec![eq("JOB", "web"), ne("RESULT", "ok")])
    );
    assert_eq!(
        p("queue QUEUE=high*"),
        m("queue", vec![eq("QUEUE", "high*")])
    );
    assert_eq!(
        p("x \"a b\" K='c d'"),
        m("x", vec![pos("a b"), eq("K", "c d")])
    );
    assert_eq!(p("x \"and\""), m("x", vec![pos("and")]));
    assert_eq!(p("x \"a=b\""), m("x", vec![pos("a=b")]));
    assert_eq!(p("x K=a=b"), m("x", vec![eq("K", "a=b")]));
    assert_eq!(p("x K="), m("x", vec![eq("K", "")]));
    // Backslashes stay in the value: they escape for the glob.
    assert_eq!(p(r"x a\*"), m("x", vec![pos(r"a\*")]));
    assert_eq!(p(r"x a\ b"), m("x", vec![pos(r"a\ b")]));
    assert_eq!(p("  a \n and\tb "), and(m("a", vec![]), m("b", vec![])));
}

#[test]
fn and_or_are_left_associative_with_equal_precedence() {
    let (a, b, c) = (m("a", vec![]), m("b", vec![]), m("c", vec![]));
    assert_eq!(p("a or b and c"), and(or(a.clone(), b.clone()), c.clone()));
    assert_eq!(p("a and b or c"), or(and(a.clone(), b.clone()), c.clone()));
    assert_eq!(
        p("a or (b and c)"),
        or(a.clone(), and(b.clone(), c.clone()))
    );
    assert_eq!(p("(a)"), a.clone());
    assert_eq!(p("a and(b)or c"), or(and(a, b), c));
}

#[test]
fn parse_errors_name_the_offset() {
    assert_eq!(perr(""), (0, "empty event expression".into()));
    assert_eq!(perr("   "), (0, "empty event expression".into()));
    assert_eq!(
        perr("(a and b"),
        (0, "unclosed `(`: no matching `)`".into())
    );
    assert_eq!(perr("a and b)"), (7, "unmatched `)`".into()));
    assert_eq!(perr("a and"), (2, "expected an event after `and`".into()));
    assert_eq!(perr("a or "), (2, "expected an event after `or`".into()));
    assert_eq!(
        perr("or a"),
        (0, "expected an event name, found operator `or`".into())
    );
    assert_eq!(
        perr("a and or b"),
        (6, "expected an event name, found operator `or`".into())
    );
    assert_eq!(perr("()"), (1, "expected an event name, found `)`".into()));
    assert_eq!(
        perr("(a) b"),
        (4, "expected `and` or `or`, found `b`".into())
    );
    assert_eq!(
        perr("a (b)"),
        (2, "expected `and` or `or` before `(`".into())
    );
    assert_eq!(
        perr("stopped JOB=x web"),
        (
            14,
            "positional argument `web` after KEY=VALUE arguments: positional ones come first"
                .into()
        )
    );
    assert_eq!(
        perr("runlevel [06"),
        (9, "unterminated `[` in `[06`".into())
    );
    assert_eq!(
        perr("q QUEUE=ab[c"),
        (10, "unterminated `[` in `ab[c`".into())
    );
    assert_eq!(perr("x \"abc"), (2, "unterminated \" quote".into()));
    assert_eq!(
        perr("x ab\\"),
        (4, "a backslash at the end escapes nothing".into())
    );
    assert_eq!(
        perr("K=v"),
        (0, "expected an event name, found the argument `K=v`".into())
    );
    assert_eq!(
        perr("\"ev\""),
        (
            0,
            "an event name is a bare word: no quotes or backslashes".into()
        )
    );
    assert_eq!(
        perr("x 1K=v"),
        (
            2,
            "invalid variable name `1K`: use letters, digits and `_`, not starting with a digit"
                .into()
        )
    );
    assert_eq!(perr("x =v").0, 2);
    assert_eq!(
        perr("a AND b"),
        (
            2,
            "`AND` is not an operator: write `and`, or quote it".into()
        )
    );
    assert_eq!(
        perr("a and OR b"),
        (
            6,
            "expected an event name, found `OR` (the operator is `or`)".into()
        )
    );
    assert_eq!(p("a 'OR' b"), m("a", vec![pos("OR"), pos("b")]));
    let deep = format!("{}a{}", "(".repeat(40), ")".repeat(40));
    assert_eq!(
        perr(&deep),
        (32, "parentheses nested deeper than 32".into())
    );
    let long = vec!["a"; 300].join(" or ");
    assert_eq!(perr(&long).1, "more than 256 events in one expression");
    // Offsets count chars, not bytes.
    assert_eq!(perr("é and"), (2, "expected an event after `and`".into()));
}

#[test]
fn display_is_canonical_and_parses_back() {
    for (text, canon) in [
        ("started   gitorious/unicorn", "started gitorious/unicorn"),
        ("a or b and c", "(a or b) and c"),
        ("(a and b) and c", "a and b and c"),
        ("a and (b and c)", "a and (b and c)"),
        ("x 'a b' K=\"c d\" L!=e", "x \"a b\" K=\"c d\" L!=e"),
        ("x \"and\" \"\" 'a=b'", "x \"and\" \"\" \"a=b\""),
        ("x 'say \"hi\"'", "x \"say \"'\"'\"hi\"'\"'\"\""),
        (r"x a\ b", r"x a\ b"),
    ] {
        let e = p(text);
        assert_eq!(e.to_string(), canon, "display of {text:?}");
        assert_eq!(p(canon), e, "reparse of {canon:?}");
    }
}

#[test]
fn job_references_for_the_dependency_graph() {
    let e = p(
        "started gitorious/git-daemons and stopping JOB=web or stopped gitorious/* or runlevel [06] or starting db",
    );
    assert_eq!(
        e.job_references(),
        vec![
            ("started".to_string(), "gitorious/git-daemons".to_string()),
            ("stopping".to_string(), "web".to_string()),
            ("starting".to_string(), "db".to_string()),
        ]
    );
    assert_eq!(p("started a and started a").job_references().len(), 1);
    assert_eq!(
        p(r"started a\*b").job_references(),
        vec![("started".into(), "a*b".into())]
    );
    assert_eq!(p("started").job_references(), vec![]);
}

#[test]
fn positional_arguments_match_values_in_order() {
    let e = p("started gitorious/unicorn");
    assert!(matches_expr(&e, &job("started", "gitorious/unicorn")));
    assert!(!matches_expr(&e, &job("started", "gitorious/sphinx")));
    assert!(!matches_expr(&e, &job("stopped", "gitorious/unicorn")));
    assert!(!matches_expr(&e, &ev("started", &[])));
    let e = p("stopped gitorious/git-daemons");
    assert!(matches_expr(&e, &job("stopped", "gitorious/git-daemons")));
    // The second positional matches the second variable, whatever its name.
    let e = p("started web \"\"");
    assert!(matches_expr(&e, &job("started", "web")));
    assert!(!matches_expr(
        &e,
        &ev("started", &[("JOB", "web"), ("INSTANCE", "x")])
    ));
    assert!(!matches_expr(
        &p("started web x y"),
        &ev("started", &[("JOB", "web"), ("I", "x")])
    ));
}

fn matches_expr(e: &Expr, event: &Event) -> bool {
    let Expr::Match(em) = e else {
        panic!("not an operand")
    };
    matches(em, event)
}

#[test]
fn runlevel_glob_matches_0_and_6_only() {
    let mut mt = Matcher::new(p("runlevel [06]"));
    for (level, fires) in [("0", true), ("6", true), ("2", false), ("06", false)] {
        let e = ev("runlevel", &[("RUNLEVEL", level), ("PREVLEVEL", "2")]);
        assert_eq!(mt.feed(&e).is_some(), fires, "runlevel {level}");
    }
}

#[test]
fn key_value_and_negation() {
    let e = p("stopped JOB=gitorious/* RESULT!=ok");
    let stopped = |j: &str, r: Option<&str>| {
        let mut env = vec![("JOB", j), ("INSTANCE", "")];
        env.extend(r.map(|r| ("RESULT", r)));
        ev("stopped", &env)
    };
    assert!(matches_expr(
        &e,
        &stopped("gitorious/unicorn", Some("failed"))
    ));
    assert!(!matches_expr(&e, &stopped("gitorious/unicorn", Some("ok"))));
    assert!(!matches_expr(&e, &stopped("nginx", Some("failed"))));
    // Absent variable: neither `=` nor `!=` matches (Upstart's rule).
    assert!(!matches_expr(&e, &stopped("gitorious/unicorn", None)));
    assert!(!matches_expr(&p("x K=*"), &ev("x", &[])));
    assert!(!matches_expr(&p("x K!=a"), &ev("x", &[])));
    assert!(matches_expr(&p("x K!=a"), &ev("x", &[("K", "b")])));
    assert!(matches_expr(
        &p("q QUEUE=high*"),
        &ev("q", &[("QUEUE", "high-io")])
    ));
}

#[test]
fn and_needs_both_in_any_order_with_env_from_both() {
    let a = ev("started", &[("JOB", "a"), ("A", "1")]);
    let b = ev("started", &[("JOB", "b"), ("B", "2")]);
    for (first, second) in [(&a, &b), (&b, &a)] {
        let mut mt = Matcher::new(p("started a and started b"));
        assert_eq!(mt.feed(first), None);
        assert!(mt.is_pending());
        // Tree order (a's operand first), whatever the arrival order; b's JOB overrides a's.
        let want = env(&[("JOB", "b"), ("A", "1"), ("B", "2")]);
        assert_eq!(mt.feed(second), Some(want));
        assert!(!mt.is_pending());
    }
}

#[test]
fn env_is_in_tree_order_later_overriding_earlier() {
    let mut mt = Matcher::new(p("b and a"));
    assert_eq!(mt.feed(&ev("a", &[("X", "from-a"), ("A", "1")])), None);
    let fired = mt
        .fire(&ev("b", &[("X", "from-b"), ("B", "2")]))
        .expect("fires");
    // b is left in the tree, so it comes first and a overrides its X.
    assert_eq!(fired.env, env(&[("X", "from-a"), ("B", "2"), ("A", "1")]));
    assert_eq!(fired.events, vec!["b".to_string(), "a".to_string()]);
}

#[test]
fn or_fires_on_either_with_that_events_env() {
    let mut mt = Matcher::new(p("a or b"));
    assert_eq!(mt.feed(&ev("b", &[("K", "v")])), Some(env(&[("K", "v")])));
    assert_eq!(mt.feed(&ev("a", &[])), Some(vec![]));
    assert_eq!(mt.feed(&ev("c", &[])), None);
}

#[test]
fn resets_after_a_match() {
    let mut mt = Matcher::new(p("a and b"));
    assert_eq!(mt.feed(&ev("a", &[])), None);
    assert!(mt.feed(&ev("b", &[])).is_some());
    // Both are needed again.
    assert_eq!(mt.feed(&ev("b", &[])), None);
    assert!(mt.feed(&ev("a", &[])).is_some());
    // Explicit reset forgets a pending half.
    assert_eq!(mt.feed(&ev("a", &[])), None);
    mt.reset();
    assert_eq!(mt.feed(&ev("b", &[])), None);
}

#[test]
fn first_matching_event_is_kept_until_reset() {
    let mut mt = Matcher::new(p("a and b"));
    assert_eq!(mt.feed(&ev("a", &[("N", "1")])), None);
    assert_eq!(mt.feed(&ev("a", &[("N", "2")])), None);
    assert_eq!(mt.feed(&ev("b", &[])), Some(env(&[("N", "1")])));
}

#[test]
fn false_subtree_under_true_or_gives_no_env() {
    let mut mt = Matcher::new(p("(a and b) or c"));
    assert_eq!(mt.feed(&ev("a", &[("A", "1")])), None);
    let fired = mt.fire(&ev("c", &[("C", "1")])).expect("fires");
    assert_eq!(fired.env, env(&[("C", "1")]));
    assert_eq!(fired.events, vec!["c".to_string()]);
    // The reset also dropped the pending `a`.
    assert_eq!(mt.feed(&ev("b", &[])), None);
}

#[test]
fn precedence_changes_what_fires() {
    // Left to right: (a or b) and c.
    let mut mt = Matcher::new(p("a or b and c"));
    assert_eq!(mt.feed(&ev("a", &[])), None);
    assert!(mt.feed(&ev("c", &[])).is_some());
    let mut mt = Matcher::new(p("a or (b and c)"));
    assert!(mt.feed(&ev("a", &[])).is_some());
}

#[test]
fn one_event_can_satisfy_several_operands() {
    let mut mt = Matcher::new(p("started JOB=a* and started JOB=*b"));
    assert!(mt.feed(&job("started", "ab")).is_some());
}

#[test]
fn stop_on_works_the_same() {
    let mut mt = Matcher::new(p("stopped gitorious/git-daemons"));
    let got = mt.feed(&ev(
        "stopped",
        &[("JOB", "gitorious/git-daemons"), ("RESULT", "ok")],
    ));
    assert_eq!(
        got,
        Some(env(&[("JOB", "gitorious/git-daemons"), ("RESULT", "ok")]))
    );
}
