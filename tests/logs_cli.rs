//! `gsup log` against a real daemon: the tail of a huge line, KEY=VALUE,
//! following across rotation and truncation, `--daemon` (and `-f`, JSON),
//! and SIGUSR1 reopening the daemon's stderr file.

mod common;

use common::{Daemon, gsup_bin, wait_until};
use gsup::logs::{LogHub, LogId, LogSpec};
use std::fs;
use std::io::Read;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);
const SLEEPER: &str = "exec: [sleep, \"1000\"]\n";

/// `gsup ARGS` with its stdout collected by a thread into the returned buffer.
fn spawn_collecting(d: &Daemon, args: &[&str]) -> (Child, Arc<Mutex<String>>) {
    let mut child = Command::new(gsup_bin())
        .arg("--socket")
        .arg(&d.socket)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("gsup");
    let buf = Arc::new(Mutex::new(String::new()));
    let mut out = child.stdout.take().expect("stdout");
    let b = buf.clone();
    std::thread::spawn(move || {
        let mut chunk = [0u8; 8192];
        while let Ok(n) = out.read(&mut chunk) {
            if n == 0 {
                break;
            }
            b.lock()
                .expect("lock")
                .push_str(&String::from_utf8_lossy(&chunk[..n]));
        }
    });
    (child, buf)
}

/// Polls `cond` until it holds or `timeout` passes; whether it held.
fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

fn text(buf: &Arc<Mutex<String>>) -> String {
    buf.lock().expect("lock").clone()
}

fn stop(mut child: Child) {
    // SAFETY: SIGTERM to our own child, which has not been reaped yet.
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
}

/// True when process `pid` has `path` open.
fn has_open(pid: u32, path: &Path) -> bool {
    fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| {
            d.filter_map(Result::ok)
                .any(|e| fs::read_link(e.path()).is_ok_and(|l| l == path))
        })
        .unwrap_or(false)
}

#[test]
fn log_n1_of_a_50_mb_line_without_newline_is_fast_and_small() {
    let d = Daemon::start(&[("big", SLEEPER)], &[]);
    fs::create_dir_all(&d.logs).expect("mkdir");
    // Written in blocks: the client forked from this process must not start
    // out with a copy of a 50 MB buffer in its RSS.
    const LEN: usize = 50 << 20;
    {
        use std::io::Write;
        let mut f = fs::File::create(d.logs.join("big.log")).expect("create");
        f.write_all(b"first\n").expect("write");
        let block = vec![b'x'; 1 << 20];
        for _ in 0..LEN >> 20 {
            f.write_all(&block).expect("write");
        }
    }
    let out_path = d.root.path().join("out");
    let out = fs::File::create(&out_path).expect("out");
    let started = Instant::now();
    // Reaped below by wait4, which also gives its own resource usage.
    let pid = Command::new(gsup_bin())
        .arg("--socket")
        .arg(&d.socket)
        .args(["log", "big", "-n", "1"])
        .stdout(out)
        .spawn()
        .expect("gsup log")
        .id() as i32;
    let mut status = 0;
    // SAFETY: a zeroed rusage filled in by wait4 on our own child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: wait4 on the pid of our own unreaped child, valid pointers.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    let elapsed = started.elapsed();
    assert_eq!(r, pid);
    assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
    let printed = fs::read(&out_path).expect("read out");
    assert_eq!(printed.len(), LEN, "exactly the last line");
    assert!(printed.iter().all(|&b| b == b'x'));
    eprintln!(
        "gsup log -n 1 of a 50 MB line: {elapsed:.2?}, max RSS {} kB",
        usage.ru_maxrss
    );
    assert!(
        usage.ru_maxrss < 32 * 1024,
        "max RSS {} kB",
        usage.ru_maxrss
    );
    assert_eq!(d.shutdown(), 0);
}

#[test]
fn log_picks_an_instance_with_key_value() {
    let unit = "instance: $Q\nexec: [sh, -c, 'echo hello $Q; exec sleep 1000']\n";
    let d = Daemon::start(&[("w", unit)], &[]);
    assert_eq!(d.run(&["start", "w", "Q=a"]).0, 0);
    let a = d.logs.join("w-a.log");
    wait_until(T, "output of w (a)", || {
        fs::read_to_string(&a).is_ok_and(|t| t.contains("hello a"))
    });
    let (code, out, err) = d.run(&["log", "w", "Q=a"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("hello a\n") && out.contains("gsup: started"),
        "{out}"
    );
    let (code, only, _) = d.run(&["log", "w"]);
    assert_eq!(
        (code, only.as_str()),
        (0, out.as_str()),
        "the only instance"
    );
    assert_eq!(d.run(&["start", "w", "Q=b"]).0, 0);
    let (code, _, err) = d.run(&["log", "w"]);
    assert_eq!(code, 1, "two instances: which?");
    assert!(err.contains("KEY=VALUE"), "{err}");
    let (code, _, err) = d.run(&["log", "nope"]);
    assert_eq!(code, 4, "{err}");
    assert_eq!(d.shutdown(), 0);
}

/// Lines `from..to` as the test writes them.
fn batch(from: u32, to: u32) -> String {
    (from..to).map(|i| format!("line {i:06}\n")).collect()
}

#[test]
fn log_follows_across_rotation_and_truncation() {
    let d = Daemon::start(&[("rot", SLEEPER)], &[]);
    // The test's own log thread writes the job's log where the daemon says it is.
    let mut hub = LogHub::start(&d.logs).expect("hub");
    let id = LogId::new("rot", "");
    let spec = LogSpec {
        max_size: Some(1000),
        keep: 3,
        timestamps: false,
    };
    let w = hub.open(&id, spec).expect("open");
    let path = d.logs.join("rot.log");
    let (follower, out) = spawn_collecting(&d, &["log", "rot", "-f", "-n", "0"]);
    wait_until(T, "follower has the log open", || {
        has_open(follower.id(), &path)
    });
    // 50 lines of 12 bytes a batch: at most one rotation per batch.
    let mut next = 0;
    for round in 0..30 {
        if round == 15 {
            // copytruncate: the file is emptied under the follower.
            while fs::metadata(&path).expect("meta").len() <= 600 {
                nix::unistd::write(&w, batch(next, next + 50).as_bytes()).expect("write");
                next += 50;
                let want = format!("line {:06}\n", next - 1);
                wait_until(T, "batch printed", || text(&out).ends_with(&want));
            }
            fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .expect("open")
                .set_len(0)
                .expect("truncate");
        }
        nix::unistd::write(&w, batch(next, next + 50).as_bytes()).expect("write");
        next += 50;
        let want = format!("line {:06}\n", next - 1);
        wait_until(T, "batch printed", || text(&out).ends_with(&want));
    }
    assert!(d.logs.join("rot.log.3").exists(), "rotation happened");
    let (got, want) = (text(&out), batch(0, next));
    let first_diff = got.lines().zip(want.lines()).position(|(a, b)| a != b);
    assert!(
        got == want,
        "every line once, in order: {} lines for {}, first difference at line {first_diff:?}",
        got.lines().count(),
        want.lines().count()
    );
    stop(follower);
    drop(w);
    drop(hub);
    assert_eq!(d.shutdown(), 0);
}

#[test]
fn log_daemon_shows_and_follows_the_daemon_log() {
    let d = Daemon::start(&[("s", SLEEPER)], &[]);
    let (code, out, err) = d.run(&["log", "--daemon", "-n", "100"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.lines().any(|l| l.contains("ready")), "{out}");
    let (code, out, _) = d.run(&["log", "--daemon", "-n", "1"]);
    assert_eq!((code, out.lines().count()), (0, 1), "{out}");
    let (code, out, _) = d.run(&["log", "--daemon", "-n", "0"]);
    assert_eq!((code, out.as_str()), (0, ""));
    let (follower, buf) = spawn_collecting(&d, &["log", "--daemon", "-f", "-n", "1000"]);
    wait_until(T, "the follower's first answer", || {
        text(&buf).contains("ready")
    });
    assert!(!text(&buf).contains("start/running"));
    assert_eq!(d.run(&["start", "s"]).0, 0);
    let shown = wait_for(T, || {
        text(&buf)
            .lines()
            .any(|l| l.contains("start/running") && l.contains("job=s"))
    });
    assert!(shown, "followed: {}\nstderr: {}", text(&buf), d.stderr());
    stop(follower);
    assert_eq!(d.shutdown(), 0);
}

#[test]
fn log_daemon_in_json_and_the_stderr_file_reopened_on_sigusr1() {
    let d = Daemon::start(&[("s", SLEEPER)], &["--log-format", "json"]);
    let (code, out, err) = d.run(&["log", "--daemon", "-n", "5"]);
    assert_eq!(code, 0, "{err}");
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("a JSON line");
        assert!(
            v["level"].is_string() && v["fields"]["message"].is_string(),
            "{v}"
        );
    }
    let file = d.root.path().join("daemon.stderr");
    let moved = d.root.path().join("daemon.stderr.1");
    fs::rename(&file, &moved).expect("mv");
    // SAFETY: SIGUSR1 to the daemon of this test's own PID namespace.
    assert_eq!(unsafe { libc::kill(d.daemon_host_pid(), libc::SIGUSR1) }, 0);
    wait_until(T, "a new stderr file", || {
        fs::read_to_string(&file).is_ok_and(|t| t.contains("reopened"))
    });
    for line in fs::read_to_string(&file).expect("read").lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("JSON");
    }
    assert!(fs::read_to_string(&moved).expect("old").contains("ready"));
    assert_eq!(d.shutdown(), 0);
}
