//! Unit tests for the check language: every rule of SPEC section 5 and each error.
//! Test-only: nothing here is used by the library.

use super::*;

fn ok(text: &str) -> Check {
    parse(text, false).expect("parses")
}
fn bad(text: &str) -> (usize, String) {
    let e = parse(text, false).expect_err("must not parse");
    (e.offset, e.message)
}
fn res(resource: Resource, op: Op, value: Value) -> Condition {
    Condition::Resource {
        resource,
        op,
        value,
    }
}
const MB: u64 = 1 << 20;

#[test]
fn spec_examples() {
    let c = ok("if totalmem > 300 MB for 3 cycles then restart");
    assert_eq!(
        c.condition,
        res(Resource::TotalMem, Op::Gt, Value::Bytes(300 * MB))
    );
    assert_eq!(c.window, Window::Consecutive(3));
    assert_eq!(c.action, Action::Restart);
    assert_eq!(c.source, "if totalmem > 300 MB for 3 cycles then restart");

    let c = ok("if mem > 200 MB then restart");
    assert_eq!(
        c.condition,
        res(Resource::Mem, Op::Gt, Value::Bytes(200 * MB))
    );
    assert_eq!(c.window, Window::Once);

    let c = ok("if cpu > 90% for 5 cycles then alert");
    assert_eq!(
        c.condition,
        res(Resource::Cpu, Op::Gt, Value::Percent(90.0))
    );
    assert_eq!(
        (c.window, c.action),
        (Window::Consecutive(5), Action::Alert)
    );

    let c = ok("if children > 20 then alert");
    assert_eq!(
        c.condition,
        res(Resource::Children, Op::Gt, Value::Count(20))
    );

    let c = ok("if 3 restarts within 5 cycles then stop");
    assert_eq!(
        c.condition,
        Condition::Restarts {
            count: 3,
            cycles: 5
        }
    );
    assert_eq!((c.window, c.action), (Window::Once, Action::Stop));
}

#[test]
fn values_units_and_spacing() {
    let v = |t: &str| match ok(t).condition {
        Condition::Resource { value, .. } => value,
        other => panic!("not a resource condition: {other:?}"),
    };
    assert_eq!(v("if mem > 300MB then stop"), Value::Bytes(300 * MB));
    assert_eq!(v("if mem > 1.5 gb then stop"), Value::Bytes(3 * (1 << 29)));
    assert_eq!(v("if mem > 512 KB then stop"), Value::Bytes(512 * 1024));
    assert_eq!(v("if mem > 100 B then stop"), Value::Bytes(100));
    assert_eq!(v("if totalcpu >= 90 % then stop"), Value::Percent(90.0));
    assert_eq!(v("if cpu > 12.5% then stop"), Value::Percent(12.5));
    assert_eq!(
        v("if uptime > 10m then restart"),
        Value::Duration(Duration::from_secs(600))
    );
    assert_eq!(
        v("if uptime > 2h then restart"),
        Value::Duration(Duration::from_secs(7200))
    );
    assert_eq!(
        v("if uptime > 30 s then restart"),
        Value::Duration(Duration::from_secs(30))
    );
    assert_eq!(
        v("if uptime > 45 then restart"),
        Value::Duration(Duration::from_secs(45))
    );
    assert_eq!(
        v("if uptime > 1 day then restart"),
        Value::Duration(Duration::from_secs(86400))
    );
    assert_eq!(
        v("if uptime > 500ms then restart"),
        Value::Duration(Duration::from_millis(500))
    );
}

#[test]
fn operators_symbols_and_words() {
    for (text, want) in [
        (">", Op::Gt),
        ("gt", Op::Gt),
        ("greater", Op::Gt),
        ("<", Op::Lt),
        ("LT", Op::Lt),
        ("less", Op::Lt),
        (">=", Op::Ge),
        ("ge", Op::Ge),
        ("<=", Op::Le),
        ("le", Op::Le),
        ("==", Op::Eq),
        ("=", Op::Eq),
        ("eq", Op::Eq),
        ("equal", Op::Eq),
        ("!=", Op::Ne),
        ("ne", Op::Ne),
    ] {
        let c = ok(&format!("if children {text} 4 then alert"));
        assert_eq!(
            c.condition,
            res(Resource::Children, want, Value::Count(4)),
            "{text}"
        );
    }
    assert_eq!(ok("IF Children > 4 THEN Alert").action, Action::Alert);
}

#[test]
fn windows() {
    assert_eq!(
        ok("if cpu > 5% for 1 cycle then alert").window,
        Window::Consecutive(1)
    );
    assert_eq!(
        ok("if cpu > 5% 2 times within 3 cycles then alert").window,
        Window::Within {
            times: 2,
            cycles: 3
        }
    );
    assert_eq!(
        ok("if cpu > 5% for 3 times within 3 cycles then alert").window,
        Window::Within {
            times: 3,
            cycles: 3
        }
    );
    assert_eq!(
        ok("if 1 restart within 1 cycle then alert").condition,
        Condition::Restarts {
            count: 1,
            cycles: 1
        }
    );
    // Restarts may come faster than cycles.
    assert_eq!(
        ok("if 5 restarts within 2 cycles then stop").condition,
        Condition::Restarts {
            count: 5,
            cycles: 2
        }
    );
}

#[test]
fn actions() {
    assert_eq!(ok("if mem > 1 MB then stop").action, Action::Stop);
    assert_eq!(
        ok("if mem > 1 MB then signal TERM").action,
        Action::Signal(Signal::TERM)
    );
    assert_eq!(
        ok("if mem > 1 MB then signal SIGUSR2").action,
        Action::Signal(Signal::USR2)
    );
    assert_eq!(
        ok("if mem > 1 MB then signal 10").action,
        Action::Signal(Signal(10))
    );
    assert_eq!(
        ok("if mem > 1 MB then exec /usr/bin/notify --to 'ops team'").action,
        Action::Exec(vec![
            "/usr/bin/notify".into(),
            "--to".into(),
            "ops team".into()
        ])
    );
    assert_eq!(
        ok(r#"if mem > 1 MB then exec "/usr/local/bin/alert.sh mem high""#).action,
        Action::Exec(vec![
            "/usr/local/bin/alert.sh".into(),
            "mem".into(),
            "high".into()
        ])
    );
    let c = parse("if mem > 100 MB then kill", true).expect("kill in child_checks");
    assert_eq!(c.action, Action::Kill);
}

#[test]
fn errors_say_what_was_expected() {
    assert_eq!(
        bad(""),
        (
            0,
            "empty check: expected `if RESOURCE OP VALUE then ACTION`".into()
        )
    );
    assert_eq!(
        bad("when mem > 1 MB then stop"),
        (
            0,
            "expected `if` at the start of a check, found `when`".into()
        )
    );
    assert_eq!(
        bad("if"),
        (2, "expected a resource or `N restarts` after `if`".into())
    );
    assert_eq!(
        bad("if memory > 1 MB then stop"),
        (
            3,
            "unknown resource `memory`: expected mem, totalmem, cpu, totalcpu, children or uptime"
                .into()
        )
    );
    assert_eq!(
        bad("if mem 1 MB then stop"),
        (
            7,
            "expected a comparison such as `>` after `mem`, found `1`".into()
        )
    );
    assert_eq!(
        bad("if totalmem >"),
        (
            13,
            "expected a size such as `300 MB` after `totalmem >`".into()
        )
    );
    assert_eq!(
        bad("if totalmem > lots then stop"),
        (
            14,
            "expected a size such as `300 MB` after `totalmem >`, found `lots`".into()
        )
    );
    assert_eq!(
        bad("if mem > 300 then stop"),
        (
            13,
            "expected a size unit (B, KB, MB, GB) after `mem > 300`, found `then`".into()
        )
    );
    assert_eq!(
        bad("if mem > 300"),
        (
            12,
            "expected a size unit (B, KB, MB, GB) after `mem > 300`".into()
        )
    );
    assert_eq!(
        bad("if mem > 300 TB then stop"),
        (
            13,
            "expected a size unit (B, KB, MB, GB) after `mem > 300`, found `TB`".into()
        )
    );
    assert_eq!(
        bad("if mem > 50% then stop"),
        (
            11,
            "memory as a percentage is not supported: give a size such as `300 MB`".into()
        )
    );
    assert_eq!(
        bad("if cpu > 90 then alert"),
        (12, "expected `%` after `cpu > 90`".into())
    );
    assert_eq!(
        bad("if children > 2.5 then alert"),
        (
            14,
            "expected a whole number after `children >`, found `2.5`".into()
        )
    );
    assert_eq!(
        bad("if children > 99999999999999999999 then alert"),
        (14, "`99999999999999999999` is too large".into())
    );
    assert_eq!(
        bad("if mem > 1 MB for 0 cycles then stop"),
        (18, "the cycle count must be at least 1".into())
    );
    assert_eq!(
        bad("if mem > 1 MB for 3 then stop"),
        (
            20,
            "expected `cycles` or `times within M cycles` after `3`, found `then`".into()
        )
    );
    assert_eq!(
        bad("if mem > 1 MB 3 times within 2 cycles then stop"),
        (
            29,
            "`3 times within 2 cycles` can never happen: 2 must be at least 3".into()
        )
    );
    assert_eq!(
        bad("if mem > 1 MB 0 times within 2 cycles then stop"),
        (14, "the cycle count must be at least 1".into())
    );
    assert_eq!(
        bad("if mem > 1 MB restart"),
        (14, "expected `then`, found `restart`".into())
    );
    assert_eq!(
        bad("if mem > 1 MB then"),
        (
            18,
            "expected an action (restart, stop, alert, exec CMD, signal NAME or kill) after `then`"
                .into()
        )
    );
    assert_eq!(
        bad("if mem > 1 MB then reboot"),
        (19, "expected an action (restart, stop, alert, exec CMD, signal NAME or kill), found `reboot`".into())
    );
    assert_eq!(
        bad("if mem > 1 MB then kill"),
        (
            19,
            "`kill` is only allowed in child_checks; use `restart`, `stop` or `signal NAME`".into()
        )
    );
    assert_eq!(
        bad("if 3 restarts within 5 cycles then restart"),
        (
            35,
            "`if N restarts within M cycles` allows only `stop` or `alert`, not `restart`".into()
        )
    );
    assert_eq!(
        bad("if 0 restarts within 5 cycles then stop"),
        (
            3,
            "the restart count must be a whole number of at least 1".into()
        )
    );
    assert_eq!(
        bad("if 3 restarts within 0 cycles then stop"),
        (21, "the cycle count must be at least 1".into())
    );
    assert_eq!(
        bad("if 3 crashes within 5 cycles then stop"),
        (
            5,
            "expected `restarts` after `if 3`, found `crashes`".into()
        )
    );
    assert_eq!(
        bad("if mem > 1 MB then signal BOGUS"),
        (
            26,
            "unknown signal `BOGUS`: use a name such as `TERM`, `USR1` or a number 1-64".into()
        )
    );
    assert_eq!(
        bad("if mem > 1 MB then signal"),
        (
            25,
            "expected a signal name such as `TERM` after `signal`".into()
        )
    );
    assert_eq!(
        bad("if mem > 1 MB then exec"),
        (19, "expected a command after `exec`".into())
    );
    assert_eq!(
        bad("if mem > 1 MB then exec 'x"),
        (
            24,
            "unterminated single quote (the command is split like a shell would, but never run by one)"
                .into()
        )
    );
    assert_eq!(
        bad("if mem > 1 MB then stop now"),
        (24, "unexpected `now` after the action".into())
    );
    assert_eq!(
        bad("if mem > 1 MB then stop;"),
        (23, "unexpected character `;`".into())
    );
    assert_eq!(
        bad("if mem ! 1 MB then stop"),
        (7, "unexpected `!`: did you mean `!=`?".into())
    );
    // Offsets count chars, not bytes.
    assert_eq!(bad("if é"), (3, "unexpected character `é`".into()));
}

#[test]
fn display_is_canonical_and_parses_back() {
    for (text, canon) in [
        (
            "IF totalmem GT 300MB FOR 3 CYCLES THEN RESTART",
            "if totalmem > 300 MB for 3 cycles then restart",
        ),
        ("if mem > 1536 KB then stop", "if mem > 1536 KB then stop"),
        ("if mem > 1024 KB then stop", "if mem > 1 MB then stop"),
        ("if mem > 0 B then stop", "if mem > 0 B then stop"),
        (
            "if cpu >= 90 % for 1 cycles then alert",
            "if cpu >= 90% for 1 cycle then alert",
        ),
        (
            "if totalcpu < 12.5% 2 times within 4 cycle then alert",
            "if totalcpu < 12.5% 2 times within 4 cycles then alert",
        ),
        (
            "if children ne 20 then alert",
            "if children != 20 then alert",
        ),
        (
            "if uptime > 120 then restart",
            "if uptime > 2m then restart",
        ),
        (
            "if uptime > 1500 ms then restart",
            "if uptime > 1500ms then restart",
        ),
        (
            "if 1 restarts within 1 cycles then alert",
            "if 1 restart within 1 cycle then alert",
        ),
        (
            "if mem > 1 MB then signal sigterm",
            "if mem > 1 MB then signal TERM",
        ),
        (
            "if mem > 1 MB then signal 40",
            "if mem > 1 MB then signal 40",
        ),
        (
            r#"if mem > 1 MB then exec "/bin/x 'a b' it\'s""#,
            r"if mem > 1 MB then exec /bin/x 'a b' 'it'\''s'",
        ),
    ] {
        let c = ok(text);
        assert_eq!(c.to_string(), canon, "display of {text:?}");
        let again = ok(canon);
        assert_eq!(
            (again.condition, again.window, again.action),
            (c.condition, c.window, c.action),
            "{canon}"
        );
    }
}
