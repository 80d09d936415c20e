//! The watchdog wired into the real daemon (SPEC 5), in its own PID namespace: check
//! restarts, stops, alerts, exec, a child's kill; pids, states, zombies asserted.

mod common;

use common::{Daemon, alive, children_of, fixture, status_pid, wait_until};
use std::collections::BTreeSet;
use std::fs;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn restarts(d: &Daemon, job: &str) -> u64 {
    d.status_json(job)["restarts"].as_u64().unwrap_or(0)
}

fn main_pid(d: &Daemon, job: &str) -> Option<i32> {
    status_pid(&d.run(&["status", job]).1)
}

/// A leaky poller with `totalmem > 100 MB for 2 cycles then restart` is restarted
/// again and again, a new pid each time, `restarts` counting.
#[test]
fn watch_leaky_poller_restarted_again_and_again() {
    let unit = format!(
        "start_on: startup\nexec: [python3, {}, '10', '0.1', '400']\nkill_timeout: 2s\n\
         checks:\n  - if totalmem > 100 MB for 2 cycles then restart\n",
        fixture("leaky_poller.py")
    );
    let d = Daemon::start(&[("poller", &unit)], &["--cycle", "200ms"]);
    let mut pids = Vec::new();
    wait_until(Duration::from_secs(30), "3 check restarts", || {
        if let Some(p) = main_pid(&d, "poller")
            && pids.last() != Some(&p)
        {
            pids.push(p);
        }
        restarts(&d, "poller") >= 3
    });
    wait_until(T, "running again", || d.run(&["status", "poller"]).0 == 0);
    let p = main_pid(&d, "poller").expect("pid");
    if pids.last() != Some(&p) {
        pids.push(p);
    }
    let distinct: BTreeSet<i32> = pids.iter().copied().collect();
    assert!(distinct.len() >= 4, "pids {pids:?}");
    assert_eq!(distinct.len(), pids.len(), "a pid came back: {pids:?}");
    let log = d.stderr();
    assert!(log.matches("action: restart").count() >= 3, "log:\n{log}");
    // Every restart was the check's: the poller never exits by itself.
    assert!(!log.contains("respawn limit"), "log:\n{log}");
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}

/// A Resque-like master whose forked child leaks: `totalmem` fires, `mem` does not.
#[test]
fn watch_resque_caught_by_totalmem_not_mem() {
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path().display();
    let unit = format!(
        "start_on: startup\nexec: [python3, {}, '10', '0.1']\n\
         checks:\n  - if mem > 60 MB then exec touch {dir}/mem\n  \
         - if totalmem > 60 MB then exec touch {dir}/totalmem\n",
        fixture("resque_like.py")
    );
    let d = Daemon::start(&[("resque", &unit)], &["--cycle", "200ms"]);
    wait_until(T, "totalmem marker", || {
        out.path().join("totalmem").exists()
    });
    // A few more cycles with the child still leaking: mem never fires.
    let json = d.status_json("resque");
    assert!(
        json["memory_bytes"].as_u64().unwrap_or(0) > 60 << 20,
        "{json}"
    );
    std::thread::sleep(Duration::from_millis(600));
    assert!(!out.path().join("mem").exists(), "mem fired");
    assert_eq!(restarts(&d, "resque"), 0);
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}

/// Host pids of the live direct children of `host`.
fn live_children(host: i32) -> BTreeSet<i32> {
    children_of(host)
        .into_iter()
        .filter(|&p| alive(p))
        .collect()
}

/// `child_checks: kill` takes the leaking worker (and its helper) only: the master
/// and the other workers keep their pids.
#[test]
fn watch_child_kill_takes_the_leaker_only() {
    let unit = format!(
        "start_on: startup\nexec: [python3, {}, '3', '1', '10', '1', '0']\nkill_timeout: 2s\n\
         child_checks:\n  - if mem > 80 MB then kill\n",
        fixture("leaky_workers.py")
    );
    let d = Daemon::start(&[("workers", &unit)], &["--cycle", "200ms"]);
    wait_until(T, "running", || d.run(&["status", "workers"]).0 == 0);
    let master_ns = main_pid(&d, "workers").expect("pid");
    let master = d.host_pid(master_ns).expect("host pid");
    wait_until(T, "three workers", || live_children(master).len() == 3);
    let before = live_children(master);
    wait_until(T, "a worker replaced", || {
        let now = live_children(master);
        now.len() == 3 && now != before
    });
    let after = live_children(master);
    let kept: Vec<&i32> = before.intersection(&after).collect();
    assert_eq!(kept.len(), 2, "before {before:?} after {after:?}");
    assert_eq!(main_pid(&d, "workers"), Some(master_ns));
    assert_eq!(restarts(&d, "workers"), 0);
    // master + 3 workers + 3 helpers: the killed worker's helper is gone too.
    wait_until(T, "7 processes", || d.job_processes().len() == 7);
    assert!(d.stderr().contains("action: kill"));
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}

/// `if 3 restarts within 30 cycles then stop` ends a job restarted by its own
/// memory check as `stop/failed` (status exit 3).
#[test]
fn watch_restarts_rule_stops_the_job_failed() {
    let unit = format!(
        "start_on: startup\nexec: [python3, {}, '20', '0.1', '400']\nkill_timeout: 2s\n\
         checks:\n  - if totalmem > 100 MB for 2 cycles then restart\n  \
         - if 3 restarts within 30 cycles then stop\n",
        fixture("leaky_poller.py")
    );
    let d = Daemon::start(&[("poller", &unit)], &["--cycle", "200ms"]);
    wait_until(Duration::from_secs(30), "stop/failed", || {
        d.run(&["status", "poller"]).1.contains("stop/failed")
    });
    let (code, out, _) = d.run(&["status", "poller"]);
    assert_eq!(code, 3, "{out}");
    let json = d.status_json("poller");
    assert_eq!(json["restarts"].as_u64(), Some(3), "{json}");
    assert!(
        json["reason"]
            .as_str()
            .unwrap_or("")
            .contains("3 restarts within 30 cycles"),
        "{json}"
    );
    wait_until(T, "no job process", || d.job_processes().is_empty());
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}

/// Issue 14 item 7: a check that restarts the job at every cycle and the
/// restarts rule in one unit: the job ends `stop/failed` after 3 restarts (the
/// stop fired in the same cycle as a restart used to be ignored, and the job
/// was restarted for ever).
#[test]
fn watch_restarts_rule_stops_a_job_restarted_every_cycle() {
    let unit = format!(
        "exec: [{}, -c, 'import time; b = bytearray(80 << 20); time.sleep(1000)']\n\
         checks:\n  - if totalmem > 50 MB then restart\n  \
         - if 3 restarts within 10 cycles then stop\n",
        common::python()
    );
    let d = Daemon::start(&[("hog", &unit)], &["--cycle", "200ms"]);
    assert_eq!(d.run(&["start", "hog"]).0, 0);
    wait_until(Duration::from_secs(30), "stop/failed", || {
        let (_, out, _) = d.run(&["status", "hog"]);
        out.contains("stop/failed") || restarts(&d, "hog") > 6
    });
    let json = d.status_json("hog");
    assert_eq!(json["state"], "failed", "{json}");
    assert_eq!(json["goal"], "stop", "{json}");
    assert_eq!(json["restarts"].as_u64(), Some(3), "{json}");
    assert!(
        json["reason"]
            .as_str()
            .unwrap_or("")
            .contains("3 restarts within 10 cycles"),
        "{json}"
    );
    let log = d.stderr();
    assert!(!log.contains("ignored in"), "log:\n{log}");
    wait_until(T, "no job process", || d.job_processes().is_empty());
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}

/// A hundred `kill`s of workers (and their orphaned helpers reaped by gsup): no
/// zombie, and no process left once the job stops.
#[test]
fn watch_hundred_kills_leave_no_zombie() {
    let unit = format!(
        "start_on: startup\nexec: [python3, {}, '3', '9', '1', '1', '0']\nkill_timeout: 1s\n\
         cycle: 50ms\nchild_checks:\n  - if mem > 1 MB then kill\n",
        fixture("leaky_workers.py")
    );
    let d = Daemon::start(&[("churn", &unit)], &["--cycle", "200ms"]);
    wait_until(Duration::from_secs(30), "100 kills", || {
        d.stderr().matches("action: kill").count() >= 100
    });
    assert_eq!(restarts(&d, "churn"), 0);
    let (code, _, err) = d.run(&["stop", "churn"]);
    assert_eq!(code, 0, "{err}");
    wait_until(T, "no job process", || d.job_processes().is_empty());
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}

/// `alert` runs `--alert-command` without a shell, with the event in its environment.
#[test]
fn watch_alert_command_gets_the_env() {
    let out = tempfile::tempdir().expect("tempdir");
    let env_file = out.path().join("env");
    let script = out.path().join("alert.sh");
    fs::write(
        &script,
        format!(
            "#!/bin/sh\nenv > {}.tmp\nmv {0}.tmp {0}\n",
            env_file.display()
        ),
    )
    .expect("write script");
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(&script, fs::Permissions::from_mode(0o755)).expect("chmod");
    let unit = format!(
        "start_on: startup\nexec: [python3, {}, '10', '0.1', '150']\n\
         checks:\n  - if mem > 50 MB then alert\n",
        fixture("leaky_poller.py")
    );
    let script_s = script.display().to_string();
    let d = Daemon::start(
        &[("alerty", &unit)],
        &["--cycle", "200ms", "--alert-command", &script_s],
    );
    wait_until(T, "alert env written", || env_file.exists());
    let env = fs::read_to_string(&env_file).expect("env");
    let get = |k: &str| {
        env.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .unwrap_or("")
            .to_string()
    };
    assert_eq!(get("GSUP_JOB"), "alerty");
    assert_eq!(get("GSUP_INSTANCE"), "");
    assert_eq!(get("GSUP_CHECK"), "if mem > 50 MB then alert");
    assert!(get("GSUP_VALUE").starts_with("mem "), "{env}");
    assert!(get("GSUP_VALUE").ends_with(" > 50 MB"), "{env}");
    assert_eq!(get("GSUP_ACTION"), "alert");
    assert_eq!(get("GSUP_EVENT"), "failed");
    assert_eq!(get("GSUP_TARGET"), "job");
    let pid = main_pid(&d, "alerty").expect("pid");
    assert_eq!(get("GSUP_PID"), pid.to_string());
    assert!(env.lines().all(|l| !l.starts_with("HOME=")), "{env}");
    // Fired once per episode: the alert is not a restart.
    assert_eq!(restarts(&d, "alerty"), 0);
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}

/// `status -v` of a watched job shows the tree's memory and its failing checks.
#[test]
fn watch_status_shows_failing_checks() {
    let unit = format!(
        "start_on: startup\nexec: [python3, {}, '10', '0.1', '60']\n\
         checks:\n  - if totalmem > 20 MB for 1000 cycles then alert\n",
        fixture("leaky_poller.py")
    );
    let d = Daemon::start(&[("slow", &unit)], &["--cycle", "200ms"]);
    wait_until(T, "failing N of 1000", || {
        let json = d.status_json("slow");
        json["failing_checks"][0]
            .as_str()
            .is_some_and(|s| s.contains(" of 1000 cycles"))
            && json["cpu_percent"].as_f64().is_some()
    });
    let json = d.status_json("slow");
    let f = json["failing_checks"][0].as_str().expect("failing");
    assert!(
        f.starts_with("totalmem ") && f.contains(" MB > 20 MB, "),
        "{f}"
    );
    assert!(
        json["memory_bytes"].as_u64().unwrap_or(0) > 20 << 20,
        "{json}"
    );
    assert!(json["cpu_percent"].as_f64().is_some(), "{json}");
    let (_, out, _) = d.run(&["status", "-v", "slow"]);
    assert!(out.contains("failing: totalmem "), "{out}");
    assert_eq!(d.shutdown(), 0);
}

/// A check restart also kills a process of the job that left its group (`setsid`):
/// nothing of the old tree is left beside the new one.
#[test]
fn watch_restart_kills_a_process_that_left_the_group() {
    let unit = format!(
        "start_on: startup\nexec: [sh, -c, 'setsid sleep 1000 & exec python3 {} 10 0.1 400']\n\
         kill_timeout: 1s\nchecks:\n  - if totalmem > 100 MB for 2 cycles then restart\n",
        fixture("leaky_poller.py")
    );
    let d = Daemon::start(&[("escapee", &unit)], &["--cycle", "200ms"]);
    wait_until(T, "running", || d.run(&["status", "escapee"]).0 == 0);
    let main = d
        .host_pid(main_pid(&d, "escapee").expect("pid"))
        .expect("host pid");
    let mut sleeper = 0;
    wait_until(T, "the setsid sleeper", || {
        sleeper = children_of(main)
            .into_iter()
            .find(|p| {
                fs::read_to_string(format!("/proc/{p}/comm")).is_ok_and(|c| c.trim() == "sleep")
            })
            .unwrap_or(0);
        sleeper != 0
    });
    wait_until(Duration::from_secs(30), "a check restart", || {
        restarts(&d, "escapee") >= 1
    });
    wait_until(T, "the old sleeper gone", || !alive(sleeper));
    assert!(
        d.stderr().contains("left the job's group"),
        "{}",
        d.stderr()
    );
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}
