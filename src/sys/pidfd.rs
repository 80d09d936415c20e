//! A pidfd on one process: tells when it exits even when it is not gsup's
//! child, and signals exactly it. It never waits (reaps) on it.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// A pidfd. Unlike a pid it cannot be recycled: a signal through it reaches
/// that process or nobody, and it turns readable when the process exits,
/// which gsup otherwise never learns for a main process that is not its
/// child (a new master while the old one, its parent, lives).
pub struct PidFd {
    pid: i32,
    fd: tokio::io::unix::AsyncFd<OwnedFd>,
}

impl PidFd {
    /// Opens a pidfd on `pid`. Must be called inside a tokio runtime.
    pub fn open(pid: i32) -> io::Result<PidFd> {
        // SAFETY: pidfd_open takes (pid, flags) and returns a new fd or -1.
        let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: the syscall returned a fresh descriptor that we own.
        let owned = unsafe { OwnedFd::from_raw_fd(raw as i32) };
        // SAFETY: the `AsyncFd` owns `owned`, which stays open and the same
        // descriptor for the AsyncFd's whole life.
        let fd = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(owned, tokio::io::Interest::READABLE)
        }?;
        Ok(PidFd { pid, fd })
    }

    /// The pid this handle is on.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// True once the process has exited (whoever reaps it).
    pub fn has_exited(&self) -> bool {
        let mut pfd = libc::pollfd {
            fd: self.fd.get_ref().as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        // SAFETY: one valid pollfd, zero timeout.
        let n = unsafe { libc::poll(&mut pfd, 1, 0) };
        n > 0 && pfd.revents & libc::POLLIN != 0
    }

    /// Resolves when the process exits; for the supervisor's `select!`.
    pub async fn exited(&self) -> io::Result<()> {
        loop {
            let mut guard = self.fd.readable().await?;
            if self.has_exited() {
                return Ok(());
            }
            guard.clear_ready();
        }
    }

    /// Sends `sig` to exactly this process (`pidfd_send_signal`); ESRCH when
    /// it has exited. Never reaches a process that reused the pid.
    pub fn signal(&self, sig: i32) -> io::Result<()> {
        let fd = self.fd.get_ref().as_raw_fd();
        // SAFETY: (pidfd, sig, info = NULL, flags = 0) as the syscall expects.
        let r = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd,
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        if r < 0 {
            Err(io::Error::last_os_error())
        } else {
            Ok(())
        }
    }
}
