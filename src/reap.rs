//! The one reaper: `waitpid(-1, WNOHANG)` until nothing is left. No other code
//! in gsup waits on a child; this file never signals or spawns.

use crate::job::Exit;

/// Reaps every exited child; returns each pid with how it ended.
///
/// Loops `waitpid(-1, WNOHANG | __WALL)` until it returns 0 (children left,
/// none exited) or ECHILD (no children). Stopped and continued children are
/// not reported (no WUNTRACED/WCONTINUED). Orphans re-parented to a subreaper
/// or PID 1 come back here too, as pids the supervisor may not know.
pub fn reap_all() -> Vec<(i32, Exit)> {
    let mut reaped = Vec::new();
    loop {
        let mut status: libc::c_int = 0;
        // SAFETY: waitpid writes only into `status`.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG | libc::__WALL) };
        if pid == 0 {
            break;
        }
        if pid < 0 {
            if std::io::Error::last_os_error().raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            break;
        }
        if let Some(exit) = decode(status) {
            reaped.push((pid, exit));
        }
    }
    reaped
}

/// The whole wait status as an `Exit`: an exit code, or the signal that
/// killed the process (never folded into a made-up code such as 128+N).
pub fn decode(status: libc::c_int) -> Option<Exit> {
    if libc::WIFEXITED(status) {
        Some(Exit::Code(libc::WEXITSTATUS(status)))
    } else if libc::WIFSIGNALED(status) {
        Some(Exit::Signal(libc::WTERMSIG(status)))
    } else {
        None
    }
}

/// Makes this process a child subreaper, so that the orphans of its jobs (a
/// daemonizing master, Unicorn's re-exec'd master) are re-parented to it and
/// reaped by `reap_all`, not by PID 1. Not needed when running as PID 1.
pub fn become_subreaper() -> std::io::Result<()> {
    // SAFETY: prctl with integer arguments only.
    let ret = unsafe { libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1 as libc::c_ulong, 0, 0, 0) };
    if ret < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decode_keeps_code_and_signal_apart() {
        assert_eq!(decode(3 << 8), Some(Exit::Code(3)));
        assert_eq!(decode(0), Some(Exit::Code(0)));
        assert_eq!(decode(libc::SIGKILL), Some(Exit::Signal(9)));
        // core dumped flag (0x80) does not change the signal
        assert_eq!(decode(libc::SIGSEGV | 0x80), Some(Exit::Signal(11)));
        // stopped by SIGSTOP: 0x7f low byte, signal in the next byte
        assert_eq!(decode((libc::SIGSTOP << 8) | 0x7f), None);
        // continued
        assert_eq!(decode(0xffff), None);
    }
}
