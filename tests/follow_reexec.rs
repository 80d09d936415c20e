//! SPEC 4 through the real daemon: a Unicorn-like master followed across three
//! USR2 re-execs, a daemonizing program followed by pidfile and fully stopped.

mod common;

use common::{Daemon, fixture, python, status_pid, wait_until};
use std::path::Path;
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

/// A unit running fixture `script` (args: the pidfile, `arg`) that follows
/// its pidfile and is ready once it names a member; `extra` adds keys.
fn pidfile_unit(script: &str, pidfile: &Path, arg: &str, extra: &str) -> String {
    format!(
        "exec: [{}, {}, {p}, {arg}]\npidfile: {p}\nready: pidfile\n{extra}",
        python(),
        fixture(script),
        p = pidfile.display(),
    )
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

fn status(d: &Daemon, job: &str) -> (String, Option<i32>) {
    let (_, out, _) = d.run(&["status", job]);
    let first = out.lines().next().unwrap_or("").to_string();
    let pid = status_pid(&first);
    (first, pid)
}

fn restarts(d: &Daemon, job: &str) -> i64 {
    let (_, out, _) = d.run(&["status", "--json", job]);
    let v: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    let st = if v.is_array() { v[0].clone() } else { v };
    st["restarts"].as_i64().expect("restarts")
}

/// Unicorn-like: three `gsup reload` (USR2) in a row; the pid follows the
/// pidfile each time, no restart, never out of start/running, no zombie.
#[test]
fn unicorn_three_reloads_followed() {
    let dir = tempfile::tempdir().expect("tmp");
    let pf = dir.path().join("unicorn.pid");
    let extra = "reload_signal: USR2\nkill_signal: QUIT\nrespawn: true\n";
    let unit = pidfile_unit("unicorn_like.py", &pf, "\"2\"", extra);
    let d = Daemon::start(&[("unicorn", &unit)], &[]);
    let (code, _, err) = d.run(&["start", "unicorn"]);
    assert_eq!(code, 0, "start: {err}");
    let (line, first) = status(&d, "unicorn");
    assert!(line.contains("start/running"), "{line}");
    let mut seen = vec![first.expect("pid")];
    for round in 0..3 {
        let before = *seen.last().expect("pid");
        let (code, _, err) = d.run(&["reload", "unicorn"]);
        assert_eq!(code, 0, "reload {round}: {err}");
        let mut samples = 0;
        wait_until(T, "status follows the new master", || {
            let (line, pid) = status(&d, "unicorn");
            samples += 1;
            assert!(line.contains("start/running"), "round {round}: {line}");
            let file = read_pid(&pf);
            pid.is_some() && pid != Some(before) && pid == file
        });
        let (_, now) = status(&d, "unicorn");
        let now = now.expect("pid");
        assert!(!seen.contains(&now), "pid {now} seen before: {seen:?}");
        // The old master leaves (QUIT from the new one): gone, not a zombie.
        wait_until(T, "old master gone", || d.host_pid(before).is_none());
        eprintln!("round {round}: {before} -> {now} ({samples} status samples)");
        seen.push(now);
    }
    assert_eq!(restarts(&d, "unicorn"), 0);
    let err = d.stderr();
    for w in seen.windows(2) {
        let want = format!("main process {} replaced by {} (pidfile)", w[0], w[1]);
        assert!(err.contains(&want), "no line {want:?} in:\n{err}");
    }
    assert!(!err.contains("stopping"), "{err}");
    d.assert_no_zombies();
    let (code, _, err) = d.run(&["stop", "unicorn"]);
    assert_eq!(code, 0, "stop: {err}");
    wait_until(T, "nothing left", || d.job_processes().is_empty());
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}

/// A daemonizing program (double fork, setsid, launcher exits 0) is followed
/// by its pidfile; `stop` leaves nothing behind.
#[test]
fn daemonize_followed_and_stopped() {
    for mode in ["double", "nginx"] {
        let dir = tempfile::tempdir().expect("tmp");
        let pf = dir.path().join("d.pid");
        let extra = "kill_signal: QUIT\nkill_timeout: 2s\n";
        let unit = pidfile_unit("daemonize.py", &pf, mode, extra);
        let d = Daemon::start(&[("dz", &unit)], &[]);
        let (code, _, err) = d.run(&["start", "dz"]);
        assert_eq!(code, 0, "{mode} start: {err}");
        wait_until(T, "status names the master", || {
            let (line, pid) = status(&d, "dz");
            line.contains("start/running") && pid.is_some() && pid == read_pid(&pf)
        });
        // The launcher's exit 0 is not the job's end.
        let (line, _) = status(&d, "dz");
        assert!(line.contains("start/running"), "{mode}: {line}");
        assert_eq!(restarts(&d, "dz"), 0);
        wait_until(T, "master + 2 workers", || d.job_processes().len() >= 3);
        let (code, _, err) = d.run(&["stop", "dz"]);
        assert_eq!(code, 0, "{mode} stop: {err}");
        wait_until(T, "nothing left after stop", || {
            d.job_processes().is_empty()
        });
        d.assert_no_zombies();
        let (line, _) = status(&d, "dz");
        assert!(line.contains("stop/waiting"), "{mode}: {line}");
        assert_eq!(d.shutdown(), 0);
    }
}

/// `stop` ends the whole job: the current master, a lingering old master
/// (never told to QUIT), every worker, though they left the job's group.
#[test]
fn stop_ends_new_and_lingering_old_master() {
    let dir = tempfile::tempdir().expect("tmp");
    let pf = dir.path().join("d.pid");
    let extra = "reload_signal: USR2\nkill_signal: QUIT\nkill_timeout: 2s\n";
    let unit = pidfile_unit("daemonize.py", &pf, "nginx", extra);
    let d = Daemon::start(&[("dz", &unit)], &[]);
    let (code, _, err) = d.run(&["start", "dz"]);
    assert_eq!(code, 0, "start: {err}");
    let (_, old) = status(&d, "dz");
    let old = old.expect("pid");
    let (code, _, err) = d.run(&["reload", "dz"]);
    assert_eq!(code, 0, "reload: {err}");
    let oldbin = dir.path().join("d.pid.oldbin");
    wait_until(T, "new master followed", || {
        let (line, pid) = status(&d, "dz");
        assert!(line.contains("start/running"), "{line}\n{}", d.stderr());
        oldbin.exists() && pid.is_some() && pid != Some(old) && pid == read_pid(&pf)
    });
    assert!(d.host_pid(old).is_some(), "old master lingers");
    wait_until(T, "2 masters + 4 workers", || d.job_processes().len() >= 6);
    let (code, _, err) = d.run(&["stop", "dz"]);
    assert_eq!(code, 0, "stop: {err}");
    wait_until(T, "nothing left after stop", || {
        d.job_processes().is_empty()
    });
    d.assert_no_zombies();
    assert_eq!(restarts(&d, "dz"), 0);
    assert_eq!(d.shutdown(), 0);
}

/// A followed main that is not gsup's child (a new master whose parent, the
/// old master, still lives) dies: gsup learns it through the pidfd, waits
/// `pidfile_grace`, and the job ends (respawn off) with nothing left.
#[test]
fn new_master_dying_under_its_parent_is_noticed() {
    let dir = tempfile::tempdir().expect("tmp");
    let pf = dir.path().join("d.pid");
    let extra = "pidfile_grace: 1s\nreload_signal: USR2\nkill_signal: QUIT\nkill_timeout: 2s\n";
    let unit = pidfile_unit("daemonize.py", &pf, "nginx", extra);
    let d = Daemon::start(&[("dz", &unit)], &[]);
    let (code, _, err) = d.run(&["start", "dz"]);
    assert_eq!(code, 0, "start: {err}");
    let old = status(&d, "dz").1.expect("pid");
    let (code, _, err) = d.run(&["reload", "dz"]);
    assert_eq!(code, 0, "reload: {err}");
    let mut new = 0;
    wait_until(T, "new master followed", || {
        new = status(&d, "dz").1.unwrap_or(0);
        new != old && Some(new) == read_pid(&pf)
    });
    d.kill(new, libc::SIGKILL);
    wait_until(T, "the job ends after the grace", || {
        status(&d, "dz").0.contains("stop/waiting")
    });
    let log = d.stderr();
    assert!(
        log.contains("no live main process within pidfile_grace"),
        "{log}"
    );
    wait_until(T, "nothing left", || d.job_processes().is_empty());
    d.assert_no_zombies();
    let t0 = std::time::Instant::now();
    assert_eq!(d.shutdown(), 0);
    let took = t0.elapsed();
    assert!(took < Duration::from_secs(3), "shutdown took {took:?}");
}

/// Inotify watches of the daemon on the directories in `dirs` (from the
/// `inotify wd:... ino:HEX` lines of its descriptors' fdinfo).
fn watched(d: &Daemon, dirs: &[std::path::PathBuf]) -> usize {
    use std::os::unix::fs::MetadataExt;
    let inodes: Vec<String> = dirs
        .iter()
        .map(|p| format!("ino:{:x} ", std::fs::metadata(p).expect("dir").ino()))
        .collect();
    let fdinfo = format!("/proc/{}/fdinfo", d.daemon_host_pid());
    let mut n = 0;
    for e in std::fs::read_dir(&fdinfo).expect("fdinfo").flatten() {
        let text = std::fs::read_to_string(e.path()).unwrap_or_default();
        n += text
            .lines()
            .filter(|l| {
                l.starts_with("inotify wd:") && inodes.iter().any(|i| l.contains(i.as_str()))
            })
            .count();
    }
    n
}

/// Transient instances leave no pidfile watch behind: each of 20 instances
/// has its pidfile in a directory of its own; once they are stopped, the
/// daemon watches none of those directories.
#[test]
fn stopped_instances_leave_no_pidfile_watch() {
    let dir = tempfile::tempdir().expect("tmp");
    let dirs: Vec<_> = (0..20).map(|i| dir.path().join(format!("q{i}"))).collect();
    for d in &dirs {
        std::fs::create_dir(d).expect("mkdir");
    }
    let unit = format!(
        "exec: [/bin/sleep, \"1000\"]\ninstance: $QUEUE\npidfile: {}/$QUEUE/pid\n",
        dir.path().display()
    );
    let d = Daemon::start(&[("worker", &unit)], &[]);
    for i in 0..20 {
        let (code, _, err) = d.run(&["start", "worker", &format!("QUEUE=q{i}")]);
        assert_eq!(code, 0, "{err}");
    }
    assert_eq!(watched(&d, &dirs), 20);
    let (code, _, err) = d.run(&["stop", "worker"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(watched(&d, &dirs), 0);
    assert_eq!(d.job_processes(), Vec::<i32>::new(), "stop left processes");
    d.assert_no_zombies();
}
