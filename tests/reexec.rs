//! `gsup reexec`: the daemon replaces its binary in place; every job keeps
//! its PID and state, nothing restarts, the socket never refuses a client.
//! Each daemon runs in its own PID namespace.

mod common;

use common::{Daemon, count_argv, snapshot, wait_until};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(30);

#[test]
fn reexec_keeps_every_job_and_its_pid() {
    let units = [
        ("plain", "exec: [sleep, '610001']\nstart_on: startup\n"),
        (
            "respawner",
            "exec: [sleep, '610002']\nstart_on: startup\nrespawn: true\n",
        ),
        ("worker", "exec: [sleep, '6100$Q']\ninstance: $Q\n"),
        ("idle", "exec: [sleep, '610003']\n"),
    ];
    let d = Daemon::start(&units, &[]);
    for q in ["11", "12"] {
        let (code, _, err) = d.run(&["start", "worker", &format!("Q={q}")]);
        assert_eq!(code, 0, "{err}");
    }
    let running = |d: &Daemon| {
        snapshot(d)
            .values()
            .filter(|v| v.0 == "start/running")
            .count()
    };
    wait_until(T, "four instances run", || running(&d) == 4);
    // One respawn before, which must be remembered after.
    let first = snapshot(&d)["respawner ()"].1.expect("pid");
    d.kill(first as i32, libc::SIGKILL);
    wait_until(T, "respawned once", || snapshot(&d)["respawner ()"].2 == 1);
    let before = snapshot(&d);
    let daemon = d.daemon_host_pid();

    let (code, out, err) = d.run(&["reexec"]);
    assert_eq!(code, 0, "reexec: {out} {err}");
    assert_eq!(d.daemon_host_pid(), daemon, "the same process");
    assert_eq!(snapshot(&d), before, "every job as it was");
    let log = d.stderr();
    assert!(log.contains("re-executing"), "{log}");
    assert!(log.contains("taken back"), "{log}");
    for arg in ["610001", "610002", "610011", "610012"] {
        assert_eq!(count_argv(&d, &["sleep", arg]), 1, "one copy of {arg}");
    }
    assert_eq!(count_argv(&d, &["sleep", "610003"]), 0, "idle stays idle");

    // The new image reaps and respawns its children.
    let pid = before["respawner ()"].1.expect("pid");
    d.kill(pid as i32, libc::SIGKILL);
    wait_until(T, "respawned by the new image", || {
        let v = &snapshot(&d)["respawner ()"];
        v.0 == "start/running" && v.1 != Some(pid) && v.2 == 2
    });
    d.assert_no_zombies();
    // And it re-executes again (the handed-over socket is handed over twice).
    let (code, _, err) = d.run(&["reexec"]);
    assert_eq!(code, 0, "second reexec: {err}");
    assert_eq!(snapshot(&d).len(), 5, "four instances and the idle job");
    assert_eq!(d.shutdown(), 0);
}

/// `reexec` with 1000 jobs: same PIDs after, a job killed right after is
/// respawned, and how long clients wait meanwhile (printed, not asserted).
#[test]
fn reexec_with_1000_jobs() {
    let units: Vec<(String, String)> = (0..1000)
        .map(|i| {
            (
                format!("j{i:04}"),
                format!("exec: [sleep, '62{i:04}']\nstart_on: startup\nrespawn: true\n"),
            )
        })
        .collect();
    let refs: Vec<(&str, &str)> = units
        .iter()
        .map(|(n, u)| (n.as_str(), u.as_str()))
        .collect();
    let d = Daemon::start(&refs, &[]);
    let all_running = |d: &Daemon| {
        let s = snapshot(d);
        s.len() == 1000 && s.values().all(|v| v.0 == "start/running")
    };
    wait_until(Duration::from_secs(120), "1000 jobs run", || {
        all_running(&d)
    });
    let before = snapshot(&d);

    // A client asking all the time: the longest answer is the window in
    // which no daemon answers.
    let stop = Arc::new(AtomicBool::new(false));
    let socket = d.socket.clone();
    let asker = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            let mut failures = 0;
            while !stop.load(Ordering::Relaxed) {
                let t = Instant::now();
                let ok = std::process::Command::new(common::gsup_bin())
                    .arg("--socket")
                    .arg(&socket)
                    .args(["status", "j0500"])
                    .stdout(std::process::Stdio::null())
                    .stderr(std::process::Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success());
                worst = worst.max(t.elapsed());
                failures += usize::from(!ok);
            }
            (worst, failures)
        })
    };
    let t = Instant::now();
    let (code, _, err) = d.run(&["reexec"]);
    let took = t.elapsed();
    assert_eq!(code, 0, "reexec: {err}");
    // Right after: one job killed, which the new image must respawn.
    let victim = before["j0007 ()"].1.expect("pid");
    d.kill(victim as i32, libc::SIGKILL);
    std::thread::sleep(Duration::from_millis(300));
    stop.store(true, Ordering::Relaxed);
    let (worst, failures) = asker.join().expect("asker");
    eprintln!(
        "reexec with 1000 jobs: `gsup reexec` returned after {} ms; \
         the slowest `gsup status` meanwhile took {} ms; {failures} failed",
        took.as_millis(),
        worst.as_millis()
    );
    assert_eq!(failures, 0, "no client was refused");
    wait_until(T, "the victim respawned", || {
        let v = &snapshot(&d)["j0007 ()"];
        v.0 == "start/running" && v.1 != Some(victim)
    });
    let after = snapshot(&d);
    let changed: Vec<&String> = before
        .iter()
        .filter(|(k, v)| k.as_str() != "j0007 ()" && after.get(*k) != Some(v))
        .map(|(k, _)| k)
        .collect();
    assert!(changed.is_empty(), "changed by the reexec: {changed:?}");
    d.assert_no_zombies();
}

/// A descriptor that is not a listening socket bound at the daemon's path
/// (closed, a standard one) is refused with a line, and the socket is bound
/// afresh.
#[test]
fn a_bad_inherited_socket_is_refused() {
    for fd in ["7", "1"] {
        let d = Daemon::start(
            &[("a", "exec: [sleep, '630001']\nstart_on: startup\n")],
            &["--inherit-socket-fd", fd],
        );
        let log = d.stderr();
        assert!(
            log.contains(&format!("--inherit-socket-fd {fd}:"))
                && log.contains("binding the socket afresh"),
            "{log}"
        );
        assert_eq!(d.run(&["status", "a"]).0, 0);
        assert_eq!(d.shutdown(), 0);
    }
}

/// A check's cycle counters are part of the state: after `reexec` a rule
/// `for N cycles` goes on counting where it was, not from 1.
#[test]
fn check_counters_survive_reexec() {
    let unit = format!(
        "exec: [{}, -c, 'import time; b = bytearray(30 << 20); time.sleep(100000)']\n\
         start_on: startup\n\
         checks:\n  - if totalmem > 5 MB for 1000 cycles then alert\n",
        common::python()
    );
    let d = Daemon::start(&[("hog", &unit)], &["--cycle", "200ms"]);
    // "totalmem 30 MB > 5 MB, K of 1000 cycles": K as the status shows it.
    let count = |d: &Daemon| -> Option<u64> {
        let v = d.status_json("hog");
        let line = v["failing_checks"]
            .as_array()?
            .first()?
            .as_str()?
            .to_string();
        let (_, rest) = line.rsplit_once(", ")?;
        rest.split(' ').next()?.parse().ok()
    };
    wait_until(T, "five failing cycles", || {
        count(&d).is_some_and(|k| k >= 5)
    });
    let before = count(&d).expect("count");
    let (code, _, err) = d.run(&["reexec"]);
    assert_eq!(code, 0, "{err}");
    // The first status after a cycle of the new image.
    wait_until(T, "a cycle after the reexec", || count(&d).is_some());
    let after = count(&d).expect("count");
    assert!(
        after > before,
        "the count went on ({before} before, {after} after), not from 1"
    );
}
