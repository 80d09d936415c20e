//! Signalling every process a group lists, by pid but never a wrong
//! process: each pid is pinned with a pidfd, then confirmed still listed. It must not signal a pid <= 1.
//!
//! A pid read from `cgroup.procs` may exit and be reused before the signal.
//! So each round opens a pidfd on every new pid, lists the group again, and
//! signals through the pidfd only the pids still listed: a pidfd refers to
//! the process that held the pid when it was opened, so if that process was
//! still a member after the open, the signal reaches exactly it; if it had
//! gone, the pidfd is dead and the signal goes nowhere (ESRCH). Kernels
//! without pidfds (before 5.3) get a plain `kill` of a pid confirmed listed.

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

/// Rounds of "list, signal the new pids" before giving up on a group that
/// keeps making processes (`cgroup.kill` or a frozen group settles that).
pub const MAX_ROUNDS: usize = 64;

enum Pin {
    Fd(OwnedFd),
    /// No pidfds on this kernel: `kill(pid)`.
    Pid,
    Gone,
}

fn pin(pid: i32) -> Pin {
    // SAFETY: pidfd_open takes (pid, flags) and returns a new fd or -1.
    let raw = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
    if raw >= 0 {
        // SAFETY: a fresh descriptor the syscall gave us.
        return Pin::Fd(unsafe { OwnedFd::from_raw_fd(raw as i32) });
    }
    match io::Error::last_os_error().raw_os_error() {
        Some(libc::ENOSYS) => Pin::Pid,
        _ => Pin::Gone,
    }
}

fn send(pid: i32, pin: &Pin, sig: i32) {
    match pin {
        // SAFETY: pidfd_send_signal(fd, sig, NULL info, 0 flags).
        Pin::Fd(fd) => unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd.as_raw_fd(),
                sig,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            );
        },
        // SAFETY: kill has no memory arguments; pid > 1 (checked by the caller).
        Pin::Pid => unsafe {
            libc::kill(pid, sig);
        },
        Pin::Gone => {}
    }
}

/// Sends `sig` to every process `list` names, round after round, until a
/// round names no pid not seen before (or `rounds`). Returns how many
/// distinct processes were signalled.
pub fn signal_listed(
    mut list: impl FnMut() -> io::Result<Vec<i32>>,
    sig: i32,
    rounds: usize,
) -> io::Result<usize> {
    let mut seen: HashSet<i32> = HashSet::new();
    let mut sent = 0;
    for _ in 0..rounds {
        let fresh: Vec<(i32, Pin)> = list()?
            .into_iter()
            .filter(|&p| p > 1 && !seen.contains(&p))
            .map(|p| (p, pin(p)))
            .collect();
        if fresh.is_empty() {
            break;
        }
        let still: HashSet<i32> = list()?.into_iter().collect();
        for (pid, pinned) in &fresh {
            // A pid gone between the two lists is not marked seen: if it
            // comes back, it is a new process (a reused pid) in the group.
            if still.contains(pid) && seen.insert(*pid) {
                send(*pid, pinned, sig);
                sent += 1;
            }
        }
    }
    Ok(sent)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::process::ExitStatusExt;
    use std::process::{Child, Command};

    fn sleeper() -> (Child, i32) {
        let c = Command::new("sleep").arg("100").spawn().expect("sleep");
        let pid = c.id() as i32;
        (c, pid)
    }

    /// `a` is listed first; `b` shows up from the third listing on (made
    /// after the signal, as a trap's cleanup is).
    fn lists(a: i32, b: i32) -> impl FnMut() -> io::Result<Vec<i32>> {
        let mut calls = 0;
        move || {
            calls += 1;
            Ok(if calls <= 2 { vec![a] } else { vec![a, b] })
        }
    }

    #[test]
    fn one_round_leaves_what_was_made_after_it_and_more_rounds_reach_it() {
        let ((mut a, pa), (mut b, pb)) = (sleeper(), sleeper());
        assert_eq!(
            signal_listed(lists(pa, pb), libc::SIGTERM, 1).expect("signal"),
            1
        );
        assert_eq!(a.wait().expect("wait a").signal(), Some(libc::SIGTERM));
        assert!(
            b.try_wait().expect("try_wait b").is_none(),
            "b was signalled"
        );

        let (mut c, pc) = sleeper();
        let sent = signal_listed(lists(pc, pb), libc::SIGKILL, MAX_ROUNDS).expect("signal");
        assert_eq!(sent, 2);
        assert_eq!(c.wait().expect("wait c").signal(), Some(libc::SIGKILL));
        assert_eq!(b.wait().expect("wait b").signal(), Some(libc::SIGKILL));
    }
}
