//! Helpers for the trust tests: another local user (`nobody`) running
//! `tests/fixtures/abuse.py`, a daemon started only to see whether it
//! refuses, and the daemon's memory. They never signal a process by name.
#![allow(dead_code)]

use crate::common::{end_namespace, fixture, gsup_bin, remove_cgroup_domain, wait_until};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};
use std::time::{Duration, Instant};

/// The system's python3: `nobody` cannot read a per-user install (pyenv
/// under /root). `None` (after saying how to get it) when it or `setpriv`
/// is missing; under `CI=true` that is a failure.
pub fn system_python() -> Option<&'static str> {
    let py = "/usr/bin/python3";
    let ok = Path::new(py).exists() && Path::new("/usr/bin/setpriv").exists();
    if !ok {
        let msg = "needs /usr/bin/python3 and setpriv: apt-get install -y python3 util-linux";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        eprintln!("skipped: {msg}");
        return None;
    }
    Some(py)
}

/// `setpriv` switching to `nobody`/`nogroup` with no other groups.
pub fn as_nobody(program: &str) -> Command {
    as_user(65534, program)
}

/// `setpriv` switching to `uid` (group the same number) with no other groups.
pub fn as_user(uid: u32, program: &str) -> Command {
    let mut c = Command::new("setpriv");
    c.arg(format!("--reuid={uid}"))
        .arg(format!("--regid={uid}"))
        .arg("--clear-groups")
        .arg(program);
    c
}

/// A running `abuse.py` of `nobody`; ended (by its own pid) when dropped.
pub struct Abuser {
    child: Child,
    /// Closed by `finish`: a flood then stops and prints its summary.
    stdin: Option<std::process::ChildStdin>,
    out: BufReader<ChildStdout>,
}

impl Abuser {
    /// Starts `abuse.py ARGS` as `nobody` and waits for its `ready` line.
    pub fn start(py: &str, args: &[&str]) -> Abuser {
        let mut child = as_nobody(py)
            .arg(fixture("abuse.py"))
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("spawn abuse.py");
        let stdin = child.stdin.take();
        let mut out = BufReader::new(child.stdout.take().expect("stdout"));
        let mut line = String::new();
        out.read_line(&mut line).expect("read abuse.py");
        assert_eq!(line.trim(), "ready", "abuse.py {args:?} did not start");
        Abuser { child, stdin, out }
    }

    /// Closes its stdin and waits (at most `limit`) for it to end; returns
    /// what it printed after `ready`.
    pub fn finish(mut self, limit: Duration) -> String {
        drop(self.stdin.take());
        let child = &mut self.child;
        wait_until(limit, "abuse.py ends", || {
            matches!(child.try_wait(), Ok(Some(_)))
        });
        let mut rest = String::new();
        let _ = std::io::Read::read_to_string(&mut self.out, &mut rest);
        rest.trim().to_string()
    }
}

impl Drop for Abuser {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }
}

/// Runs `abuse.py ARGS` as `nobody` to its end; panics if it fails.
pub fn run_abuse(py: &str, args: &[&str]) {
    let st = as_nobody(py)
        .arg(fixture("abuse.py"))
        .args(args)
        .status()
        .expect("run abuse.py");
    assert!(st.success(), "abuse.py {args:?}: {st}");
}

/// A `gsup daemon` on an empty config dir under `root`, listening (it
/// hopes) at `socket`, in its own PID namespace; ended when dropped.
pub struct Attempt {
    child: Child,
    pub stderr: PathBuf,
    /// The daemon's runtime dir: its cgroup domain is removed at the end.
    runtime_dir: PathBuf,
}

impl Attempt {
    /// As root, logging under `root`.
    pub fn start(root: &Path, socket: &Path) -> Attempt {
        Attempt::start_as(root, socket, None, &root.join("log"))
    }

    /// As `uid` (through `setpriv`, inside the namespace) when given.
    pub fn start_as(root: &Path, socket: &Path, uid: Option<u32>, logs: &Path) -> Attempt {
        let config = root.join("services.d");
        std::fs::create_dir_all(&config).expect("config dir");
        let stderr = root.join(format!(
            "attempt-{}.stderr",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .expect("clock")
                .as_nanos()
        ));
        let file = std::fs::File::create(&stderr).expect("stderr file");
        let child = Command::new("unshare")
            .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
            // gsup as PID 2 under a `sh`, as the `Daemon` harness runs it.
            .args(["sh", "-c", "\"$@\" & wait $!", "sh"])
            .args(
                uid.map(|u| {
                    [
                        "setpriv".to_string(),
                        format!("--reuid={u}"),
                        format!("--regid={u}"),
                        "--clear-groups".to_string(),
                    ]
                })
                .into_iter()
                .flatten(),
            )
            .arg(gsup_bin())
            .arg("daemon")
            .arg("--config-dir")
            .arg(&config)
            .arg("--log-dir")
            .arg(logs)
            .arg("--socket")
            .arg(socket)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(file)
            .spawn()
            .expect("spawn unshare");
        Attempt {
            child,
            stderr,
            runtime_dir: gsup::control::page::runtime_dir(socket),
        }
    }

    /// Its exit code if it exits within `limit`, else `None` (still running).
    pub fn exit_within(&mut self, limit: Duration) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st.code().unwrap_or(-1));
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Its exit code, or `None` once `ready` holds (it runs).
    pub fn exit_or(&mut self, limit: Duration, mut ready: impl FnMut() -> bool) -> Option<i32> {
        let deadline = Instant::now() + limit;
        loop {
            if let Ok(Some(st)) = self.child.try_wait() {
                return Some(st.code().unwrap_or(-1));
            }
            if ready() {
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "the daemon neither exited nor came up within {limit:?}: {}",
                self.log()
            );
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// What it logged.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            // The namespace, and the daemon in it, ends too.
            end_namespace(&mut self.child);
        }
        let _ = self.child.wait();
        remove_cgroup_domain(&self.runtime_dir);
    }
}

/// `VmRSS` of `pid` in kB.
pub fn vm_rss_kb(pid: i32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// Samples `pid`'s RSS every 10 ms on a thread until the returned flag is set;
/// the thread returns the largest sample in kB.
pub fn watch_rss(
    pid: i32,
) -> (
    std::sync::Arc<std::sync::atomic::AtomicBool>,
    std::thread::JoinHandle<u64>,
) {
    use std::sync::atomic::{AtomicBool, Ordering};
    let stop = std::sync::Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let t = std::thread::spawn(move || {
        let mut most = 0;
        while !flag.load(Ordering::Relaxed) {
            most = most.max(vm_rss_kb(pid));
            std::thread::sleep(Duration::from_millis(10));
        }
        most.max(vm_rss_kb(pid))
    });
    (stop, t)
}

/// Mode and owner of `path` itself (not followed).
pub fn mode_owner(path: &Path) -> (u32, u32) {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(path).expect("lstat");
    (m.mode() & 0o7777, m.uid())
}

/// chmod through the path: the test's own files only.
pub fn chmod(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}
