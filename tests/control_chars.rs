//! SPEC 1 and 3: control characters. A unit file holding one does not load
//! (`check` and the daemon say where); a client value or a raw socket request
//! holding one is refused with exit code 2 and never forges a `list` line.

mod common;

use common::{Daemon, gsup_bin, temp_root, wait_until, write_units};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::Duration;

const WORKER: &str = "instance: $QUEUE\nexec: [/bin/sleep, \"1000\"]\n";

fn gsup(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(gsup_bin())
        .args(args)
        .env_remove("GSUP_SOCKET")
        .stdin(Stdio::null())
        .output()
        .expect("run gsup");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Sends one raw request line and returns the daemon's answer as JSON.
fn raw_request(socket: &std::path::Path, line: &str) -> serde_json::Value {
    let mut s = UnixStream::connect(socket).expect("connect");
    s.write_all(line.as_bytes()).expect("write");
    s.write_all(b"\n").expect("write");
    let mut answer = String::new();
    BufReader::new(s).read_line(&mut answer).expect("read");
    serde_json::from_str(&answer).expect("json answer")
}

#[test]
fn check_names_the_place_of_a_nul() {
    let root = temp_root();
    let dir = root.path().join("services.d");
    write_units(
        &dir,
        &[
            (
                "web",
                "exec: /bin/true\nenv:\n  QUEUE: high\n  PATH: \"/bin\\0:/usr/bin\"\n",
            ),
            ("db", "exec: [/bin/echo, \"a\\0b\"]\n"),
            ("ok", "exec: /bin/true\n"),
        ],
    );
    let (code, out, _) = gsup(&["check", "--config-dir", &dir.to_string_lossy()]);
    assert_eq!(code, 1, "{out}");
    let web = format!(
        "{}:4:14: NUL in env value of PATH",
        dir.join("web.yaml").display()
    );
    let db = format!("{}:1:21: NUL in exec word 2", dir.join("db.yaml").display());
    assert!(out.contains(&web), "{out}");
    assert!(out.contains(&db), "{out}");
    assert!(out.contains("1 job, 2 errors"), "{out}");
}

#[test]
fn the_client_refuses_control_characters_in_values_with_2() {
    // No daemon is needed: the refusal comes first.
    for args in [
        &["start", "w", "QUEUE=a\nw (x) start/running, process 1"][..],
        &["emit", "deploy", "REV=\u{1b}[2J"],
        // (a NUL cannot be in an argument: the kernel ends the string there)
        &["stop", "w", "QUEUE=\x7f"],
        &["reload", "w", "QUEUE=\r"],
    ] {
        let mut full = vec!["--socket", "/nonexistent/gsup.sock"];
        full.extend_from_slice(args);
        let (code, out, err) = gsup(&full);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty(), "{out}");
        assert_eq!(err.lines().count(), 1, "one line: {err:?}");
        assert!(err.contains("control character"), "{err}");
        assert!(
            !err.trim_end_matches('\n')
                .contains(|c: char| c.is_control()),
            "{err:?}"
        );
    }
}

#[test]
fn the_daemon_refuses_a_raw_request_with_a_line_break_and_lists_no_forged_line() {
    let d = Daemon::start(
        &[("w", WORKER), ("bad", "exec: [/bin/echo, \"a\\0b\"]\n")],
        &[],
    );
    let forged = "a\\nbad start/running, process 1";
    let answer = raw_request(
        &d.socket,
        &format!(r#"{{"cmd":"start","job":"w","env":[["QUEUE","{forged}"]],"wait":true}}"#),
    );
    assert_eq!(answer["code"], 2, "{answer}");
    let error = answer["error"].as_str().unwrap_or_default();
    assert!(error.contains("control character"), "{error}");
    assert!(!error.contains('\n'), "{error:?}");
    for line in [
        r#"{"cmd":"emit","event":"go\n","env":[],"wait":false}"#,
        r#"{"cmd":"emit","event":"go","env":[["K","\u0000"]],"wait":false}"#,
        r#"{"cmd":"status","jobs":["w\u001b"]}"#,
    ] {
        assert_eq!(raw_request(&d.socket, line)["code"], 2, "{line}");
    }
    // Nothing started; `list` shows exactly the loaded jobs: the unit with a
    // NUL in an exec word did not load at all.
    let (code, out, _) = d.run(&["list"]);
    assert_eq!(code, 0);
    assert_eq!(out, "w stop/waiting\n");
    assert!(d.job_processes().is_empty(), "{:?}", d.job_processes());
    let (code, _, err) = d.run(&["status", "bad"]);
    assert_eq!(code, 4, "{err}");
    assert!(d.stderr().contains("NUL in exec word 2"), "{}", d.stderr());

    // A good value still works, so the refusals above were about the value.
    let (code, out, err) = d.run(&["start", "w", "QUEUE=high\tlow"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.starts_with("w (high\tlow) start/running, process "),
        "{out}"
    );
    wait_until(Duration::from_secs(5), "one worker", || {
        d.job_processes().len() == 1
    });
    d.assert_no_zombies();
}
