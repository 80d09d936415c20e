//! The exit codes docs/commands.md promises, checked against the real binary for each
//! case that can run here. Every case quotes the sentence it checks, which must be in
//! the docs (so a changed promise fails here until the binary keeps it), then runs it:
//! clients against a daemon in its own PID namespace, and gsup as PID 1 of one.

mod common;

use common::{Daemon, gsup_bin, temp_root, wait_until, write_units};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const SLEEPER: &str = "exec: [/bin/sleep, '1000']\n";

/// docs/commands.md with every run of blanks (line breaks included) one space.
fn docs() -> String {
    let text =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/commands.md"))
            .expect("docs/commands.md");
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Asserts that docs/commands.md says `claim` (blanks and line breaks aside).
fn documented(claim: &str) {
    let claim = claim.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        docs().contains(&claim),
        "docs/commands.md no longer says: {claim}"
    );
}

/// Runs gsup without a daemon and without the environment's defaults;
/// (exit code, stdout, stderr).
fn bare(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(gsup_bin())
        .args(args)
        .env_remove("GSUP_SOCKET")
        .env_remove("GSUP_CONFIG_DIR")
        .stdin(Stdio::null())
        .output()
        .expect("gsup");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn exit_code_table_against_a_daemon() {
    let d = Daemon::start(
        &[
            ("web", SLEEPER),
            ("worker", &format!("instance: $Q\n{SLEEPER}")),
        ],
        &[],
    );
    documented("| 0 | success; for `status JOB...`: every named job is running |");
    documented("| 3 | `status JOB...`: a named job is not running (its state is not `running`) |");
    documented("| 4 | no such job |");
    assert_eq!(d.run(&["status", "web"]).0, 3);
    assert_eq!(d.run(&["start", "web"]).0, 0);
    assert_eq!(d.run(&["status", "web"]).0, 0);
    assert_eq!(d.run(&["status", "nope"]).0, 4);
    assert_eq!(d.run(&["start", "nope"]).0, 4);
    documented("Exit 4 for an unknown job.");
    assert_eq!(d.run(&["log", "nope"]).0, 4);

    documented(
        "| 2 | usage error (unknown command or option, `KEY=VALUE` without `=`, a bad key, a bad duration, `-v` with `--json`, ...) |",
    );
    for args in [
        &["frobnicate"][..],
        &["start", "web", "--frob"],
        &["start", "web", "QUEUE"],
        &["start", "web", "1Q=x"],
        &["status", "-v", "--json", "web"],
    ] {
        assert_eq!(d.run(args).0, 2, "{args:?}");
    }
    assert_eq!(bare(&["daemon", "--cycle", "5x"]).0, 2);

    documented("exit 0 once delivered, 1 if the job has no main process");
    assert_eq!(d.run(&["reload", "web"]).0, 0);
    assert_eq!(d.run(&["stop", "web"]).0, 0);
    assert_eq!(d.run(&["reload", "web"]).0, 1);

    documented(
        "`JOB (INSTANCE) stop/waiting` (exit 3). A pair before any job is a usage error (exit 2).",
    );
    assert_eq!(d.run(&["status", "worker", "Q=a"]).0, 3);
    assert_eq!(d.run(&["status", "Q=a", "worker"]).0, 2);
    documented("the pairs pick one instance (exit 1 when it does not run)");
    assert_eq!(d.run(&["stop", "worker", "Q=a"]).0, 1);

    documented("Without `-f`, a missing log file is exit 1");
    assert_eq!(d.run(&["log", "worker", "Q=zz"]).0, 1);
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}

#[test]
fn reload_config_exits_1_on_a_bad_unit_file_and_keeps_the_good_definition() {
    documented(
        "A bad file is reported in the daemon's log and does not replace a good definition: \
         exit 1, naming the first error as `FILE:LINE:COL: message`.",
    );
    documented("Exit 0 when every file loaded.");
    let d = Daemon::start(&[("web", SLEEPER)], &[]);
    assert_eq!(d.run(&["reload-config"]).0, 0);
    write_units(
        &d.config,
        &[("web", "exec: [/bin/sleep, '1000']\nbogus_key: 1\n")],
    );
    let (code, _, err) = d.run(&["reload-config"]);
    assert_eq!(code, 1, "{err}");
    let file = d.config.join("web.yaml");
    assert!(
        err.starts_with(&format!("gsup: {}:2:", file.display())),
        "FILE:LINE:COL: {err}"
    );
    // The good definition stays: the job still starts.
    assert_eq!(d.run(&["start", "web"]).0, 0);
    write_units(&d.config, &[("web", SLEEPER)]);
    assert_eq!(d.run(&["reload-config"]).0, 0);
    assert_eq!(d.shutdown(), 0);
}

#[test]
fn commands_without_a_daemon() {
    let root = temp_root();
    let sock = root.path().join("none.sock");
    documented("| 1 | the action failed, permission denied, or the daemon cannot be reached |");
    let (code, _, err) = bare(&["--socket", sock.to_str().expect("utf8"), "list"]);
    assert_eq!(code, 1);
    assert!(
        err.starts_with("gsup: cannot reach the daemon at "),
        "{err}"
    );

    documented(
        "Exit 0 when there is no error (warnings allowed), 1 otherwise (also when the config dir is missing).",
    );
    let good = root.path().join("good");
    write_units(&good, &[("web", SLEEPER)]);
    let bad = root.path().join("bad");
    write_units(&bad, &[("web", "exec: [\n")]);
    let dir = |p: &Path| p.to_str().expect("utf8").to_string();
    assert_eq!(bare(&["check", "--config-dir", &dir(&good)]).0, 0);
    assert_eq!(bare(&["check", "--config-dir", &dir(&bad)]).0, 1);
    let missing = root.path().join("missing");
    assert_eq!(bare(&["check", "--config-dir", &dir(&missing)]).0, 1);

    documented("A new shell picks it up. Exit 0; another shell name is a usage error (2).");
    assert_eq!(bare(&["completions", "bash"]).0, 0);
    assert_eq!(bare(&["completions", "nosh"]).0, 2);
    assert_eq!(bare(&["man"]).0, 0);

    documented("an unknown name is a usage error (exit 2) before the daemon starts.");
    let (code, out, err) = bare(&[
        "daemon",
        "--control-group",
        "no-such-group-gsup",
        "--socket",
        sock.to_str().expect("utf8"),
    ]);
    assert_eq!((code, out.as_str()), (2, ""), "{err}");
    assert!(!sock.exists(), "nothing was started");
}

/// As PID 1 an unknown `--control-group` is logged and the daemon runs on
/// (without the group); `shutdown` in a PID namespace ends it with 0.
#[test]
fn as_pid_1_an_unknown_control_group_is_logged_and_the_daemon_runs() {
    documented(
        "As PID 1, where exiting would take the machine (or the container) down, the daemon \
         logs the error and runs on without the group",
    );
    let root = temp_root();
    let config = root.path().join("services.d");
    write_units(&config, &[("web", SLEEPER)]);
    let sock = root.path().join("init.sock");
    let mut init = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(gsup_bin())
        .args([
            "daemon",
            "--control-group",
            "no-such-group-gsup",
            "--config-dir",
        ])
        .arg(&config)
        .arg("--log-dir")
        .arg(root.path().join("log"))
        .arg("--socket")
        .arg(&sock)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("unshare");
    let client = |args: &[&str]| {
        Command::new(gsup_bin())
            .arg("--socket")
            .arg(&sock)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("client")
    };
    wait_until(Duration::from_secs(10), "PID-1 gsup answers", || {
        assert!(
            init.try_wait().expect("try_wait").is_none(),
            "PID-1 gsup exited"
        );
        client(&["list"]).status.success()
    });
    let started = client(&["start", "web"]);
    assert_eq!(
        started.status.code(),
        Some(0),
        "changing commands work for root and the daemon's user"
    );
    assert_eq!(client(&["shutdown"]).status.code(), Some(0));
    let out = init.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("gsup: --control-group: no group named 'no-such-group-gsup'"),
        "{err}"
    );
}
