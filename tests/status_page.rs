//! The status page (`control::page`): `gsup status JOB` answered from the
//! daemon's page prints what the socket would, at every moment, and a page
//! without its daemon is never believed.

mod common;

use common::{Daemon, gsup_bin, wait_until};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const SLEEPER: &str = "exec: [/bin/sleep, \"1000\"]\n";

/// Runs `gsup --socket S ARGS` and kills it if it takes longer than
/// `limit`: a status that needs the (stopped) daemon must fail the test,
/// not hang it. Returns (code, stdout, stderr).
fn run_within(d: &Daemon, args: &[&str], limit: Duration) -> (i32, String, String) {
    run_as_within(&[], d, args, limit)
}

/// `run_within` under a prefix command (`setpriv ...`).
fn run_as_within(
    prefix: &[&str],
    d: &Daemon,
    args: &[&str],
    limit: Duration,
) -> (i32, String, String) {
    let mut cmd = match prefix.split_first() {
        Some((first, rest)) => {
            let mut c = Command::new(first);
            c.args(rest).arg(gsup_bin());
            c
        }
        None => Command::new(gsup_bin()),
    };
    let mut child = cmd
        .arg("--socket")
        .arg(&d.socket)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn gsup");
    let deadline = Instant::now() + limit;
    while child.try_wait().expect("try_wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("gsup {args:?} did not answer within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(2));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The lines `gsup list` (always the socket) shows for `job`, and the exit
/// code `status` owes for them.
fn from_list(d: &Daemon, job: &str) -> (i32, String) {
    let (code, out, err) = d.run(&["list"]);
    assert_eq!(code, 0, "list: {err}");
    let mine: String = out
        .lines()
        .filter(|l| l.strip_prefix(job).is_some_and(|r| r.starts_with(' ')))
        .map(|l| format!("{l}\n"))
        .collect();
    let running = mine.lines().all(|l| l.contains(" start/running"));
    (if running { 0 } else { 3 }, mine)
}

fn assert_agree(d: &Daemon, job: &str) {
    let (code, out, err) = d.run(&["status", job]);
    let (want_code, want) = from_list(d, job);
    assert_eq!(
        (code, out.as_str()),
        (want_code, want.as_str()),
        "status {job}: {err}"
    );
}

fn page_path(d: &Daemon) -> std::path::PathBuf {
    gsup::control::page::path_for(&d.socket)
}

fn sig_daemon(d: &Daemon, sig: i32) {
    let pid = d.daemon_host_pid();
    // SAFETY: kill(2) on the daemon of our own test namespace.
    assert_eq!(unsafe { libc::kill(pid, sig) }, 0);
}

#[test]
fn status_is_answered_while_the_daemon_cannot_answer() {
    let d = Daemon::start(
        &[
            ("web", &format!("{SLEEPER}start_on: startup\n")),
            ("db", SLEEPER),
        ],
        &[],
    );
    wait_until(Duration::from_secs(10), "web running", || {
        d.run(&["status", "web"]).0 == 0
    });
    assert!(page_path(&d).is_file());
    let (_, before, _) = d.run(&["status", "web"]);
    // A stopped daemon reads nothing from its socket: only the page answers.
    sig_daemon(&d, libc::SIGSTOP);
    let limit = Duration::from_secs(5);
    let (code, out, err) = run_within(&d, &["status", "web"], limit);
    assert_eq!((code, out.as_str(), err.as_str()), (0, before.as_str(), ""));
    let (code, out, _) = run_within(&d, &["status", "db"], limit);
    assert_eq!((code, out.as_str()), (3, "db stop/waiting\n"));
    let (code, out, _) = run_within(&d, &["status", "db", "web"], limit);
    assert_eq!((code, out), (3, format!("db stop/waiting\n{before}")));
    sig_daemon(&d, libc::SIGCONT);
    // A job the page does not hold goes to the daemon, with its error.
    let (code, out, err) = d.run(&["status", "web", "nope"]);
    assert_eq!(code, 4);
    assert_eq!(out, before);
    assert_eq!(err, "gsup: nope: no such job\n");
}

#[test]
fn page_and_socket_agree_through_a_lifecycle() {
    let long =
        "a-job-whose-name-is-long-enough-that-its-status-line-cannot-fit-in-a-slot-of-the-page";
    let d = Daemon::start(
        &[
            ("web", SLEEPER),
            (
                "crash",
                "exec: [/bin/false]\nrespawn: true\nrespawn_limit: {count: 2, interval: 10s}\n",
            ),
            ("worker", &format!("{SLEEPER}instance: $QUEUE\n")),
            (long, SLEEPER),
        ],
        &[],
    );
    for job in ["web", "crash", "worker", long] {
        assert_agree(&d, job);
    }
    // `start` answers after the page shows the job running, with its pid.
    let (code, started, _) = d.run(&["start", "web"]);
    assert_eq!(code, 0);
    assert_eq!(d.run(&["status", "web"]).1, started);
    assert_agree(&d, "web");
    let (code, _, _) = d.run(&["start", "worker", "QUEUE=high"]);
    assert_eq!(code, 0);
    assert_agree(&d, "worker");
    let (code, _, _) = d.run(&["start", "worker", "QUEUE=low"]);
    assert_eq!(code, 0);
    assert_agree(&d, "worker");
    assert_eq!(d.run(&["status", "worker"]).1.lines().count(), 2);
    let (code, _, _) = d.run(&["start", long]);
    assert_eq!(code, 0);
    assert_agree(&d, long);
    let _ = d.run(&["start", "crash"]);
    wait_until(Duration::from_secs(10), "crash failed", || {
        d.run(&["list"]).1.contains("crash stop/failed")
    });
    assert_agree(&d, "crash");
    // A pid changes without a stop: the page follows.
    let pid = common::status_pid(&started).expect("pid");
    d.kill(pid, libc::SIGKILL);
    wait_until(Duration::from_secs(10), "web stopped (no respawn)", || {
        d.run(&["status", "web"]) == (3, "web stop/waiting\n".into(), String::new())
    });
    assert_agree(&d, "web");
    d.assert_no_zombies();
    let (code, stopped, _) = d.run(&["stop", "web"]);
    assert_eq!(code, 0);
    assert_eq!(d.run(&["status", "web"]), (3, stopped, String::new()));
    for job in ["web", "crash", "worker", long] {
        assert_agree(&d, job);
    }
    let page = page_path(&d);
    assert_eq!(d.shutdown(), 0);
    assert!(!page.exists(), "the daemon removes its page when it exits");
}

#[test]
fn a_page_whose_daemon_died_is_not_believed() {
    let d = Daemon::start(&[("web", &format!("{SLEEPER}start_on: startup\n"))], &[]);
    wait_until(Duration::from_secs(10), "web running", || {
        d.run(&["status", "web"]).0 == 0
    });
    // SIGKILL: the daemon cannot remove its page, but its lock goes with it.
    let mut d = d;
    sig_daemon(&d, libc::SIGKILL);
    d.wait_exit(Duration::from_secs(10));
    assert!(page_path(&d).is_file());
    let (code, out, err) = run_within(&d, &["status", "web"], Duration::from_secs(5));
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.starts_with(&format!(
            "gsup: cannot reach the daemon at {}",
            d.socket.display()
        )),
        "{err}"
    );
}

#[test]
fn a_reload_rebuilds_the_page() {
    let d = Daemon::start(&[("web", SLEEPER), ("old", SLEEPER)], &[]);
    assert_eq!(d.run(&["status", "old"]).0, 3);
    std::fs::remove_file(d.config.join("old.yaml")).expect("rm old");
    common::write_units(&d.config, &[("new", SLEEPER)]);
    let (code, _, err) = d.run(&["reload-config"]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = d.run(&["status", "old"]);
    assert_eq!(
        (code, out.as_str(), err.as_str()),
        (4, "", "gsup: old: no such job\n")
    );
    for job in ["web", "new"] {
        assert_agree(&d, job);
    }
    // The new job is on the page itself: it answers while the daemon cannot.
    sig_daemon(&d, libc::SIGSTOP);
    let got = run_within(&d, &["status", "new"], Duration::from_secs(5));
    sig_daemon(&d, libc::SIGCONT);
    assert_eq!(got, (3, "new stop/waiting\n".into(), String::new()));
}

#[test]
fn a_user_reads_the_page_of_a_root_daemon() {
    use std::os::unix::fs::PermissionsExt;
    let d = Daemon::start(&[("web", &format!("{SLEEPER}start_on: startup\n"))], &[]);
    std::fs::set_permissions(d.root.path(), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    wait_until(Duration::from_secs(10), "web running", || {
        d.run(&["status", "web"]).0 == 0
    });
    let (_, line, _) = d.run(&["status", "web"]);
    sig_daemon(&d, libc::SIGSTOP);
    let nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let got = run_as_within(&nobody, &d, &["status", "web"], Duration::from_secs(5));
    sig_daemon(&d, libc::SIGCONT);
    assert_eq!(got, (0, line, String::new()));
}

#[test]
fn a_runtime_dir_that_is_not_the_daemons_is_not_used() {
    let root = common::temp_root();
    let runtime = root.path().join("gsup.d");
    std::fs::create_dir(&runtime).expect("mkdir");
    std::os::unix::fs::chown(&runtime, Some(65534), Some(65534)).expect("chown");
    let d = Daemon::start_in(
        root,
        &[
            ("web", SLEEPER),
            (
                "ready",
                "exec: [/bin/sleep, \"1000\"]\nready: notify\nready_timeout: 5s\n",
            ),
        ],
        &[],
    );
    assert!(!page_path(&d).exists(), "no page in another user's dir");
    assert!(d.stderr().contains("no status page"), "{}", d.stderr());
    // Status still answers, over the socket.
    assert_eq!(
        d.run(&["status", "web"]),
        (3, "web stop/waiting\n".into(), String::new())
    );
    // A notify job cannot get its socket there: it fails, with the reason.
    let (code, out, _) = d.run(&["start", "ready"]);
    assert_eq!((code, out.as_str()), (1, "ready stop/failed\n"));
    let (_, verbose, _) = d.run(&["status", "-v", "ready"]);
    assert!(
        verbose.contains("failed: notify socket: ") && verbose.contains("gsup.d"),
        "{verbose}"
    );
}

/// `gsup status web | head -c 0` and `gsup list | head -c 0`: a closed
/// stdout is not an error and not a death by SIGPIPE (exit 0, page or socket).
#[test]
fn a_closed_stdout_exits_0() {
    let d = Daemon::start(&[("web", &format!("{SLEEPER}start_on: startup\n"))], &[]);
    wait_until(Duration::from_secs(10), "web running", || {
        d.run(&["status", "web"]).0 == 0
    });
    for args in [&["status", "web"][..], &["list"][..]] {
        let mut fds = [0; 2];
        // SAFETY: pipe(2) fills two descriptors we then own.
        assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
        // SAFETY: both are ours; the read end is closed before the client writes.
        let (read, write) = unsafe {
            use std::os::fd::FromRawFd;
            (
                std::fs::File::from_raw_fd(fds[0]),
                std::fs::File::from_raw_fd(fds[1]),
            )
        };
        drop(read);
        let status = Command::new(gsup_bin())
            .arg("--socket")
            .arg(&d.socket)
            .args(args)
            .stdin(Stdio::null())
            .stdout(write)
            .stderr(Stdio::null())
            .status()
            .expect("run");
        assert_eq!(status.code(), Some(0), "{args:?}: {status:?}");
    }
}
