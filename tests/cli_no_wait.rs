//! `--no-wait` and spawn failures through the real binary: the exit codes and
//! where the reason shows (status -v and the job's own log).

mod common;

use common::{Daemon, status_pid, wait_until};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

#[test]
fn stop_and_start_no_wait_exit_0_once_accepted() {
    let d = Daemon::start(&[("s", "exec: [sleep, \"1000\"]\n")], &[]);
    let (code, out, err) = d.run(&["start", "s", "--no-wait"]);
    assert_eq!(code, 0, "start --no-wait: {out} {err}");
    wait_until(T, "s running", || d.run(&["status", "s"]).0 == 0);
    let (code, out, err) = d.run(&["stop", "s", "--no-wait"]);
    assert_eq!(code, 0, "stop --no-wait: {out} {err}");
    assert!(err.is_empty(), "no error expected: {err}");
    assert!(out.starts_with("s stop/"), "status line: {out}");
    wait_until(T, "s stopped", || {
        d.run(&["status", "s"]).1 == "s stop/waiting\n"
    });
    assert!(d.job_processes().is_empty());
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}

#[test]
fn missing_program_fails_with_the_reason_in_status_and_log() {
    let d = Daemon::start(&[("m", "exec: /nonexistent/prog --flag\n")], &[]);
    let (code, out, err) = d.run(&["start", "m"]);
    assert_eq!(code, 1, "start of a missing program: {out} {err}");
    assert_eq!(out, "m stop/failed\n");
    let (code, out, _) = d.run(&["status", "-v", "m"]);
    assert_eq!(code, 3);
    assert!(
        out.contains("failed: exec: No such file or directory"),
        "status -v: {out}"
    );
    let log = std::fs::read_to_string(d.logs.join("m.log")).expect("job log exists");
    assert!(
        log.contains("gsup: main could not start: exec: No such file or directory"),
        "job log: {log}"
    );
    let (code, _, _) = d.run(&["start", "m", "--no-wait"]);
    assert_eq!(
        code, 1,
        "a start that failed at once fails even with --no-wait"
    );
    assert_eq!(status_pid(&out), None);
    assert_eq!(d.shutdown(), 0);
}
