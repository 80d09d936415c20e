//! The seam between supervisor logic and the kernel: spawning, signalling,
//! reaping. The supervisor calls only this trait, so tests can use a fake.
//!
//! A spawn that fails after the clone (stage `exec`, `chdir`, `setuid`, ...)
//! left a child that has `_exit(127)`ed: `reap` returns its pid later, one
//! the supervisor never recorded, and the supervisor drops it.

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

/// The effects the supervisor performs on processes.
pub trait Sys {
    /// Starts `spec` in a new session (as posix_spawn: returns once the
    /// child has exec'd); returns the child's pid.
    fn spawn(&mut self, spec: &SpawnSpec) -> Result<i32, SpawnError>;
    /// Sends `sig`; returns the errno on failure (ESRCH when already gone).
    fn signal(&mut self, target: KillTarget, sig: Signal) -> Result<(), i32>;
    /// Reaps every child that has exited (`waitpid(-1, WNOHANG)` until none).
    fn reap(&mut self) -> Vec<(i32, Exit)>;
}

/// Makes sure descriptors 0, 1 and 2 are open, on /dev/null when closed, as
/// s6 and runit do: a daemon started with `2>&-` would otherwise get its
/// first socket, epoll or log file as fd 2 and write its log lines into it,
/// and hand it to every `console: inherit` job. std's runtime does the same
/// before `main`; the daemon checks again because it is its own contract.
pub fn ensure_stdio() {
    for fd in 0..=2 {
        // SAFETY: F_GETFD reads a descriptor's flags; no memory is passed.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
            continue;
        }
        // open() returns the lowest free number: this one.
        let _ = nix::fcntl::open(
            "/dev/null",
            nix::fcntl::OFlag::O_RDWR,
            nix::sys::stat::Mode::empty(),
        )
        .map(std::mem::forget::<std::os::fd::OwnedFd>);
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
pub struct RealSys {
    spawner: crate::spawn::Spawner,
}

impl Sys for RealSys {
    fn spawn(&mut self, spec: &SpawnSpec) -> Result<i32, SpawnError> {
        self.spawner.spawn(spec)
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
