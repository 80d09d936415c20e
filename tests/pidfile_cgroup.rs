//! A pidfile naming a process the job started but gsup never saw leave it: a
//! launcher whose daemon was orphaned by a middle process (reaped by the launcher,
//! not by gsup) and moved to a session of its own. With cgroups, the job's group
//! shows it is the job's (rule (e) of belonging); the real daemon, in its own PID
//! namespace.

mod common;

use common::{Daemon, wait_until};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

#[test]
fn a_daemon_orphaned_out_of_sight_is_taken_as_the_main_by_its_cgroup() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("app.pid");
    // The subshell forks the daemon and exits at once: its exit is the
    // launcher's to reap, so gsup sees an orphan appear with no exit of the
    // job beside it. The daemon leaves the job's session, writes its pid
    // and becomes `sleep`; the launcher exits half a second later.
    let unit = format!(
        "exec: [/bin/sh, -c, '(setsid /bin/sh -c \"echo \\$\\$ > {p}; exec sleep 1000\" &); sleep 0.5']\npidfile: {p}\npidfile_grace: 3s\n",
        p = pidfile.display()
    );
    let d = Daemon::start(&[("app", &unit)], &[]);
    if d.status_json("app")["containment"] != "cgroup" {
        let msg = "needs cgroups (root and a writable cgroup2): run as root";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        eprintln!("skipped: {msg}");
        return;
    }
    let (code, out, err) = d.run(&["start", "app"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_until(T, "the pidfile is written", || {
        std::fs::read_to_string(&pidfile).is_ok_and(|s| s.trim().parse::<i32>().is_ok())
    });
    let named: i64 = std::fs::read_to_string(&pidfile)
        .expect("pidfile")
        .trim()
        .parse()
        .expect("pid");
    // The launcher exits; the daemon it named must become the main.
    wait_until(T, "the named daemon is the main", || {
        let st = d.status_json("app");
        st["state"] == "running" && st["restarts"] == 0 && st["pid"].as_i64() == Some(named)
    });
    let log = d.stderr();
    assert!(!log.contains("refused"), "{log}");
    // The launcher was reaped; stop ends the daemon it named.
    d.assert_no_zombies();
    let (code, _, err) = d.run(&["stop", "app"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        common::count_argv(&d, &["sleep", "1000"]),
        0,
        "the daemon outlived stop"
    );
    assert_eq!(d.shutdown(), 0);
}
