//! `gsup reexec`: the daemon replaces its binary in place (same pid, so the
//! jobs stay its children), handing the listening socket to the new one.
//!
//! The new binary finds the state this one saved just before the exec and
//! takes every job back (`adopt`), as after a crash, but with its own
//! children: nothing is restarted and no connection is refused meanwhile
//! (the socket keeps listening; a client waits in its backlog).

use super::core::Supervisor;
use std::ffi::{CString, OsString};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Instant;
use tracing::{error, info};

/// What a waiting client is told when the daemon re-executes under it.
pub const WAITERS_TOLD: &str = "the daemon re-executed itself; ask again";

/// The command line of the new daemon: this one's, without a previous
/// `--inherit-socket-fd`, with `daemon` when the command had none (PID 1
/// started as plain `gsup`), and the socket's descriptor at the end.
pub fn argv(orig: &[OsString], fd: i32) -> Vec<OsString> {
    let mut out: Vec<OsString> = Vec::with_capacity(orig.len() + 3);
    let mut args = orig.iter();
    out.push(args.next().cloned().unwrap_or_else(|| "gsup".into()));
    let mut skip_value = false;
    for a in args {
        if std::mem::take(&mut skip_value) {
            continue;
        }
        let bytes = a.as_bytes();
        if bytes == b"--inherit-socket-fd" {
            skip_value = true;
            continue;
        }
        if bytes.starts_with(b"--inherit-socket-fd=") {
            continue;
        }
        out.push(a.clone());
    }
    if !out[1..].iter().any(|a| a == "daemon") {
        // Plain `gsup` as PID 1, or arguments PID 1 ignored: the defaults.
        out.truncate(1);
        out.push("daemon".into());
    }
    out.push("--inherit-socket-fd".into());
    out.push(fd.to_string().into());
    out
}

/// The binary on disk now: `/proc/self/exe` resolved again, so that an
/// upgraded binary installed at the same path is the one run. When the old
/// file was removed and nothing took its place, the running image itself.
pub fn binary() -> PathBuf {
    let proc_exe = PathBuf::from("/proc/self/exe");
    let Ok(target) = std::fs::read_link(&proc_exe) else {
        return proc_exe;
    };
    let bytes = target.as_os_str().as_bytes();
    let path = match bytes.strip_suffix(b" (deleted)") {
        Some(stem) => PathBuf::from(std::ffi::OsStr::from_bytes(stem)),
        None => target,
    };
    if path.is_file() { path } else { proc_exe }
}

impl Supervisor {
    /// Answers every waiting client with an error (their connections end
    /// with this process image).
    pub(super) fn tell_waiters_reexec(&mut self) {
        for w in self.waiters.drain(..) {
            let _ = w
                .reply
                .send(crate::control::proto::Response::err(1, WAITERS_TOLD));
        }
    }
}

/// Saves the state and execs the binary with the socket `listen` (a
/// close-on-exec copy of the listener) handed over. Returns only when the
/// exec failed; the daemon then runs on as it was.
pub async fn replace(sup: &mut Supervisor, listen: Option<&OwnedFd>) {
    sup.tell_waiters_reexec();
    sup.publish();
    sup.force_save_state(Instant::now());
    sup.hand_logs_over();
    // Let the connection tasks write the answers given in this turn (the
    // `reexec` request's own "ok" among them); a client that still sees its
    // connection close treats that as the re-exec it asked for.
    for _ in 0..4 {
        tokio::task::yield_now().await;
    }
    let bin = binary();
    let fd = listen.map_or(-1, |l| l.as_raw_fd());
    let orig: Vec<OsString> = std::env::args_os().collect();
    let mut args = argv(&orig, fd);
    if listen.is_none() {
        // No copy of the socket: the new daemon binds it again.
        args.truncate(args.len() - 2);
    }
    info!(binary = %bin.display(), "re-executing");
    let err = exec(&bin, &args, listen);
    error!("cannot re-execute {}: {err}; running on", bin.display());
    sup.take_back_logs();
}

/// `execv` with `listen` made inheritable for the exec only.
fn exec(bin: &Path, args: &[OsString], listen: Option<&OwnedFd>) -> io::Error {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    let Ok(path) = CString::new(bin.as_os_str().as_bytes()) else {
        return io::Error::other("the binary's path holds a NUL byte");
    };
    let mut cargs = Vec::with_capacity(args.len());
    for a in args {
        match CString::new(a.as_bytes()) {
            Ok(c) => cargs.push(c),
            Err(_) => return io::Error::other("an argument holds a NUL byte"),
        }
    }
    if let Some(l) = listen
        && let Err(e) = fcntl(l, FcntlArg::F_SETFD(FdFlag::empty()))
    {
        return e.into();
    }
    let err = match nix::unistd::execv(&path, &cargs) {
        Ok(never) => match never {},
        Err(e) => io::Error::from(e),
    };
    if let Some(l) = listen {
        let _ = fcntl(l, FcntlArg::F_SETFD(FdFlag::FD_CLOEXEC));
    }
    err
}

#[cfg(test)]
mod tests {
    use super::argv;
    use std::ffi::OsString;

    fn v(args: &[&str]) -> Vec<OsString> {
        args.iter().map(OsString::from).collect()
    }

    #[test]
    fn appends_the_socket_fd() {
        assert_eq!(
            argv(&v(&["gsup", "daemon", "--config-dir", "/c"]), 7),
            v(&[
                "gsup",
                "daemon",
                "--config-dir",
                "/c",
                "--inherit-socket-fd",
                "7"
            ])
        );
    }

    #[test]
    fn replaces_an_earlier_socket_fd() {
        let orig = v(&[
            "gsup",
            "--socket",
            "/s",
            "daemon",
            "--inherit-socket-fd",
            "5",
            "--init",
        ]);
        assert_eq!(
            argv(&orig, 9),
            v(&[
                "gsup",
                "--socket",
                "/s",
                "daemon",
                "--init",
                "--inherit-socket-fd",
                "9"
            ])
        );
        let eq = v(&["gsup", "daemon", "--inherit-socket-fd=5"]);
        assert_eq!(
            argv(&eq, 4),
            v(&["gsup", "daemon", "--inherit-socket-fd", "4"])
        );
    }

    #[test]
    fn pid1_without_a_command_gets_daemon() {
        assert_eq!(
            argv(&v(&["/sbin/init"]), 3),
            v(&["/sbin/init", "daemon", "--inherit-socket-fd", "3"])
        );
        assert_eq!(
            argv(&v(&["/sbin/init", "quiet", "splash"]), 3),
            v(&["/sbin/init", "daemon", "--inherit-socket-fd", "3"])
        );
        assert_eq!(
            argv(&[], 3),
            v(&["gsup", "daemon", "--inherit-socket-fd", "3"])
        );
    }
}
