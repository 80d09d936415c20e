//! SPEC 6, containment: every process a job starts is the job's until it
//! exits, whatever it does (setsid, double fork); stop and a crash end them
//! all, with cgroups and with the subreaper alone. In a PID namespace.

mod common;

use common::{Daemon, wait_until};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// The job of the issue: a grandchild that leaves the session, and the main.
const ESCAPER: &str = "exec: [/bin/sh, -c, 'setsid sleep 100001 & exec sleep 100000']\n";

/// Host pids of the namespace's processes whose command line is `sleep ARG`.
fn sleeps(d: &Daemon, arg: &str) -> Vec<i32> {
    d.job_processes()
        .into_iter()
        .filter(|p| {
            std::fs::read(format!("/proc/{p}/cmdline"))
                .is_ok_and(|c| c == format!("sleep\0{arg}\0").as_bytes())
        })
        .collect()
}

fn cgroups_usable() -> bool {
    // SAFETY: geteuid cannot fail.
    let root = unsafe { libc::geteuid() } == 0;
    let v2 = std::fs::read_to_string("/proc/self/mountinfo").is_ok_and(|m| m.contains(" cgroup2 "));
    if !(root && v2) && std::env::var_os("CI").is_some() {
        panic!("CI=true: cgroup v2 and root are needed for the cgroup containment tests");
    }
    root && v2
}

fn modes() -> Vec<&'static str> {
    if cgroups_usable() {
        vec!["cgroup", "subreaper"]
    } else {
        eprintln!("cgroup mode skipped: needs root and a cgroup2 mount");
        vec!["subreaper"]
    }
}

#[test]
fn setsid_escapers_are_gone_after_each_of_50_stops() {
    for mode in modes() {
        let d = Daemon::start(&[("esc", ESCAPER)], &["--containment", mode]);
        let st = d.status_json("esc");
        assert_eq!(st["containment"], mode, "{st}");
        for round in 0..50 {
            let (code, out, err) = d.run(&["start", "esc"]);
            assert_eq!(code, 0, "{mode} round {round}: {out}{err}");
            wait_until(T, "the escaper runs", || sleeps(&d, "100001").len() == 1);
            let (code, out, err) = d.run(&["stop", "esc"]);
            assert_eq!(code, 0, "{mode} round {round}: {out}{err}");
            wait_until(T, "nothing of the job left", || {
                d.job_processes().is_empty()
            });
        }
        d.assert_no_zombies();
        assert_eq!(d.shutdown(), 0);
    }
}

#[test]
fn a_crash_loop_leaves_no_escaper_behind() {
    let unit = "exec: [/bin/sh, -c, 'setsid sleep 100001 & sleep 0.02; exit 1']\nrespawn: true\nrespawn_limit: {count: 1000, interval: 1s}\n";
    for mode in modes() {
        let d = Daemon::start(&[("crash", unit)], &["--containment", mode]);
        let (code, _, err) = d.run(&["start", "crash", "--no-wait"]);
        assert_eq!(code, 0, "{err}");
        let mut most = 0;
        wait_until(Duration::from_secs(30), "50 respawns", || {
            most = most.max(sleeps(&d, "100001").len());
            d.status_json("crash")["restarts"].as_u64().unwrap_or(0) >= 50
        });
        assert!(most <= 2, "{mode}: {most} escapers alive at once");
        let (code, _, err) = d.run(&["stop", "crash"]);
        assert_eq!(code, 0, "{err}");
        wait_until(T, "nothing of the job left", || {
            d.job_processes().is_empty()
        });
        d.assert_no_zombies();
        assert_eq!(d.shutdown(), 0);
    }
}

/// fork, setsid, fork: the grandchild is re-parented to gsup while the
/// job's main lives on, and no exit of a process gsup knows says where it
/// came from. Its cgroup holds it; the subreaper alone cannot attribute it
/// (docs/pid1.md, "the limits of the fallback"): it is ended at the
/// daemon's shutdown instead.
#[test]
fn a_double_forking_daemonizer_is_stopped_whole_with_cgroups() {
    let unit =
        "exec: [/bin/sh, -c, '(setsid sh -c \"sleep 100002 & exit 0\" &) ; exec sleep 100000']\n";
    for mode in modes().into_iter().filter(|m| *m == "cgroup") {
        let d = Daemon::start(&[("dd", unit)], &["--containment", mode]);
        let (code, _, err) = d.run(&["start", "dd"]);
        assert_eq!(code, 0, "{err}");
        wait_until(T, "the daemonized grandchild runs", || {
            sleeps(&d, "100002").len() == 1
        });
        let (code, _, err) = d.run(&["stop", "dd"]);
        assert_eq!(code, 0, "{err}");
        wait_until(T, "nothing of the job left", || {
            d.job_processes().is_empty()
        });
        assert_eq!(d.shutdown(), 0);
    }
}

#[test]
fn a_thousand_short_lived_orphans_leave_no_zombie() {
    let unit = "exec: [/bin/sh, -c, 'i=0; while [ $$i -lt 1000 ]; do (sh -c \"exit 0\" &); i=$$((i+1)); done; exec sleep 100000']\n";
    let d = Daemon::start(&[("orphans", unit)], &[]);
    let (code, _, err) = d.run(&["start", "orphans"]);
    assert_eq!(code, 0, "{err}");
    wait_until(Duration::from_secs(30), "the loop is done", || {
        !sleeps(&d, "100000").is_empty()
    });
    wait_until(Duration::from_secs(1), "no zombie 1 s later", || {
        d.zombies().is_empty()
    });
    assert_eq!(d.shutdown(), 0);
}
