//! `gsup check` and the shell gsup never runs: shell operators as command
//! words are warnings, a `$var` of an `sh -c` script the job will not have is
//! an error (a warning for a job started by a user's event), at FILE:LINE:COL.

mod common;

use common::{Daemon, gsup_bin, temp_root, write_units};
use std::path::Path;
use std::process::{Command, Stdio};

fn check(dir: &Path) -> (i32, String) {
    let out = Command::new(gsup_bin())
        .arg("check")
        .arg("--config-dir")
        .arg(dir)
        .stdin(Stdio::null())
        .output()
        .expect("run gsup check");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The diagnostic lines of `out` about `file`, without the directory.
fn lines_of(out: &str, dir: &Path, file: &str) -> Vec<String> {
    let prefix = format!("{}/{file}:", dir.display());
    out.lines()
        .filter_map(|l| l.strip_prefix(&prefix))
        .map(|l| format!("{file}:{l}"))
        .collect()
}

#[test]
fn shell_operators_are_warnings_that_keep_exit_0() {
    let root = temp_root();
    let dir = root.path().join("services.d");
    write_units(
        &dir,
        &[
            ("pipe", "exec: \"cat /etc/hostname | grep root > f\"\n"),
            (
                "hooks",
                "exec: /bin/true\npre_start: [/bin/mkdir, -p, /run/x, \"&&\", chown, x]\n\
                 post_stop: [sh, -c, \"rm -f /run/x/*\", \"2>/dev/null\"]\n\
                 ready: {exec: \"curl -sf http://127.0.0.1:9400/ >/dev/null\"}\n",
            ),
            ("subst", "exec: [/bin/echo, \"$(date)\", \"`id`\"]\n"),
            (
                "fine",
                "exec: [find, /tmp, -name, \"*.tmp\", -exec, rm, \"{}\", \";\"]\n\
                 pre_start: [/bin/sh, -c, \"a | b > c && d; e &\"]\n",
            ),
        ],
    );
    let (code, out) = check(&dir);
    assert_eq!(code, 0, "warnings only:\n{out}");
    assert_eq!(
        lines_of(&out, &dir, "pipe.yaml"),
        [
            "pipe.yaml:1:26: warning: exec: `|` (word 3) is a pipe, but gsup runs no shell: \
          cat gets it as an argument; for a shell, write `[/bin/sh, -c, \"...\"]`"
        ]
    );
    let hooks = lines_of(&out, &dir, "hooks.yaml");
    assert_eq!(hooks.len(), 3, "{hooks:#?}");
    assert!(
        hooks[0]
            .starts_with("hooks.yaml:2:38: warning: pre_start: `&&` (word 4) is a list operator"),
        "{}",
        hooks[0]
    );
    assert!(
        hooks[1].starts_with(
            "hooks.yaml:3:40: warning: post_stop: `2>/dev/null` (word 4) is a redirection"
        ),
        "{}",
        hooks[1]
    );
    assert!(
        hooks[1].ends_with("put it inside the script"),
        "{}",
        hooks[1]
    );
    assert!(
        hooks[2].starts_with(
            "hooks.yaml:4:48: warning: ready: exec: `>/dev/null` (word 4) is a redirection"
        ),
        "{}",
        hooks[2]
    );
    let subst = lines_of(&out, &dir, "subst.yaml");
    assert_eq!(subst.len(), 1, "one warning per command: {subst:#?}");
    assert!(
        subst[0].starts_with(
            "subst.yaml:1:20: warning: exec: `$(date)` (word 2) is a command substitution"
        ),
        "{}",
        subst[0]
    );
    assert!(lines_of(&out, &dir, "fine.yaml").is_empty(), "{out}");
    assert!(out.ends_with("4 jobs, 0 errors, 5 warnings\n"), "{out}");
}

#[test]
fn an_undefined_shell_variable_is_an_error_and_dollar_dollar_fixes_it() {
    let root = temp_root();
    let dir = root.path().join("services.d");
    let bad = "type: task\n\
               exec: [sh, -c, \"i=0; while [ $i -lt 3 ]; do i=$((i+1)); done; echo $i\"]\n";
    write_units(&dir, &[("count", bad)]);
    let (code, out) = check(&dir);
    assert_eq!(code, 1, "{out}");
    assert_eq!(
        lines_of(&out, &dir, "count.yaml"),
        [
            "count.yaml:2:30: exec: gsup expands `$i` in this sh -c script before the shell \
          runs, and the job has no variable i, so every start fails (`undefined variable i`); \
          write `$$i` for a shell variable, or `${i:-}` for one a start may pass"
        ],
        "one error per variable, at its first use"
    );

    // What check promised: the start fails...
    let d = Daemon::start(&[("count", bad)], &[]);
    let (code, _, _) = d.run(&["start", "count"]);
    assert_eq!(code, 1);
    let (_, v, _) = d.run(&["status", "-v", "count"]);
    assert!(v.contains("undefined variable `i`"), "{v}");
    drop(d);

    // ...and `$$i` runs the loop in the shell, which check passes.
    let good = "type: task\n\
                exec: [sh, -c, \"i=0; while [ $$i -lt 3 ]; do i=$$((i+1)); done; echo counted $$i $GSUP_JOB\"]\n";
    write_units(&dir, &[("count", good)]);
    let (code, out) = check(&dir);
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with("1 job, 0 errors, 0 warnings\n"), "{out}");
    let d = Daemon::start(&[("count", good)], &[]);
    let (code, _, err) = d.run(&["start", "count"]);
    assert_eq!(code, 0, "{err}");
    let log = std::fs::read_to_string(d.logs.join("count.log")).expect("job log");
    assert!(log.contains("counted 3 count\n"), "{log}");
    d.assert_no_zombies();
}

#[test]
fn what_a_job_will_have_is_known() {
    let root = temp_root();
    let dir = root.path().join("services.d");
    write_units(
        &dir,
        &[
            (
                "worker",
                "instance: $QUEUE\nstart_on: stopped db or runlevel [2345]\nenv: {A: b}\n\
                 ready: notify\n\
                 exec: [/bin/sh, -e, -c, \"echo $QUEUE $A $RESULT $RUNLEVEL $PATH $GSUP_JOB \
                 $GSUP_INSTANCE $NOTIFY_SOCKET ${OPT:-x} $$local\"]\n",
            ),
            ("db", "exec: /bin/true\n"),
            (
                "deploy",
                "start_on: deploy REV=*\nready: notify\n\
                 exec: [bash, -o, pipefail, -c, \"echo $REV $WHO $NOTIFY_SOCKET\"]\n\
                 post_start: [sh, -c, \"echo $NOTIFY_SOCKET\"]\n",
            ),
        ],
    );
    let (code, out) = check(&dir);
    assert_eq!(code, 0, "{out}");
    assert!(lines_of(&out, &dir, "worker.yaml").is_empty(), "{out}");
    assert!(lines_of(&out, &dir, "db.yaml").is_empty(), "{out}");
    let deploy = lines_of(&out, &dir, "deploy.yaml");
    assert_eq!(deploy.len(), 2, "{deploy:#?}");
    assert!(
        deploy[0].starts_with("deploy.yaml:3:43: warning: exec: gsup expands `$WHO`")
            && deploy[0].contains("unless the event that starts it carries one"),
        "{}",
        deploy[0]
    );
    // NOTIFY_SOCKET is the main process's alone.
    assert!(
        deploy[1]
            .starts_with("deploy.yaml:4:28: warning: post_start: gsup expands `$NOTIFY_SOCKET`"),
        "{}",
        deploy[1]
    );
}

/// An Upstart `script` block as docs/migration.md writes it: a literal block
/// over several lines, the finding at the line and column of the `$`.
#[test]
fn a_script_block_is_placed_line_by_line() {
    let root = temp_root();
    let dir = root.path().join("services.d");
    let block = "exec: /bin/true\npre_start:\n  - /bin/sh\n  - -e\n  - -c\n  - |\n    \
                 mkdir -p /tmp/x\n    for f in /tmp/x/*.pid; do\n        [ -e \"$f\" ] && rm -f \"$$f\"\n    done\n";
    write_units(&dir, &[("block", block)]);
    let (code, out) = check(&dir);
    assert_eq!(code, 1, "{out}");
    let found = lines_of(&out, &dir, "block.yaml");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with("block.yaml:9:15: pre_start: gsup expands `$f`"),
        "{}",
        found[0]
    );
    write_units(&dir, &[("block", &block.replace("\"$f\"", "\"$$f\""))]);
    assert_eq!(check(&dir).0, 0);
}
