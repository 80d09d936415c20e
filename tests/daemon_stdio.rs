//! A daemon started with its standard descriptors closed: 0-2 are /dev/null
//! before it opens anything, its log goes to stderr, and no job gets one of its fds.

mod common;

use common::{Daemon, status_pid, wait_until};
use std::fs;
use std::time::Duration;

const INHERIT: &str = "exec: [sleep, '100000']\nconsole: inherit\n";

/// Where fd `n` of host process `pid` points.
fn fd_target(pid: i32, n: i32) -> String {
    fs::read_link(format!("/proc/{pid}/fd/{n}"))
        .map(|p| p.display().to_string())
        .unwrap_or_else(|e| format!("<{e}>"))
}

/// Starts `inherit`, returns the host pid of its main process.
fn start_inherit(d: &Daemon) -> i32 {
    let (code, out, err) = d.run(&["start", "inherit"]);
    assert_eq!(code, 0, "{out}{err}");
    let ns_pid = status_pid(&out).expect("a pid in the status line");
    d.host_pid(ns_pid).expect("the job's host pid")
}

#[test]
fn closed_stdio_becomes_dev_null_and_jobs_never_get_a_daemon_fd() {
    let d = Daemon::start_redirected(&[("inherit", INHERIT)], "0<&- 1>&- 2>&-");
    let daemon = d.daemon_host_pid();
    for n in 0..=2 {
        assert_eq!(fd_target(daemon, n), "/dev/null", "daemon fd {n}");
    }
    let job = start_inherit(&d);
    for n in 0..=2 {
        assert_eq!(fd_target(job, n), "/dev/null", "job fd {n}");
    }
    // Nothing of the daemon's beyond 0-2 reached the job.
    let extra: Vec<String> = fs::read_dir(format!("/proc/{job}/fd"))
        .expect("job fds")
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| !matches!(n.as_str(), "0" | "1" | "2"))
        .collect();
    assert!(extra.is_empty(), "job holds daemon fds {extra:?}");
    d.shutdown();
}

#[test]
fn with_only_stderr_open_the_log_goes_to_stderr() {
    let d = Daemon::start_redirected(&[("inherit", INHERIT)], "0<&- 1>&-");
    let daemon = d.daemon_host_pid();
    for n in 0..=1 {
        assert_eq!(fd_target(daemon, n), "/dev/null", "daemon fd {n}");
    }
    let job = start_inherit(&d);
    assert_eq!(fd_target(job, 1), "/dev/null", "the job's stdout");
    wait_until(Duration::from_secs(5), "log lines on stderr", || {
        d.stderr().contains("main process") && d.stderr().contains("ready")
    });
    d.shutdown();
}
