//! The seam between supervisor logic and the kernel: spawning, signalling,
//! reaping. The supervisor calls only this trait, so tests can use a fake.
//!
//! A spawn that fails after fork (stage `exec`, `chdir`, `setuid`, ...) left
//! a child that has `_exit(127)`ed: `reap` returns its pid later, one the
//! supervisor never recorded, and the supervisor drops it.

use crate::job::Exit;
use crate::spawn::{SpawnError, SpawnSpec};
use crate::unit::Signal;

/// Whom a signal goes to: a whole process group, or one process. The two are
/// apart in the type so that a worker is never killed through its master's group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KillTarget {
    Group(i32),
    Pid(i32),
}

/// A spawn in flight: finished at once, or forked with its exec report
/// still to be read (`Started::wait`).
#[derive(Debug)]
pub enum Launch {
    Done(Result<i32, SpawnError>),
    Started(crate::spawn::Started),
}

/// The effects the supervisor performs on processes.
pub trait Sys {
    /// Forks and execs `spec` in a new session; returns the child's pid.
    fn spawn(&mut self, spec: &SpawnSpec) -> Result<i32, SpawnError>;
    /// Like `spawn`, but may return before the child has exec'd, so that a
    /// start wave forks every job before it waits for any exec report
    /// (docs/performance.md). The default is `spawn`, done at once.
    fn launch(&mut self, spec: &SpawnSpec) -> Launch {
        Launch::Done(self.spawn(spec))
    }
    /// Sends `sig`; returns the errno on failure (ESRCH when already gone).
    fn signal(&mut self, target: KillTarget, sig: Signal) -> Result<(), i32>;
    /// Reaps every child that has exited (`waitpid(-1, WNOHANG)` until none).
    fn reap(&mut self) -> Vec<(i32, Exit)>;
}

/// Ignores SIGPIPE: a client that hangs up before its answer, or a closed
/// stderr, must cost the daemon an EPIPE, and a client's closed stdout is
/// an error it handles. (The binary has no Rust runtime set-up to do it;
/// jobs get every signal back at SIG_DFL.)
pub fn ignore_sigpipe() {
    // SAFETY: setting a disposition to SIG_IGN installs no handler code.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
}

/// Makes glibc's allocator give large freed blocks back to the kernel. By
/// default it raises its mmap threshold after the first large free, so a big
/// temporary (a `list` answer, the parsed config) stays in the heap for
/// good; fixing both thresholds turns that off (docs/performance.md).
pub fn tune_allocator() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets allocator parameters; called before threads
    // other than tokio's own allocate anything large.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 * 1024);
        // One arena: the config-dir watcher's thread allocates a few hundred
        // bytes now and then; an arena of its own would hold ~116 kB of PSS.
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

/// The real kernel.
#[derive(Debug, Default)]
pub struct RealSys;

impl Sys for RealSys {
    fn spawn(&mut self, spec: &SpawnSpec) -> Result<i32, SpawnError> {
        crate::spawn::spawn(spec)
    }

    fn launch(&mut self, spec: &SpawnSpec) -> Launch {
        match crate::spawn::start(spec) {
            Ok(started) => Launch::Started(started),
            Err(e) => Launch::Done(Err(e)),
        }
    }

    /// `kill(-pgid)` for a group, `kill(pid)` for one process. Refuses any
    /// pid or pgid <= 1 with EINVAL, so `kill(-1)`, `kill(0)` and PID 1 are
    /// never reachable through here.
    fn signal(&mut self, target: KillTarget, sig: Signal) -> Result<(), i32> {
        let dest = match target {
            KillTarget::Group(pgid) if pgid > 1 => -pgid,
            KillTarget::Pid(pid) if pid > 1 => pid,
            _ => return Err(libc::EINVAL),
        };
        // SAFETY: kill has no memory arguments; `dest` is never -1, 0 or 1.
        if unsafe { libc::kill(dest, sig.0) } < 0 {
            return Err(std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EINVAL));
        }
        Ok(())
    }

    fn reap(&mut self) -> Vec<(i32, Exit)> {
        crate::reap::reap_all()
    }
}
