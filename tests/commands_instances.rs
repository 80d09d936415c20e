//! Instances on the command line, with the real binary against the real daemon in
//! its own PID namespace: `status`, `log`, `restart`, `stop` of one instance by
//! `KEY=VALUE`, and `stop JOB` of them all. Tests never sleep to synchronise.

mod common;

use common::{Daemon, status_pid, wait_until};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

const WORKER: &str = "instance: $QUEUE\n\
                      exec: [/bin/sh, -c, 'echo \"queue $QUEUE\"; exec /bin/sleep 1000']\n";

/// Starts `worker` with `QUEUE=q`; returns its pid (in the namespace).
fn start(d: &Daemon, q: &str) -> i32 {
    let (code, out, err) = d.run(&["start", "worker", &format!("QUEUE={q}")]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.lines().count(), 1, "{out}");
    status_pid(&out).expect("pid")
}

/// `status worker QUEUE=q`: (exit code, stdout).
fn status(d: &Daemon, q: &str) -> (i32, String) {
    let (code, out, _) = d.run(&["status", "worker", &format!("QUEUE={q}")]);
    (code, out)
}

#[test]
fn status_and_log_of_one_instance() {
    let d = Daemon::start(
        &[("worker", WORKER), ("web", "exec: [/bin/sleep, '1000']\n")],
        &[],
    );
    let a = start(&d, "a");
    let b = start(&d, "b");
    assert_eq!(
        status(&d, "a"),
        (0, format!("worker (a) start/running, process {a}\n"))
    );
    assert_eq!(
        status(&d, "b"),
        (0, format!("worker (b) start/running, process {b}\n"))
    );
    // An instance that does not run is not running (3), shown as Upstart would.
    assert_eq!(status(&d, "zz"), (3, "worker (zz) stop/waiting\n".into()));
    // Pairs belong to the job before them; other jobs keep all their lines.
    let (code, out, _) = d.run(&["status", "web", "worker", "QUEUE=b"]);
    assert_eq!(
        (code, out.as_str()),
        (
            3,
            format!("web stop/waiting\nworker (b) start/running, process {b}\n").as_str()
        )
    );
    let (code, out, _) = d.run(&["status", "-v", "worker", "QUEUE=b"]);
    assert_eq!(code, 0);
    assert_eq!(out.lines().count(), 2, "{out}");
    assert!(out.starts_with("worker (b) start/running"), "{out}");
    let (code, out, _) = d.run(&["status", "--json", "worker", "QUEUE=a"]);
    assert_eq!(code, 0);
    let json: serde_json::Value = serde_json::from_str(out.trim()).expect("one object");
    assert_eq!(
        (json["instance"].as_str(), json["pid"].as_i64()),
        (Some("a"), Some(i64::from(a)))
    );
    // A pair before any job is a usage error.
    let (code, _, err) = d.run(&["status", "QUEUE=a", "worker"]);
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("before any JOB"), "{err}");

    // Each instance has its own log file, LOG_DIR/JOB-INSTANCE.log.
    wait_until(T, "both logs written", || {
        d.logs.join("worker-a.log").exists() && d.logs.join("worker-b.log").exists()
    });
    wait_until(T, "log of a", || {
        let (code, out, _) = d.run(&["log", "worker", "QUEUE=a"]);
        // gsup's own `gsup: started, pid N` comes first.
        code == 0 && out.lines().any(|l| l == "queue a") && !out.contains("queue b")
    });
    let (code, out, _) = d.run(&["log", "worker", "QUEUE=b", "-n", "1"]);
    assert_eq!((code, out.as_str()), (0, "queue b\n"));
    // Without a pair and with two instances, log cannot guess.
    let (code, _, err) = d.run(&["log", "worker"]);
    assert_eq!(code, 1);
    assert!(err.contains("name one instance"), "{err}");
    d.assert_no_zombies();
}

#[test]
fn restart_and_stop_reach_one_instance_or_all() {
    let d = Daemon::start(&[("worker", WORKER)], &[]);
    let a = start(&d, "a");
    let b = start(&d, "b");
    let (host_a, host_b) = (d.host_pid(a).expect("a"), d.host_pid(b).expect("b"));

    // restart with a pair: a new process for a, b untouched.
    let (code, out, err) = d.run(&["restart", "worker", "QUEUE=a"]);
    assert_eq!(code, 0, "{err}");
    let a2 = status_pid(&out).expect("pid");
    assert_eq!(out, format!("worker (a) start/running, process {a2}\n"));
    assert_ne!(a2, a);
    assert!(!common::alive(host_a), "the old a is gone");
    assert_eq!(
        status(&d, "b").1,
        format!("worker (b) start/running, process {b}\n")
    );

    // stop with a pair: only that instance.
    let (code, out, err) = d.run(&["stop", "worker", "QUEUE=b"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "worker (b) stop/waiting\n"),
        "{err}"
    );
    assert!(!common::alive(host_b), "b is gone");
    assert_eq!(status(&d, "a").0, 0);
    let b2 = start(&d, "b");

    // stop without a pair: every instance, and it says so.
    let (code, out, err) = d.run(&["stop", "worker"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out,
        "worker: stopping all 2 instances (KEY=VALUE picks one)\n\
         worker (a) stop/waiting\nworker (b) stop/waiting\n"
    );
    for p in [a2, b2] {
        assert!(d.host_pid(p).is_none(), "{p} still runs");
    }
    let (code, out, _) = d.run(&["list"]);
    assert_eq!((code, out.as_str()), (0, "worker stop/waiting\n"));
    wait_until(T, "no job process", || d.job_processes().is_empty());
    // Nothing left to stop: said too, exit 0.
    let (code, out, _) = d.run(&["stop", "worker"]);
    assert_eq!((code, out.as_str()), (0, "worker: no instance to stop\n"));
    d.assert_no_zombies();
}
