//! Why, everywhere (SPEC 3 and 7) against the real daemon: gsup's own lines in
//! a job's log, `last_exit` naming the cause, start and emit failures saying why.

mod common;

use common::{Daemon, python, status_pid, wait_until};
use std::fs;
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

fn log_of(d: &Daemon, job: &str) -> String {
    fs::read_to_string(d.logs.join(format!("{job}.log"))).unwrap_or_default()
}

/// A check's restart: the job's log says which check and what it saw;
/// `status` names the check as the last exit's cause.
#[test]
fn a_check_restart_is_written_into_the_log_and_named_by_status() {
    let unit = "exec: [sleep, \"1000\"]\nchecks:\n  - if totalmem > 1 KB then restart\n";
    let d = Daemon::start(&[("leaky", unit)], &["--cycle", "200ms"]);
    assert_eq!(d.run(&["start", "leaky"]).0, 0);
    let rule = "if totalmem > 1 KB then restart";
    wait_until(T, "a check restart in the log", || {
        log_of(&d, "leaky").contains("gsup: restarting: check '")
    });
    let log = log_of(&d, "leaky");
    let line = log
        .lines()
        .find(|l| l.starts_with("gsup: restarting"))
        .expect("line");
    let value = line
        .strip_prefix(&format!(
            "gsup: restarting: check '{rule}' failed: totalmem "
        ))
        .unwrap_or_else(|| panic!("{log}"));
    // The measured value alone (`1.4 MB`), as `status` shows it too.
    assert!(value.ends_with(" MB") && !value.contains('>'), "{log}");
    wait_until(T, "the kill follows", || {
        let log = log_of(&d, "leaky");
        log.find(line)
            .is_some_and(|at| log[at..].contains("gsup: killed by SIGTERM\n"))
    });
    wait_until(T, "status names the check", || {
        d.status_json("leaky")["last_exit"]
            .as_str()
            .is_some_and(|s| s.starts_with(&format!("signal TERM (check '{rule}': totalmem ")))
    });
    let (_, v, _) = d.run(&["status", "-v", "leaky"]);
    assert!(
        v.contains(&format!("last exit: signal TERM (check '{rule}'")),
        "{v}"
    );
    assert_eq!(d.shutdown(), 0);
}

/// A job that ignores its kill signal is killed after `kill_timeout`; the
/// log and `status` say so.
#[test]
fn kill_timeout_is_named_in_the_log_and_in_status() {
    let unit = "exec: [sh, -c, \"trap '' TERM; echo up; while :; do sleep 0.05; done\"]\n\
                kill_timeout: 300ms\n";
    let d = Daemon::start(&[("stubborn", unit)], &[]);
    assert_eq!(d.run(&["start", "stubborn"]).0, 0);
    wait_until(T, "the job wrote", || {
        log_of(&d, "stubborn").contains("up\n")
    });
    let (code, out, err) = d.run(&["stop", "stubborn"]);
    assert_eq!((code, out.trim()), (0, "stubborn stop/waiting"), "{err}");
    let st = d.status_json("stubborn");
    assert_eq!(st["last_exit"], "signal KILL (kill_timeout 300ms)", "{st}");
    wait_until(T, "the kill line", || {
        log_of(&d, "stubborn").contains("gsup: killed by SIGKILL after kill_timeout 300ms\n")
    });
    let log = log_of(&d, "stubborn");
    let stop = log.find("gsup: stopping: SIGTERM").expect("stopping line");
    assert!(
        stop < log.find("gsup: killed by SIGKILL").expect("kill"),
        "{log}"
    );
    assert_eq!(d.shutdown(), 0);
}

/// A signal gsup did not send is named as such; one it sent (stop) is not.
#[test]
fn a_signal_from_outside_is_told_apart() {
    let d = Daemon::start(&[("svc", "exec: [sleep, \"1000\"]\n")], &[]);
    let (_, out, _) = d.run(&["start", "svc"]);
    let pid = status_pid(&out).expect("pid");
    d.kill(pid, libc::SIGTERM);
    wait_until(T, "svc ended", || {
        d.run(&["status", "svc"]).1.trim() == "svc stop/waiting"
    });
    let st = d.status_json("svc");
    assert_eq!(st["last_exit"], "signal TERM (not sent by gsup)", "{st}");
    wait_until(T, "the log says so", || {
        log_of(&d, "svc").contains("gsup: killed by SIGTERM (not sent by gsup)\n")
    });
    assert_eq!(d.run(&["start", "svc"]).0, 0);
    assert_eq!(d.run(&["stop", "svc"]).0, 0);
    let st = d.status_json("svc");
    assert_eq!(st["last_exit"], "signal TERM (stopped by gsup)", "{st}");
    assert_eq!(d.shutdown(), 0);
}

/// `gsup start` and `restart` print why a job did not start.
#[test]
fn start_failures_print_the_reason() {
    let d = Daemon::start(
        &[
            ("missing", "exec: [/nonexistent/program]\n"),
            (
                "deaf",
                "exec: [sleep, \"1000\"]\nready: {tcp: \"127.0.0.1:9\"}\nready_timeout: 500ms\n",
            ),
            (
                "quick",
                "exec: [sh, -c, \"exit 4\"]\nready: {tcp: \"127.0.0.1:9\"}\n",
            ),
        ],
        &[],
    );
    let (code, out, err) = d.run(&["start", "missing"]);
    assert_eq!(code, 1, "{out}");
    assert_eq!(out.trim(), "missing stop/failed");
    assert_eq!(
        err.trim(),
        "gsup: missing: did not start: exec: No such file or directory (os error 2)"
    );
    let (code, _, err) = d.run(&["restart", "missing"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("missing: did not start: exec: No such file"),
        "{err}"
    );
    assert!(
        log_of(&d, "missing").contains("gsup: main could not start: exec: No such file"),
        "{}",
        log_of(&d, "missing")
    );
    let (code, _, err) = d.run(&["start", "deaf"]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "gsup: deaf: did not start: not ready within 500ms"
    );
    let log = log_of(&d, "deaf");
    assert!(
        log.contains("gsup: stopping: not ready within 500ms\n"),
        "{log}"
    );
    let st = d.status_json("deaf");
    assert_eq!(
        st["last_exit"], "signal TERM (not ready within 500ms)",
        "{st}"
    );
    let (code, _, err) = d.run(&["start", "quick"]);
    assert_eq!(code, 1);
    assert_eq!(
        err.trim(),
        "gsup: quick: did not start: main process ended (exit 4)"
    );
    assert_eq!(d.shutdown(), 0);
}

/// `gsup emit` exits 1 naming each task it started that failed, and why;
/// the tasks that did their work are not named.
#[test]
fn emit_names_the_failed_tasks() {
    let bad2 = "type: task\nstart_on: deploy\nexec: [sh, -c, \"kill -9 $$$$\"]\n";
    let d = Daemon::start(
        &[
            (
                "migrate",
                "type: task\nstart_on: deploy\nexec: [sh, -c, \"exit 3\"]\n",
            ),
            ("assets", "type: task\nstart_on: deploy\nexec: [true]\n"),
            ("warm", bad2),
        ],
        &[],
    );
    let (code, _, err) = d.run(&["emit", "deploy"]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        err.trim(),
        "gsup: migrate: failed: task ended with exit 3; warm: failed: task ended with signal KILL"
    );
    assert!(!err.contains("assets"), "{err}");
    assert_eq!(d.run(&["emit", "nothing-listens"]).0, 0);
    assert_eq!(d.shutdown(), 0);
}

/// SIGUSR1: after an outside rotation (the file moved away), the job's log
/// is opened again by its name; nothing the job wrote is lost.
#[test]
fn sigusr1_reopens_job_logs() {
    let unit = "exec: [sh, -c, \"i=0; while :; do i=$$((i+1)); echo $$i; sleep 0.02; done\"]\n";
    let d = Daemon::start(&[("ticker", unit)], &[]);
    assert_eq!(d.run(&["start", "ticker"]).0, 0);
    let path = d.logs.join("ticker.log");
    wait_until(T, "ticks", || log_of(&d, "ticker").lines().count() > 5);
    let moved = d.logs.join("ticker.log.old");
    fs::rename(&path, &moved).expect("mv");
    // SAFETY: kill(2) on the daemon of this test's own namespace.
    assert_eq!(unsafe { libc::kill(d.daemon_host_pid(), libc::SIGUSR1) }, 0);
    wait_until(T, "a new file with ticks", || {
        fs::read_to_string(&path).is_ok_and(|t| t.lines().count() > 3)
    });
    assert_eq!(d.run(&["stop", "ticker"]).0, 0);
    let old = fs::read_to_string(&moved).expect("old");
    let new = fs::read_to_string(&path).expect("new");
    let nums: Vec<u64> = old
        .lines()
        .chain(new.lines())
        .filter(|l| !l.starts_with("gsup: "))
        .map(|l| l.parse().expect("number"))
        .collect();
    let gap = nums.windows(2).position(|w| w[1] != w[0] + 1);
    assert_eq!(gap, None, "{old}\n--\n{new}");
    assert_eq!(d.shutdown(), 0);
}

/// `gsup log -f` follows a job's log through the daemon's own rotation.
#[test]
fn log_follows_the_daemons_rotation() {
    let py = python();
    let script = "import sys, time\\nfor i in range(1, 1501):\\n    print('line %06d' % i, flush=True)\\n    time.sleep(0.005)\\ntime.sleep(1000)\\n";
    let unit = format!("exec: [{py}, -c, \"{script}\"]\nlog: {{max_size: 2KB, keep: 3}}\n");
    let d = Daemon::start(&[("rot", &unit)], &[]);
    let mut follower = std::process::Command::new(common::gsup_bin())
        .arg("--socket")
        .arg(&d.socket)
        .args(["log", "rot", "-f", "-n", "0"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("gsup log -f");
    let out = follower.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        use std::io::BufRead;
        let mut lines = Vec::new();
        for l in std::io::BufReader::new(out).lines() {
            let Ok(l) = l else { break };
            let last = l == "line 001500";
            lines.push(l);
            if last {
                break;
            }
        }
        lines
    });
    let pid = follower.id();
    wait_until(T, "the follower watches the log dir", || {
        fs::read_dir(format!("/proc/{pid}/fd")).is_ok_and(|d| {
            d.filter_map(Result::ok).any(|e| {
                fs::read_link(e.path()).is_ok_and(|l| l.to_string_lossy().contains("inotify"))
            })
        })
    });
    assert_eq!(d.run(&["start", "rot"]).0, 0);
    let lines = reader.join().expect("reader");
    // SAFETY: SIGTERM to our own child, not yet reaped.
    unsafe { libc::kill(follower.id() as i32, libc::SIGTERM) };
    let _ = follower.wait();
    assert!(d.logs.join("rot.log.3").exists(), "rotated");
    let got: Vec<&String> = lines.iter().filter(|l| !l.starts_with("gsup: ")).collect();
    let want: Vec<String> = (1..=1500).map(|i| format!("line {i:06}")).collect();
    let first_diff = got.iter().zip(&want).position(|(a, b)| *a != b);
    assert_eq!(first_diff, None, "{} lines", got.len());
    assert_eq!(got.len(), 1500);
    assert_eq!(d.shutdown(), 0);
}

/// `gsup reexec` hands every log pipe to the new image: the job keeps its
/// pid, writes on without a SIGPIPE, and no line is lost or doubled.
#[test]
fn reexec_hands_the_log_pipes_over() {
    let unit = "exec: [sh, -c, \"i=0; while :; do i=$$((i+1)); echo $$i; sleep 0.01; done\"]\n\
                log: {max_size: 4KB, keep: 50}\n";
    let d = Daemon::start(&[("ticker", unit)], &[]);
    let (_, out, _) = d.run(&["start", "ticker"]);
    let pid = status_pid(&out).expect("pid");
    let count = |d: &Daemon| {
        let text = log_of(d, "ticker");
        text.lines().filter(|l| !l.starts_with("gsup: ")).count()
    };
    wait_until(T, "ticks", || count(&d) > 10);
    for _ in 0..2 {
        let (code, out, err) = d.run(&["reexec"]);
        assert_eq!(code, 0, "{out}{err}");
        let seen = count(&d);
        wait_until(T, "ticks after the re-exec", || count(&d) > seen + 10);
    }
    let (_, out, _) = d.run(&["status", "ticker"]);
    assert_eq!(status_pid(&out), Some(pid), "the job was never restarted");
    assert_eq!(d.run(&["stop", "ticker"]).0, 0);
    let mut text = String::new();
    for n in (1..=50).rev() {
        text.push_str(
            &fs::read_to_string(d.logs.join(format!("ticker.log.{n}"))).unwrap_or_default(),
        );
    }
    text.push_str(&log_of(&d, "ticker"));
    let nums: Vec<u64> = text
        .lines()
        .filter(|l| !l.starts_with("gsup: "))
        .map(|l| l.parse().unwrap_or_else(|_| panic!("split line {l:?}")))
        .collect();
    assert_eq!(nums.first(), Some(&1));
    let gap = nums.windows(2).position(|w| w[1] != w[0] + 1);
    assert_eq!(gap, None, "a line lost or doubled across the re-exec");
    assert!(
        text.contains("gsup: killed by SIGTERM\n"),
        "the new image writes notes"
    );
    assert_eq!(d.shutdown(), 0);
}

/// A job whose output does not go to its log (`console: none`, `inherit`)
/// gets no log file, not even gsup's own lines.
#[test]
fn a_job_without_console_log_has_no_log_file() {
    let d = Daemon::start(
        &[
            (
                "quiet",
                "exec: [sh, -c, \"echo hidden; exec sleep 1000\"]\nconsole: none\n",
            ),
            (
                "loud",
                "exec: [sh, -c, \"echo shown; exec sleep 1000\"]\nconsole: inherit\n",
            ),
        ],
        &[],
    );
    for job in ["quiet", "loud"] {
        assert_eq!(d.run(&["start", job]).0, 0);
        assert_eq!(d.run(&["stop", job]).0, 0);
        assert!(
            !d.logs.join(format!("{job}.log")).exists(),
            "{job} has a log file"
        );
    }
    assert_eq!(d.shutdown(), 0);
}
