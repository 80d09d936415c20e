//! One job's process settings never reach the daemon or another job: every
//! child is spawned as posix_spawn does (the daemon waits until the exec).

mod common;

use common::{Daemon, status_pid};
use std::fs;

/// `/proc/PID/oom_score_adj` of a host pid.
fn oom(pid: i32) -> i32 {
    fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))
        .expect("oom_score_adj")
        .trim()
        .parse()
        .expect("a number")
}

#[test]
fn oom_score_adj_of_one_job_leaves_the_daemon_and_other_jobs_alone() {
    let plain = "exec: [sleep, '100000']\nstart_on: startup\n";
    let d = Daemon::start(
        &[
            ("a-plain", plain),
            (
                "b-adjusted",
                "exec: [sleep, '100000']\nstart_on: startup\noom_score_adj: 700\n",
            ),
            ("c-plain", plain),
            ("d-later", "exec: [sleep, '100000']\n"),
        ],
        &[],
    );
    let daemon = d.daemon_host_pid();
    let before = oom(std::process::id() as i32);
    let host = |job: &str| {
        let (code, out, err) = d.run(&["status", job]);
        assert_eq!(code, 0, "{out}{err}");
        d.host_pid(status_pid(&out).expect("pid"))
            .expect("host pid")
    };
    // Started after the adjusted one, by hand.
    let (code, out, err) = d.run(&["start", "d-later"]);
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(oom(host("b-adjusted")), 700);
    assert_eq!(oom(daemon), before, "the daemon's own value changed");
    for job in ["a-plain", "c-plain", "d-later"] {
        assert_eq!(oom(host(job)), before, "{job} got another job's value");
    }
    assert_eq!(d.shutdown(), 0);
}
