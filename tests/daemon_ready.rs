//! End to end, SPEC section 1 (`ready`, `kill_timeout`, `reload_signal`) and
//! restart latency: the real daemon in a PID namespace with real processes.

mod common;

use common::{Daemon, status_pid, wait_until};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const T: Duration = Duration::from_secs(10);

fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    l.local_addr().expect("addr").port()
}

#[test]
fn ready_tcp_start_returns_once_the_port_accepts() {
    let port = free_port();
    let unit = format!(
        "exec: [perl, -MIO::Socket::INET, -e, 'select(undef,undef,undef,0.4); $$s = IO::Socket::INET->new(LocalAddr => \"127.0.0.1:{port}\", Listen => 5, ReuseAddr => 1) or die $!; sleep 1000']\nready: {{tcp: \"127.0.0.1:{port}\"}}\n"
    );
    let d = Daemon::start(&[("web", &unit)], &[]);
    let t0 = Instant::now();
    let (code, out, err) = d.run(&["start", "web"]);
    let took = t0.elapsed();
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.starts_with("web start/running, process "), "{out}");
    assert!(
        took >= Duration::from_millis(350),
        "start returned before the port was open: {took:?}"
    );
    std::net::TcpStream::connect(("127.0.0.1", port)).expect("port accepts right after start");
    assert_eq!(d.shutdown(), 0);
}

#[test]
fn ready_notify_start_returns_after_ready_1() {
    let unit = "exec: [perl, -MIO::Socket::UNIX, -e, 'select(undef,undef,undef,0.4); $$s = IO::Socket::UNIX->new(Type => SOCK_DGRAM(), Peer => $$ENV{NOTIFY_SOCKET}) or die $!; $$s->send(\"STATUS=up\\nREADY=1\\n\"); sleep 1000']\nready: notify\n";
    let d = Daemon::start(&[("n", unit)], &[]);
    let t0 = Instant::now();
    let (code, out, err) = d.run(&["start", "n"]);
    let took = t0.elapsed();
    assert_eq!(code, 0, "{out}{err}\n{}", d.stderr());
    assert!(
        took >= Duration::from_millis(350),
        "start returned before READY=1: {took:?}"
    );
    assert_eq!(d.status_json("n")["state"], "running");
    assert_eq!(d.shutdown(), 0);
}

#[test]
fn ready_exec_timeout_fails_the_job_and_kills_it() {
    let unit = "exec: [sleep, \"1000\"]\nready: {exec: [\"false\"]}\nready_timeout: 500ms\n";
    let d = Daemon::start(&[("slow", unit)], &[]);
    let t0 = Instant::now();
    let (code, _, _) = d.run(&["start", "slow"]);
    assert_eq!(code, 1);
    assert!(t0.elapsed() >= Duration::from_millis(450));
    let st = d.status_json("slow");
    assert_eq!(
        (st["goal"].as_str(), st["state"].as_str()),
        (Some("stop"), Some("failed"))
    );
    assert_eq!(st["reason"], "not ready within 500ms");
    d.assert_no_zombies();
    wait_until(T, "no process left", || d.job_processes().is_empty());
}

#[test]
fn kill_timeout_escalates_to_sigkill_and_stop_is_ok() {
    // Ready only once the trap is set, so `stop` cannot beat it.
    let out = tempfile::tempdir().expect("tempdir");
    let armed = out.path().join("armed");
    let unit = format!(
        "exec: [sh, -c, \"trap '' TERM; touch {a}; while :; do sleep 0.1; done\"]\nkill_timeout: 500ms\nready: {{exec: [test, -e, {a}]}}\n",
        a = armed.display()
    );
    let d = Daemon::start(&[("stubborn", &unit)], &[]);
    assert_eq!(d.run(&["start", "stubborn"]).0, 0);
    let t0 = Instant::now();
    let (code, out, _) = d.run(&["stop", "stubborn"]);
    let took = t0.elapsed();
    assert_eq!((code, out.trim()), (0, "stubborn stop/waiting"));
    assert!(
        took >= Duration::from_millis(450),
        "SIGKILL came before kill_timeout: {took:?}"
    );
    assert_eq!(
        d.status_json("stubborn")["last_exit"],
        "signal KILL (kill_timeout 500ms)"
    );
    d.assert_no_zombies();
    assert!(d.job_processes().is_empty(), "{:?}", d.job_processes());
}

#[test]
fn reload_sends_reload_signal_to_the_main_process() {
    let out = tempfile::tempdir().expect("tempdir");
    let f = out.path().join("reloaded");
    let armed = out.path().join("armed");
    let unit = format!(
        "exec: [sh, -c, \"trap 'echo hup >> {}' HUP; touch {a}; while :; do sleep 0.05; done\"]\nready: {{exec: [test, -e, {a}]}}\n",
        f.display(),
        a = armed.display()
    );
    let d = Daemon::start(&[("r", &unit)], &[]);
    assert_eq!(d.run(&["reload", "r"]).0, 1, "not running");
    assert_eq!(d.run(&["start", "r"]).0, 0);
    let pid = status_pid(&d.run(&["status", "r"]).1);
    assert_eq!(d.run(&["reload", "r"]).0, 0);
    wait_until(T, "the job saw SIGHUP", || {
        fs::read_to_string(&f).is_ok_and(|s| s == "hup\n")
    });
    assert_eq!(
        status_pid(&d.run(&["status", "r"]).1),
        pid,
        "reload does not restart"
    );
    assert_eq!(d.shutdown(), 0);
}

/// Wall-clock time (ns since the epoch) of a daemon log line's timestamp.
fn log_time_ns(line: &str) -> Option<u128> {
    // `2026-11-27T03:04:04.778713Z  INFO ...`
    let ts = line.split_whitespace().next()?;
    let (date, time) = ts.trim_end_matches('Z').split_once('T')?;
    let d: Vec<i64> = date.split('-').filter_map(|x| x.parse().ok()).collect();
    let (hms, frac) = time.split_once('.')?;
    let t: Vec<i64> = hms.split(':').filter_map(|x| x.parse().ok()).collect();
    if d.len() != 3 || t.len() != 3 {
        return None;
    }
    // Days from the civil date (Howard Hinnant's algorithm).
    let (y, m) = if d[1] <= 2 {
        (d[0] - 1, d[1] + 9)
    } else {
        (d[0], d[1] - 3)
    };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d[2] - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = days * 86_400 + t[0] * 3600 + t[1] * 60 + t[2];
    let frac_ns: u128 = format!("{frac:0<9}")[..9].parse().ok()?;
    Some(secs as u128 * 1_000_000_000 + frac_ns)
}

/// SIGKILL of the main process to the new process spawned (exec done), as the
/// daemon logs it; the tenth quick restart is as fast as the first.
#[test]
fn restart_latency_after_sigkill() {
    let d = Daemon::start(
        &[(
            "fast",
            "exec: [sleep, \"1000\"]\nrespawn: true\nrespawn_limit: {count: 100, interval: 1s}\n",
        )],
        &[],
    );
    assert_eq!(d.run(&["start", "fast"]).0, 0);
    let mut pid = status_pid(&d.run(&["status", "fast"]).1).expect("pid");
    let mut lat = Vec::new();
    for _ in 0..10 {
        let host = d.host_pid(pid).expect("host pid");
        let sent = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("clock")
            .as_nanos();
        // SAFETY: kill(2) on a pid just verified to be in the test's own namespace.
        assert_eq!(unsafe { libc::kill(host, libc::SIGKILL) }, 0);
        let old = pid;
        wait_until(T, "respawned", || {
            pid = status_pid(&d.run(&["status", "fast"]).1).unwrap_or(old);
            pid != old
        });
        let log = d.stderr();
        let line = log
            .lines()
            .find(|l| l.contains(&format!("main process {pid} spawned")))
            .expect("spawn logged");
        let at = log_time_ns(line).expect("timestamp");
        lat.push(Duration::from_nanos(at.saturating_sub(sent) as u64));
    }
    eprintln!("SIGKILL -> new main spawned: {lat:?}");
    assert_eq!(d.status_json("fast")["restarts"], 10);
    // A shared, loaded CI machine can stall any one restart; the median says
    // whether the respawn path is fast (debug build: a few ms on an idle machine).
    let mut sorted = lat.clone();
    sorted.sort();
    assert!(
        sorted[sorted.len() / 2] < Duration::from_millis(100),
        "restart too slow: {lat:?}"
    );
    assert_eq!(d.shutdown(), 0);
}

/// The notify socket is the job user's alone (mode 0600, owned by that user):
/// a job running as `nobody` sends READY=1 through it; another unprivileged
/// user cannot send to it, so cannot mark the job ready.
#[test]
fn ready_notify_socket_belongs_to_the_job_user_alone() {
    let unit = "exec: [python3, -c, 'import os, socket, time; s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM); time.sleep(0.3); s.sendto(b\"READY=1\", os.environ[\"NOTIFY_SOCKET\"]); time.sleep(1000)']\nuser: nobody\nready: notify\n";
    let d = Daemon::start(&[("n", unit)], &[]);
    // The test's temp dir is 0700; the job's user must reach the socket in it.
    fs::set_permissions(d.root.path(), fs::Permissions::from_mode(0o755)).expect("chmod");
    let (code, out, err) = d.run(&["start", "n"]);
    assert_eq!(code, 0, "{out}{err}\n{}", d.stderr());
    assert_eq!(d.status_json("n")["state"], "running");

    let sock = gsup::control::page::runtime_dir(&d.socket)
        .join("notify")
        .join("n.sock");
    let meta = fs::metadata(&sock).expect("notify socket");
    let nobody = Command::new("id")
        .args(["-u", "nobody"])
        .output()
        .expect("id");
    let nobody: u32 = String::from_utf8_lossy(&nobody.stdout)
        .trim()
        .parse()
        .expect("uid");
    assert_eq!((meta.mode() & 0o777, meta.uid()), (0o600, nobody));

    let send = "import socket, sys; socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'READY=1', sys.argv[1])";
    let other = Command::new("setpriv")
        .args([
            "--reuid=1",
            "--regid=1",
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
            send,
        ])
        .arg(&sock)
        .output()
        .expect("setpriv");
    assert!(
        !other.status.success(),
        "uid 1 could send to the job's notify socket"
    );
    let why = String::from_utf8_lossy(&other.stderr);
    assert!(why.contains("PermissionError"), "{why}");
    assert_eq!(d.shutdown(), 0);
}

/// `ready: pidfile` for a program that writes its pidfile at once: the file
/// is watched before the spawn, so a write right after the exec is seen (it
/// was missed when the watch came after, and the start waited out
/// `ready_timeout`).
#[test]
fn ready_pidfile_sees_a_pidfile_written_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pf = dir.path().join("fast.pid");
    let unit = format!(
        "exec: [/bin/sh, -c, 'echo $$$$ > {}; exec sleep 1000']\npidfile: {}\nready: pidfile\nready_timeout: 4s\n",
        pf.display(),
        pf.display()
    );
    let d = Daemon::start(&[("fast", &unit)], &[]);
    for round in 0..10 {
        let t = std::time::Instant::now();
        let (code, out, err) = d.run(&["start", "fast"]);
        assert_eq!(code, 0, "round {round}: {out}{err}");
        assert!(out.contains("start/running"), "{out}");
        assert!(
            t.elapsed() < Duration::from_secs(3),
            "round {round} waited {:?}",
            t.elapsed()
        );
        let (code, _, err) = d.run(&["stop", "fast"]);
        assert_eq!(code, 0, "{err}");
        let _ = std::fs::remove_file(&pf);
    }
    assert_eq!(d.shutdown(), 0);
}
