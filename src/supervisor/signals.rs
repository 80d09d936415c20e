//! The daemon's disposition for every catchable signal, each chosen on
//! purpose: which it acts on, which it logs and ignores. Never ends the daemon.
//!
//! SIGCHLD is the loop's own stream (the reaper). SIGPIPE is ignored (std's
//! runtime does it; a closed client or stderr is an EPIPE). Faults (SIGSEGV,
//! SIGBUS, SIGFPE, SIGILL), SIGABRT, SIGTRAP and SIGSYS keep their default:
//! they report a bug, and returning from their handler would fault again.
//! The real-time signals (systemd's `SIGRTMIN+n` requests) are ignored.

use super::core::Supervisor;
use std::time::Instant;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{info, warn};

/// What the daemon does when a signal arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// SIGTERM, SIGINT: stop every job in order and end (as PID 1: power off).
    Shutdown,
    /// SIGHUP: re-read the config dir, as most daemons do.
    ReloadConfig,
    /// SIGUSR1: reopen log files.
    ReopenLogs,
    /// Every other catchable signal: logged and ignored.
    Ignore,
}

/// The signals the loop listens to besides SIGCHLD.
pub const LISTENED: &[libc::c_int] = &[
    libc::SIGTERM,
    libc::SIGINT,
    libc::SIGHUP,
    libc::SIGUSR1,
    libc::SIGUSR2,
    libc::SIGALRM,
    libc::SIGQUIT,
    libc::SIGPWR,
    libc::SIGTSTP,
    libc::SIGTTIN,
    libc::SIGTTOU,
    libc::SIGXCPU,
    libc::SIGXFSZ,
    libc::SIGVTALRM,
    libc::SIGPROF,
    libc::SIGIO,
];

/// What `sig` asks of the daemon.
pub fn action(sig: libc::c_int) -> Action {
    match sig {
        libc::SIGTERM | libc::SIGINT => Action::Shutdown,
        libc::SIGHUP => Action::ReloadConfig,
        libc::SIGUSR1 => Action::ReopenLogs,
        _ => Action::Ignore,
    }
}

/// Installs a handler for each of `LISTENED`, forwarding every delivery to
/// the returned channel (one small task each), and ignores the real-time
/// signals. Must run inside the runtime. Errors name the signal.
pub fn install() -> Result<mpsc::UnboundedReceiver<libc::c_int>, String> {
    let (tx, rx) = mpsc::unbounded_channel();
    for &sig in LISTENED {
        let mut stream = signal(SignalKind::from_raw(sig))
            .map_err(|e| format!("signal {}: {e}", crate::job::policy::signal_name(sig)))?;
        let tx = tx.clone();
        tokio::spawn(async move {
            while stream.recv().await.is_some() {
                if tx.send(sig).is_err() {
                    return;
                }
            }
        });
    }
    ignore_realtime();
    Ok(rx)
}

/// SIG_IGN for SIGRTMIN..=SIGRTMAX: their default ends a process. Jobs get
/// every signal back at its default (`spawn::child`).
fn ignore_realtime() {
    for sig in libc::SIGRTMIN()..=libc::SIGRTMAX() {
        // SAFETY: setting a disposition to SIG_IGN installs no handler code.
        if unsafe { libc::signal(sig, libc::SIG_IGN) } == libc::SIG_ERR {
            warn!("cannot ignore signal {sig}");
        }
    }
}

impl Supervisor {
    /// A signal arrived (`LISTENED`): acted on, or logged and ignored.
    pub fn on_signal(&mut self, sig: libc::c_int, now: Instant) {
        let name = crate::job::policy::signal_name(sig);
        match action(sig) {
            Action::Shutdown => {
                info!("SIG{name}: shutting down");
                self.begin_shutdown(false, now);
            }
            Action::ReloadConfig => {
                info!("SIG{name}: reloading the config dir");
                self.request_reload(None);
            }
            Action::ReopenLogs => self.reopen_logs(),
            Action::Ignore => warn!("SIG{name} ignored"),
        }
    }

    /// SIGUSR1: the daemon's log file (its stderr, when that was a file)
    /// and the job logs are opened again.
    pub fn reopen_logs(&mut self) {
        self.reopen_job_logs();
        match crate::logs::DaemonLog::handle().map(|h| h.reopen()) {
            Some(Err(e)) => warn!("SIGUSR1: cannot reopen the daemon log: {e}"),
            _ => info!("SIGUSR1: logs reopened"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listened_signal_has_a_chosen_action() {
        assert_eq!(action(libc::SIGTERM), Action::Shutdown);
        assert_eq!(action(libc::SIGINT), Action::Shutdown);
        assert_eq!(action(libc::SIGHUP), Action::ReloadConfig);
        assert_eq!(action(libc::SIGUSR1), Action::ReopenLogs);
        for sig in [libc::SIGUSR2, libc::SIGALRM, libc::SIGQUIT, libc::SIGTSTP] {
            assert_eq!(action(sig), Action::Ignore);
        }
        assert!(
            !LISTENED.contains(&libc::SIGCHLD),
            "the reaper's own stream"
        );
        assert!(!LISTENED.contains(&libc::SIGSEGV));
    }
}
