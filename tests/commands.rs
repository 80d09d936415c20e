//! SPEC section 3: every command and exit code, with the real binary against
//! the real daemon (in its own PID namespace). Tests never sleep to synchronise.

mod common;

use common::{Daemon, gsup_bin, status_pid, temp_root, wait_until, write_units};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

const SLEEPER: &str = "exec: [/bin/sleep, \"1000\"]\n";

/// Runs the client without any daemon; (code, stdout, stderr).
fn run_bare(args: &[&str], envs: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = Command::new(gsup_bin());
    cmd.args(args)
        .env_remove("GSUP_SOCKET")
        .env_remove("GSUP_CONFIG_DIR")
        .stdin(Stdio::null());
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run gsup");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts `out` is exactly one status line `NAME start/running, process PID`; returns PID.
fn running_pid(name: &str, out: &str) -> i32 {
    let prefix = format!("{name} start/running, process ");
    assert!(
        out.starts_with(&prefix) && out.ends_with('\n'),
        "status line: {out:?}"
    );
    assert_eq!(out.lines().count(), 1, "{out:?}");
    let pid = status_pid(out).expect("pid in status line");
    assert_eq!(out, format!("{prefix}{pid}\n"));
    pid
}

// ---- without a daemon -------------------------------------------------------

#[test]
fn usage_errors_exit_2_with_one_line() {
    for args in [
        &["start", "web", "QUEUE"][..],
        &["start", "web", "=high"][..],
        &["start", "web", "1A=x"][..],
        &["emit", "deploy", "A-B=x"][..],
        &["start"][..],
        &["frobnicate"][..],
        &["log", "web", "-n", "many"][..],
        &["daemon", "--cycle", "soon"][..],
        &[][..],
    ] {
        let (code, out, err) = run_bare(args, &[("GSUP_SOCKET", "/nonexistent/gsup.sock")]);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert_eq!(out, "", "{args:?}");
        assert!(
            err.starts_with("gsup: ") && err.lines().count() == 1,
            "{args:?}: {err:?}"
        );
    }
}

#[test]
fn help_exits_0() {
    let (code, out, _) = run_bare(&["--help"], &[]);
    assert_eq!(code, 0);
    for cmd in [
        "daemon",
        "start",
        "stop",
        "restart",
        "reload",
        "status",
        "list",
        "emit",
        "check",
        "reload-config",
        "log",
        "shutdown",
    ] {
        assert!(
            out.contains(&format!("\n  {cmd} ")),
            "--help lacks {cmd}: {out}"
        );
    }
    let (code, out, _) = run_bare(&["log", "--help"], &[]);
    assert_eq!(code, 0);
    assert!(
        out.contains("-n, --lines <N>") && out.contains("-f, --follow"),
        "{out}"
    );
}

#[test]
fn unreachable_daemon_is_one_line_naming_the_socket_exit_1() {
    let root = temp_root();
    let sock = root.path().join("absent.sock");
    let sock_s = sock.to_str().expect("utf8 path");
    for args in [&["status"][..], &["start", "web"][..], &["log", "web"][..]] {
        let mut full = vec!["--socket", sock_s];
        full.extend_from_slice(args);
        let (code, out, err) = run_bare(&full, &[]);
        assert_eq!(code, 1, "{args:?}");
        assert_eq!(out, "");
        assert_eq!(
            err,
            format!(
                "gsup: cannot reach the daemon at {sock_s}: No such file or directory (os error 2)\n"
            )
        );
    }
    // A stale socket file that nobody listens on: refused, not a hang.
    let stale = root.path().join("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).expect("bind"));
    let (code, _, err) = run_bare(&["status", "--socket", stale.to_str().expect("utf8")], &[]);
    assert_eq!(code, 1);
    assert_eq!(
        err,
        format!(
            "gsup: cannot reach the daemon at {}: Connection refused (os error 111)\n",
            stale.display()
        )
    );
}

#[test]
fn socket_path_precedence_flag_then_env() {
    let (_, _, err) = run_bare(&["list"], &[("GSUP_SOCKET", "/nonexistent/env.sock")]);
    assert!(
        err.starts_with("gsup: cannot reach the daemon at /nonexistent/env.sock: "),
        "{err}"
    );
    let (_, _, err) = run_bare(
        &["list", "--socket", "/nonexistent/flag.sock"],
        &[("GSUP_SOCKET", "/nonexistent/env.sock")],
    );
    assert!(
        err.starts_with("gsup: cannot reach the daemon at /nonexistent/flag.sock: "),
        "{err}"
    );
    // As root (the test user), the default is /run/gsup.sock.
    if nix::unistd::geteuid().is_root() && !Path::new("/run/gsup.sock").exists() {
        let (_, _, err) = run_bare(&["list"], &[]);
        assert!(
            err.starts_with("gsup: cannot reach the daemon at /run/gsup.sock: "),
            "{err}"
        );
    }
}

#[test]
fn check_good_dir_exits_0_bad_dir_exits_1() {
    let root = temp_root();
    let good = root.path().join("good");
    write_units(
        &good,
        &[
            ("web", SLEEPER),
            ("worker", "start_on: started web\nexec: /bin/true\n"),
        ],
    );
    let (code, out, err) = run_bare(
        &["check", "--config-dir", good.to_str().expect("utf8")],
        &[],
    );
    assert_eq!(code, 0, "{out}{err}");
    let web = out.find("web").expect("start order names web");
    let worker = out.find("worker").expect("start order names worker");
    assert!(web < worker, "start order: {out}");

    let bad = root.path().join("bad");
    write_units(
        &bad,
        &[
            ("web", SLEEPER),
            ("broken", "exec: [/bin/true]\nrespawn: maybe\n"),
        ],
    );
    let (code, out, err) = run_bare(&["check", "--config-dir", bad.to_str().expect("utf8")], &[]);
    assert_eq!(code, 1);
    // Diagnostics may go to stdout (`gsup check | grep`) or stderr.
    let err = format!("{out}{err}");
    let file = bad.join("broken.yaml");
    assert!(
        err.contains(&format!("{}:2:", file.display())),
        "FILE:LINE:COL: {err}"
    );
}

// ---- against the daemon -----------------------------------------------------

#[test]
fn start_waits_and_prints_the_status_line() {
    let d = Daemon::start(&[("web", SLEEPER)], &[]);
    let (code, out, err) = d.run(&["start", "web"]);
    assert_eq!(code, 0, "{err}");
    let pid = running_pid("web", &out);
    assert!(d.host_pid(pid).is_some(), "process {pid} is alive");
    let (code, out, _) = d.run(&["status", "web"]);
    assert_eq!(
        (code, out),
        (0, format!("web start/running, process {pid}\n"))
    );
    assert_eq!(d.shutdown(), 0);
}

#[test]
fn start_of_an_unknown_job_is_4() {
    let d = Daemon::start(&[("web", SLEEPER)], &[]);
    let (code, out, err) = d.run(&["start", "nope"]);
    assert_eq!(code, 4);
    assert_eq!(out, "");
    assert!(
        err.starts_with("gsup: ") && err.contains("nope") && err.lines().count() == 1,
        "{err}"
    );
    let (code, _, _) = d.run(&["status", "nope"]);
    assert_eq!(code, 4);
}

#[test]
fn instance_status_line() {
    let d = Daemon::start(
        &[("worker", "instance: $QUEUE\nexec: [/bin/sleep, \"1000\"]\n")],
        &[],
    );
    let (code, out, err) = d.run(&["start", "worker", "QUEUE=high"]);
    assert_eq!(code, 0, "{err}");
    let pid = status_pid(&out).expect("pid");
    assert_eq!(out, format!("worker (high) start/running, process {pid}\n"));
}

#[test]
fn stop_waits_and_status_of_a_stopped_job_is_3() {
    let d = Daemon::start(&[("web", SLEEPER)], &[]);
    let (code, out, _) = d.run(&["start", "web"]);
    assert_eq!(code, 0);
    let pid = running_pid("web", &out);
    let host = d.host_pid(pid).expect("host pid");
    let (code, out, err) = d.run(&["stop", "web"]);
    assert_eq!((code, out.as_str()), (0, "web stop/waiting\n"), "{err}");
    assert!(!common::alive(host), "stop waited for the process to go");
    let (code, out, _) = d.run(&["status", "web"]);
    assert_eq!((code, out.as_str()), (3, "web stop/waiting\n"));
    d.assert_no_zombies();
}

#[test]
fn restart_gives_a_new_pid() {
    let d = Daemon::start(&[("web", SLEEPER)], &[]);
    let (_, out, _) = d.run(&["start", "web"]);
    let old = running_pid("web", &out);
    let (code, out, err) = d.run(&["restart", "web"]);
    assert_eq!(code, 0, "{err}");
    let new = running_pid("web", &out);
    assert_ne!(old, new);
}

#[test]
fn reload_delivers_the_signal() {
    let root = temp_root();
    let armed = root.path().join("armed");
    let got = root.path().join("got-hup");
    let unit = format!(
        "exec: [/bin/sh, -c, \"trap 'echo hup >> {}' HUP; touch {}; while :; do /bin/sleep 0.05; done\"]\n",
        got.display(),
        armed.display()
    );
    let d = Daemon::start(&[("trapper", unit.as_str())], &[]);
    let (code, _, err) = d.run(&["start", "trapper"]);
    assert_eq!(code, 0, "{err}");
    wait_until(Duration::from_secs(5), "trap is set", || armed.exists());
    let (code, _, err) = d.run(&["reload", "trapper"]);
    assert_eq!(code, 0, "{err}");
    wait_until(Duration::from_secs(5), "HUP delivered", || {
        std::fs::read_to_string(&got).is_ok_and(|s| s == "hup\n")
    });
    let (code, out, _) = d.run(&["status", "trapper"]);
    assert_eq!(code, 0, "still running after HUP: {out}");
}

#[test]
fn status_verbose_adds_one_indented_line() {
    let d = Daemon::start(&[("web", SLEEPER)], &[]);
    let (_, out, _) = d.run(&["start", "web"]);
    let pid = running_pid("web", &out);
    let (code, out, _) = d.run(&["status", "-v", "web"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0], format!("web start/running, process {pid}"));
    let second = lines[1];
    assert!(second.starts_with("    memory "), "{second}");
    let fields: Vec<&str> = second.trim_start().splitn(5, ", ").collect();
    assert_eq!(fields.len(), 5, "{second}");
    assert!(fields[0].starts_with("memory "));
    assert!(fields[1].starts_with("cpu "));
    assert!(fields[2].starts_with("uptime "));
    assert_eq!(fields[3], "restarts 0");
    assert!(fields[4].starts_with("last exit: "));
}

#[test]
fn status_json_has_the_spec_fields() {
    let d = Daemon::start(&[("web", SLEEPER), ("idle", SLEEPER)], &[]);
    let (_, out, _) = d.run(&["start", "web"]);
    let pid = running_pid("web", &out);
    let (code, out, _) = d.run(&["list", "--json"]);
    assert_eq!(code, 0);
    let objs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("one JSON object per line"))
        .collect();
    assert_eq!(objs.len(), 2, "{out}");
    assert_eq!(objs[0]["name"], "idle");
    assert_eq!(objs[0]["goal"], "stop");
    assert_eq!(objs[0]["state"], "waiting");
    assert!(objs[0]["pid"].is_null());
    let web = &objs[1];
    assert_eq!(web["name"], "web");
    assert_eq!(web["instance"], "");
    assert_eq!(web["goal"], "start");
    assert_eq!(web["state"], "running");
    assert_eq!(web["pid"], pid);
    assert_eq!(web["restarts"], 0);
    for key in ["memory_bytes", "cpu_percent", "uptime_s", "last_exit"] {
        assert!(web.get(key).is_some(), "missing {key}: {web}");
    }
}

#[test]
fn list_is_sorted_by_name() {
    let d = Daemon::start(
        &[
            ("zeta", SLEEPER),
            ("alpha", SLEEPER),
            ("git/proxy", SLEEPER),
        ],
        &[],
    );
    let (code, out, _) = d.run(&["list"]);
    assert_eq!(code, 0);
    assert_eq!(
        out,
        "alpha stop/waiting\ngit/proxy stop/waiting\nzeta stop/waiting\n"
    );
}

#[test]
fn emit_with_key_value_starts_a_job_with_that_env() {
    let root = temp_root();
    let seen = root.path().join("who");
    let unit = format!(
        "start_on: deploy\nexec: [/bin/sh, -c, \"echo $WHO > {}; exec /bin/sleep 1000\"]\n",
        seen.display()
    );
    let d = Daemon::start(&[("deployer", unit.as_str())], &[]);
    let (code, _, err) = d.run(&["emit", "deploy", "WHO=alice"]);
    assert_eq!(code, 0, "{err}");
    // emit waits until the jobs it started have settled.
    let (code, out, _) = d.run(&["status", "deployer"]);
    assert_eq!(code, 0, "{out}");
    running_pid("deployer", &out);
    wait_until(Duration::from_secs(5), "job saw WHO", || {
        std::fs::read_to_string(&seen).is_ok_and(|s| s == "alice\n")
    });
}

#[test]
fn reload_config_picks_up_a_new_unit() {
    let d = Daemon::start(&[("web", SLEEPER)], &[]);
    let (code, _, _) = d.run(&["status", "later"]);
    assert_eq!(code, 4);
    write_units(&d.config, &[("later", SLEEPER)]);
    let (code, _, err) = d.run(&["reload-config"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, _) = d.run(&["status", "later"]);
    assert_eq!((code, out.as_str()), (3, "later stop/waiting\n"));
}

#[test]
fn log_prints_the_last_lines() {
    let unit = "exec: [/bin/sh, -c, \"echo one; echo two; echo three; exec /bin/sleep 1000\"]\n";
    let d = Daemon::start(&[("talker", unit)], &[]);
    let (code, _, err) = d.run(&["start", "talker"]);
    assert_eq!(code, 0, "{err}");
    // The job's lines, and gsup's own (`gsup: started, pid N`) among them.
    wait_until(Duration::from_secs(5), "three lines logged", || {
        without_gsup(&d.run(&["log", "talker"]).1) == "one\ntwo\nthree\n"
    });
    let all = d.run(&["log", "talker"]).1;
    assert_eq!(all.lines().count(), 4, "{all}");
    assert!(all.contains("gsup: started, pid "), "{all}");
    let (code, out, _) = d.run(&["log", "talker", "-n", "2"]);
    let last2: Vec<&str> = all.lines().skip(2).collect();
    assert_eq!(
        (code, out.as_str()),
        (0, format!("{}\n", last2.join("\n")).as_str())
    );
    let (code, _, _) = d.run(&["log", "nope"]);
    assert_eq!(code, 4);
}

/// A job log's text without gsup's own lines.
fn without_gsup(text: &str) -> String {
    text.lines()
        .filter(|l| !l.starts_with("gsup: "))
        .map(|l| format!("{l}\n"))
        .collect()
}

#[test]
fn log_follow_prints_new_lines() {
    let root = temp_root();
    let go = root.path().join("go");
    let unit = format!(
        "exec: [/bin/sh, -c, \"echo first; while [ ! -e {} ]; do /bin/sleep 0.05; done; echo second; exec /bin/sleep 1000\"]\n",
        go.display()
    );
    let d = Daemon::start(&[("talker", unit.as_str())], &[]);
    assert_eq!(d.run(&["start", "talker"]).0, 0);
    wait_until(Duration::from_secs(5), "first line logged", || {
        without_gsup(&d.run(&["log", "talker"]).1) == "first\n"
    });
    let mut child = Command::new(gsup_bin())
        .arg("--socket")
        .arg(&d.socket)
        .args(["log", "-f", "talker"])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn log -f");
    let mut reader = BufReader::new(child.stdout.take().expect("stdout"));
    let mut next = || loop {
        let mut line = String::new();
        reader.read_line(&mut line).expect("read");
        if !line.starts_with("gsup: ") {
            return line;
        }
    };
    assert_eq!(next(), "first\n");
    std::fs::write(&go, "").expect("touch go");
    assert_eq!(next(), "second\n");
    child.kill().expect("kill our own log -f");
    child.wait().expect("reap log -f");
}

#[test]
fn shutdown_ends_the_daemon_with_0() {
    let d = Daemon::start(&[("web", SLEEPER)], &[]);
    assert_eq!(d.run(&["start", "web"]).0, 0);
    let mut d = d;
    let (code, _, err) = d.run(&["shutdown"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(d.wait_exit(Duration::from_secs(30)), 0);
}

#[test]
fn changing_commands_need_rights_status_does_not() {
    let d = Daemon::start(&[("web", SLEEPER)], &[]);
    // Let `nobody` reach the socket inside the test's private dir.
    std::fs::set_permissions(d.root.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let as_nobody = |args: &[&str]| {
        let out = Command::new("setpriv")
            .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
            .arg(gsup_bin())
            .arg("--socket")
            .arg(&d.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("setpriv");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for args in [
        &["start", "web"][..],
        &["emit", "x"][..],
        &["reload-config"][..],
        &["shutdown"][..],
    ] {
        let (code, out, err) = as_nobody(args);
        assert_eq!(code, 1, "{args:?}: {err}");
        assert_eq!(out, "");
        assert!(
            err.starts_with("gsup: permission denied"),
            "{args:?}: {err}"
        );
    }
    let (code, out, err) = as_nobody(&["status", "web"]);
    assert_eq!((code, out.as_str()), (3, "web stop/waiting\n"), "{err}");
    let (code, _, _) = as_nobody(&["list"]);
    assert_eq!(code, 0);
}

#[test]
fn control_group_members_may_change() {
    let d = Daemon::start(&[("web", SLEEPER)], &["--control-group", "nogroup"]);
    std::fs::set_permissions(d.root.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(gsup_bin())
        .arg("--socket")
        .arg(&d.socket)
        .args(["start", "web"])
        .stdin(Stdio::null())
        .output()
        .expect("setpriv");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn a_bad_control_message_changes_nothing() {
    let d = Daemon::start(&[("web", SLEEPER)], &[]);
    for garbage in [
        &b"\x00\xffnot json at all\n"[..],
        b"{\"cmd\":\"start\"}\n",
        b"{\"cmd\":\"explode\"}\n",
    ] {
        let mut s = std::os::unix::net::UnixStream::connect(&d.socket).expect("connect");
        s.write_all(garbage).expect("write");
        let mut line = String::new();
        BufReader::new(&s).read_line(&mut line).expect("read");
        let resp: serde_json::Value = serde_json::from_str(&line).expect("a JSON response");
        assert_eq!(resp["code"], 2, "{line}");
        assert!(
            resp["error"]
                .as_str()
                .is_some_and(|e| e.starts_with("bad request: ")),
            "{line}"
        );
    }
    // A client that connects and says nothing does not hold anything up.
    let _silent = std::os::unix::net::UnixStream::connect(&d.socket).expect("connect");
    let (code, out, _) = d.run(&["list"]);
    assert_eq!((code, out.as_str()), (0, "web stop/waiting\n"));
    assert_eq!(d.run(&["start", "web"]).0, 0);
}

#[test]
fn as_pid_1_boot_arguments_are_ignored_and_the_daemon_runs() {
    let root = temp_root();
    let config = root.path().join("services.d");
    write_units(&config, &[("web", SLEEPER)]);
    let sock = root.path().join("init.sock");
    let mut init = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(gsup_bin())
        .args(["quiet", "splash"])
        .env("GSUP_SOCKET", &sock)
        .env("GSUP_CONFIG_DIR", &config)
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
    let mut answered = false;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::time::Instant::now() < deadline {
        if client(&["list"]).status.success() {
            answered = true;
            break;
        }
        if init.try_wait().expect("try_wait").is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    if !answered {
        let _ = init.kill();
        let out = init.wait_with_output().expect("wait");
        panic!(
            "PID-1 gsup never answered: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    assert_eq!(
        String::from_utf8_lossy(&client(&["list"]).stdout),
        "web stop/waiting\n"
    );
    assert_eq!(client(&["shutdown"]).status.code(), Some(0));
    let out = init.wait_with_output().expect("wait");
    assert_eq!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("as PID 1, ignoring arguments [\"quiet\", \"splash\"]"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn daemon_with_an_unknown_control_group_is_a_usage_error() {
    let root = temp_root();
    let sock = root.path().join("d.sock");
    let (code, out, err) = run_bare(
        &[
            "daemon",
            "--control-group",
            "no-such-group-gsup",
            "--socket",
            sock.to_str().expect("utf8"),
        ],
        &[],
    );
    assert_eq!((code, out.as_str()), (2, ""));
    assert_eq!(
        err,
        "gsup: --control-group: no group named 'no-such-group-gsup'\n"
    );
    assert!(!sock.exists(), "nothing was started");
}

#[test]
fn a_second_daemon_on_the_same_socket_refuses_to_start() {
    let d = Daemon::start(&[("web", SLEEPER)], &[]);
    let mut second = Command::new(gsup_bin())
        .arg("daemon")
        .arg("--config-dir")
        .arg(&d.config)
        .arg("--log-dir")
        .arg(&d.logs)
        .arg("--socket")
        .arg(&d.socket)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn a second daemon");
    let mut status = None;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while status.is_none() && std::time::Instant::now() < deadline {
        status = second.try_wait().expect("try_wait");
        std::thread::sleep(Duration::from_millis(5));
    }
    if status.is_none() {
        second.kill().expect("kill our own second daemon");
    }
    let out = second.wait_with_output().expect("wait");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "another gsup daemon is listening on {}",
            d.socket.display()
        )),
        "{err}"
    );
    let (code, out, _) = d.run(&["list"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "web stop/waiting\n"),
        "the first one still answers"
    );
}

/// The binary has no Rust runtime set-up (`no_main`), so gsup ignores
/// SIGPIPE itself: a closed stderr costs the daemon its log lines, not its
/// life (tracing's own report of the failed write must not panic either).
#[test]
fn a_daemon_whose_stderr_is_closed_lives_on() {
    let mut d = Daemon::start_piped(&[("web", SLEEPER)]);
    drop(d.take_stderr());
    // Each start and stop logs lines to the closed pipe.
    for _ in 0..3 {
        let (code, out, err) = d.run(&["start", "web"]);
        assert_eq!(code, 0, "{out}{err}");
        let (code, out, err) = d.run(&["stop", "web"]);
        assert_eq!(code, 0, "{out}{err}");
    }
    assert!(d.running(), "the daemon died");
    assert_eq!(d.shutdown(), 0);
}
