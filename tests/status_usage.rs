//! Memory and CPU of a job's whole process tree in `status -v` and `--json`, for jobs
//! without checks, with the real daemon in its own PID namespace: the cgroup's
//! counters, and the /proc walk when the daemon runs without cgroups.

mod common;

use common::{Daemon, wait_until};
use std::time::Duration;

const T: Duration = Duration::from_secs(20);
const MB: u64 = 1 << 20;

/// `sh` with two children holding about 50 MB each; `sh` itself holds little.
fn family() -> String {
    let hold = "import time; b = bytearray(52 << 20); time.sleep(1000)";
    let py = common::python();
    format!("exec: [/bin/sh, -c, '\"$0\" -c \"$1\" & \"$0\" -c \"$1\" & wait', '{py}', '{hold}']\n")
}

const BUSY: &str = "exec: [/bin/sh, -c, 'while :; do :; done']\n";

fn check(extra: &[&str], containment: Option<&str>) {
    let d = Daemon::start(&[("family", &family()), ("busy", BUSY)], extra);
    for job in ["family", "busy"] {
        let (code, _, err) = d.run(&["start", job]);
        assert_eq!(code, 0, "{job}: {err}");
    }
    if let Some(c) = containment {
        assert_eq!(d.status_json("family")["containment"], c);
    }
    // The tree's memory, not the main process's alone.
    wait_until(T, "family memory >= 100 MB", || {
        d.status_json("family")["memory_bytes"]
            .as_u64()
            .is_some_and(|m| m >= 100 * MB)
    });
    let (code, out, _) = d.run(&["status", "-v", "family"]);
    assert_eq!(code, 0);
    assert!(out.contains("\n    memory 1"), "{out}");
    assert!(out.contains(" MB, cpu "), "{out}");
    // CPU: a number from the second sample on, for every running job.
    wait_until(T, "busy cpu_percent > 5", || {
        d.status_json("busy")["cpu_percent"]
            .as_f64()
            .is_some_and(|c| c > 5.0)
    });
    wait_until(T, "family cpu_percent a number", || {
        d.status_json("family")["cpu_percent"].is_number()
    });
    let json = d.status_json("busy");
    assert!(
        json["cpu_seconds"].as_f64().is_some_and(|s| s > 0.0),
        "{json}"
    );
    let (_, out, _) = d.run(&["list", "-v"]);
    assert!(!out.contains("cpu -"), "{out}");
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}

#[test]
fn tree_usage_from_the_cgroup_or_the_walk() {
    // `auto`: the cgroup's counters where the host gives the daemon a
    // cgroup, else the subreaper and the /proc walk.
    check(&[], None);
}

#[test]
fn tree_usage_from_a_proc_walk() {
    check(&["--containment", "subreaper"], Some("subreaper"));
}
