//! Helpers of the watchdog's real-process tests: start a Python fixture as this test's
//! own child in its own process group, poll with a deadline, and clean up only what the
//! test created (that group, and the pids seen in its tree, reaped by pid).
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Polls `cond` every 5 ms until it holds; panics with `what` after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "timed out after {timeout:?}: {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Makes this test process a child subreaper, so that orphans of the fixtures come
/// back to it and are reaped here (by pid), not left to the host's PID 1.
pub fn become_subreaper() {
    // SAFETY: prctl with integer arguments only.
    let rc = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) };
    assert_eq!(rc, 0, "PR_SET_CHILD_SUBREAPER");
}

/// A fixture process tree started by this test.
pub struct Fixture {
    pub child: Child,
    pub pid: i32,
}

/// `tests/fixtures/NAME`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

impl Fixture {
    /// Starts `python3 -u FIXTURE ARGS...` in a new process group of its own.
    pub fn python(name: &str, args: &[&str]) -> Fixture {
        Fixture::command(
            Command::new("python3")
                .arg("-u")
                .arg(fixture(name))
                .args(args),
        )
    }

    /// Starts `python3 -c CODE` in a new process group of its own.
    pub fn python_code(code: &str) -> Fixture {
        Fixture::command(Command::new("python3").arg("-c").arg(code))
    }

    fn command(cmd: &mut Command) -> Fixture {
        use std::os::unix::process::CommandExt;
        let child = cmd
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .expect("spawn python3");
        let pid = i32::try_from(child.id()).expect("pid");
        Fixture { child, pid }
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let seen: Vec<i32> = gsup::procfs::walk(&gsup::procfs::RealProc::default(), self.pid)
            .iter()
            .skip(1)
            .map(|p| p.pid)
            .collect();
        // SAFETY: kill on the process group this test created (its pgid is our child's pid).
        unsafe { libc::kill(-self.pid, libc::SIGKILL) };
        let _ = self.child.wait();
        // Descendants orphaned to us (we may be a subreaper): reap them by pid.
        let deadline = Instant::now() + Duration::from_secs(5);
        for pid in seen {
            loop {
                let mut status = 0;
                // SAFETY: waitpid on one pid with a valid status pointer.
                let rc = unsafe { libc::waitpid(pid, &mut status, libc::WNOHANG) };
                let gone = !std::path::Path::new(&format!("/proc/{pid}")).exists();
                if rc > 0 || gone || Instant::now() > deadline {
                    break; // reaped here, or by its own parent
                }
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}
