//! No local user can delay root's commands or swell the daemon: another
//! user's half-sent requests and unread answers cost it a bounded number of
//! connections, a bounded amount of memory and a few lines of log.
//!
//! The latencies printed here are figures, measured in a debug build under
//! whatever else runs; `bench/trust.sh` runs these tests in release.

mod common;
mod trust_util;

use common::{Daemon, write_units};
use std::time::{Duration, Instant};
use trust_util::{Abuser, chmod, system_python, vm_rss_kb, watch_rss};

const SLEEPER: &str = "exec: [/bin/sleep, \"1000\"]\n";

/// Each flood keeps both cores busy: the two tests take turns.
static ONE_FLOOD: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_flood() -> std::sync::MutexGuard<'static, ()> {
    ONE_FLOOD.lock().unwrap_or_else(|p| p.into_inner())
}

/// What the issue reproduced: 3 x 1000 half-sent requests made root's
/// `stop` take 52 s. Under 3000 of them (reopened as soon as the daemon
/// drops one), 50 rounds of root's `stop` and `start` are each answered
/// within a second; the daemon stays small and its log short.
#[test]
fn half_open_requests_of_another_user_do_not_delay_root() {
    let Some(py) = system_python() else { return };
    let _turn = one_flood();
    let d = Daemon::start(&[("web", SLEEPER)], &[]);
    chmod(d.root.path(), 0o755);
    assert_eq!(d.run(&["start", "web"]).0, 0);
    let pid = d.daemon_host_pid();
    let before = vm_rss_kb(pid);
    let (stop_rss, rss) = watch_rss(pid);
    let sock = d.socket.to_str().expect("utf8").to_string();
    let flood = Abuser::start(py, &["halfopen", &sock, "3000", "120"]);
    let (mut worst_stop, mut worst_start) = (Duration::ZERO, Duration::ZERO);
    for round in 0..50 {
        for (cmd, worst) in [("stop", &mut worst_stop), ("start", &mut worst_start)] {
            let t = Instant::now();
            let (code, out, err) = d.run(&[cmd, "web"]);
            let took = t.elapsed();
            assert_eq!(code, 0, "round {round} {cmd}: {out}{err}");
            assert!(
                took < Duration::from_secs(1),
                "round {round}: root's {cmd} took {took:?}"
            );
            *worst = (*worst).max(took);
        }
    }
    let summary = flood.finish(Duration::from_secs(10));
    stop_rss.store(true, std::sync::atomic::Ordering::Relaxed);
    let most = rss.join().expect("rss thread");
    let log = d.stderr().len();
    eprintln!(
        "half-open flood ({summary}): worst root stop {worst_stop:?}, start {worst_start:?}; \
         daemon RSS {before} kB before, {most} kB at most; daemon log {log} bytes"
    );
    let opened: u64 = summary
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0);
    assert!(opened >= 3000, "the flood did not happen: {summary}");
    assert!(most < 64 * 1024, "daemon RSS {most} kB");
    assert!(log < 1 << 20, "daemon log {log} bytes");
    assert_flood_logged_briefly(&d.stderr());
}

/// The flood is in the daemon's log, in a line or two per 10 s.
fn assert_flood_logged_briefly(log: &str) {
    let lines = log
        .lines()
        .filter(|l| l.contains("control socket: uid 65534: "))
        .count();
    assert!((1..=5).contains(&lines), "{lines} lines:\n{log}");
}

/// What the issue reproduced: 300 connections asking `list` of 10,000 jobs
/// (a 2.2 MB answer each) and never reading took the daemon from 24 MB to
/// 365 MB. Now the answers in flight per user are bounded, so is the
/// memory; a reader that does not read is dropped; root's `list` is
/// answered meanwhile.
#[test]
fn unread_answers_of_another_user_are_bounded() {
    let Some(py) = system_python() else { return };
    let _turn = one_flood();
    let names: Vec<String> = (0..10_000).map(|i| format!("job{i:05}")).collect();
    let units: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), SLEEPER)).collect();
    let root = common::temp_root();
    write_units(&root.path().join("services.d"), &units);
    let d = Daemon::start_in(root, &[], &[]);
    chmod(d.root.path(), 0o755);
    let t = Instant::now();
    let (code, out, _) = d.run(&["list"]);
    let quiet = t.elapsed();
    assert_eq!((code, out.lines().count()), (0, 10_000));
    let pid = d.daemon_host_pid();
    let before = vm_rss_kb(pid);
    let (stop_rss, rss) = watch_rss(pid);
    let sock = d.socket.to_str().expect("utf8").to_string();
    let flood = Abuser::start(py, &["list", &sock, "300", "60"]);
    let mut worst = Duration::ZERO;
    let end = Instant::now() + Duration::from_secs(6);
    while Instant::now() < end {
        let t = Instant::now();
        let (code, out, err) = d.run(&["list"]);
        assert_eq!((code, out.lines().count()), (0, 10_000), "{err}");
        worst = worst.max(t.elapsed());
    }
    let summary = flood.finish(Duration::from_secs(10));
    stop_rss.store(true, std::sync::atomic::Ordering::Relaxed);
    let most = rss.join().expect("rss thread");
    let after = vm_rss_kb(pid);
    let log = d.stderr().len();
    eprintln!(
        "list flood ({summary}): daemon RSS {before} kB before, {most} kB at most, {after} kB after; \
         root list {quiet:?} before, {worst:?} at worst during; daemon log {log} bytes"
    );
    assert!(summary.starts_with("opened "), "{summary}");
    assert!(
        most < before + 64 * 1024,
        "RSS grew from {before} kB to {most} kB"
    );
    assert!(log < 1 << 20, "daemon log {log} bytes");
    assert_flood_logged_briefly(&d.stderr());
}
