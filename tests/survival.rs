//! SPEC 6, survival: a daemon killed with SIGKILL and started again on the
//! same config takes its jobs back (same PIDs, no second copy, counters
//! kept) and handles a job that died meanwhile as an exit. In a PID namespace
//! whose init outlives the daemon.

mod common;

use common::{Daemon, count_argv, fixture, python, snapshot, wait_until};
use std::time::Duration;

const T: Duration = Duration::from_secs(15);

#[test]
fn a_killed_daemon_started_again_takes_every_job_back() {
    let dir = tempfile::tempdir().expect("tmp");
    let pf = dir.path().join("nginx.pid");
    let daemonizer = format!(
        "exec: [{}, {}, {}, nginx]\npidfile: {}\nready: pidfile\nstart_on: startup\n",
        python(),
        fixture("daemonize.py"),
        pf.display(),
        pf.display()
    );
    let mut units: Vec<(String, String)> = Vec::new();
    for i in 0..14 {
        units.push((
            format!("plain{i:02}"),
            format!("exec: [sleep, '30{i:04}']\nstart_on: startup\n"),
        ));
    }
    units.push((
        "respawner".into(),
        "exec: [sleep, '400001']\nstart_on: startup\nrespawn: true\n".into(),
    ));
    units.push((
        "victim".into(),
        "exec: [sleep, '400002']\nstart_on: startup\nrespawn: true\n".into(),
    ));
    units.push((
        "worker".into(),
        "exec: [sleep, '5000$Q']\ninstance: $Q\n".into(),
    ));
    units.push(("watched".into(), "exec: [sleep, '400003']\nstart_on: startup\nchecks:\n  - if totalmem > 10 GB then restart\n".into()));
    units.push(("nginx".into(), daemonizer));
    let refs: Vec<(&str, &str)> = units
        .iter()
        .map(|(n, u)| (n.as_str(), u.as_str()))
        .collect();
    let mut d = Daemon::start_persistent(&refs, &[]);
    for q in ["1", "2"] {
        let (code, _, err) = d.run(&["start", "worker", &format!("Q={q}")]);
        assert_eq!(code, 0, "{err}");
    }
    // One restart before the crash, which the new daemon must remember.
    wait_until(T, "everything runs", || {
        snapshot(&d)
            .values()
            .filter(|v| v.0 == "start/running")
            .count()
            == 20
    });
    let respawner = snapshot(&d)["respawner ()"].1.expect("pid");
    d.kill(respawner as i32, libc::SIGKILL);
    wait_until(T, "respawned once", || snapshot(&d)["respawner ()"].2 == 1);
    let before = snapshot(&d);
    assert_eq!(before.len(), 20, "{before:?}");

    let daemon = d.daemon_host_pid();
    // SAFETY: kill(2) on the daemon of this test's own namespace.
    assert_eq!(unsafe { libc::kill(daemon, libc::SIGKILL) }, 0);
    // Gone means reaped: with a second thread (the log thread) the leader
    // shows `Z` while the other thread still exits holding the descriptors,
    // the listening socket among them.
    wait_until(T, "the daemon is gone", || {
        !std::path::Path::new(&format!("/proc/{daemon}")).exists()
    });
    // One job dies while no daemon runs.
    let victim = before["victim ()"].1.expect("victim pid") as i32;
    d.kill(victim, libc::SIGKILL);
    d.start_again();

    let after = snapshot(&d);
    for (name, (state, pid, restarts)) in &before {
        if name == "victim ()" {
            continue;
        }
        assert_eq!(
            after.get(name),
            Some(&(state.clone(), *pid, *restarts)),
            "{name} was taken back as it was"
        );
    }
    wait_until(T, "the victim respawned by the new daemon", || {
        let v = &snapshot(&d)["victim ()"];
        v.0 == "start/running" && v.1 != Some(victim as i64) && v.2 == 1
    });
    // No second copy of anything.
    for i in 0..14 {
        assert_eq!(
            count_argv(&d, &["sleep", &format!("30{i:04}")]),
            1,
            "plain{i:02}"
        );
    }
    for arg in ["400001", "400002", "400003", "50001", "50002"] {
        assert_eq!(count_argv(&d, &["sleep", arg]), 1, "sleep {arg}");
    }
    let masters = count_argv(
        &d,
        &[
            &python(),
            &fixture("daemonize.py"),
            &pf.to_string_lossy(),
            "nginx",
        ],
    );
    assert_eq!(masters, 3, "one nginx master and its two workers");
    assert_eq!(d.shutdown(), 0);
}

/// A state the new daemon cannot read (corrupt here; a future format
/// alike): the jobs are taken back from what their cgroups hold, with
/// their old pids, and no second copy is started; startup then starts
/// only what does not run.
#[test]
fn an_unreadable_state_falls_back_to_the_job_groups() {
    let units = [
        ("one", "exec: [sleep, '810001']\nstart_on: startup\n"),
        (
            "two",
            "exec: [sleep, '810002']\nstart_on: startup\nrespawn: true\n",
        ),
    ];
    let mut d = Daemon::start_persistent(&units, &[]);
    wait_until(T, "both run", || {
        snapshot(&d)
            .values()
            .filter(|v| v.0 == "start/running")
            .count()
            == 2
    });
    let before = snapshot(&d);
    let daemon = d.daemon_host_pid();
    // SAFETY: kill(2) on the daemon of this test's own namespace.
    assert_eq!(unsafe { libc::kill(daemon, libc::SIGKILL) }, 0);
    wait_until(T, "the daemon is gone (reaped)", || {
        !std::path::Path::new(&format!("/proc/{daemon}")).exists()
    });
    std::fs::write(d.root.path().join("gsup.d").join("state"), b"{corrupt").expect("corrupt");
    d.start_again();
    let log = d.stderr();
    if !log.contains("containment: cgroup") {
        // Without cgroups there is nothing to fall back on (docs/pid1.md).
        eprintln!("no cgroups here: the fallback is not tested");
        return;
    }
    assert!(
        log.contains("taking those jobs back from their groups"),
        "{log}"
    );
    for (name, argv) in [("one ()", "810001"), ("two ()", "810002")] {
        let now = snapshot(&d);
        assert_eq!(now[name].0, "start/running", "{name}");
        assert_eq!(now[name].1, before[name].1, "{name} keeps its pid");
        assert_eq!(count_argv(&d, &["sleep", argv]), 1, "one copy of {name}");
    }
    // And the new daemon supervises them: a kill is a respawn.
    let pid = before["two ()"].1.expect("pid");
    d.kill(pid as i32, libc::SIGKILL);
    wait_until(T, "respawned", || {
        let v = &snapshot(&d)["two ()"];
        v.0 == "start/running" && v.1 != Some(pid)
    });
    assert_eq!(count_argv(&d, &["sleep", "810002"]), 1);
}
