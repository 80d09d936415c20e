//! The supervisor's use of the log thread: starting the `LogHub`, gsup's own
//! lines in a job's log, closing a run's pipe, SIGUSR1, the pipes handed over
//! across `gsup reexec`. Never reads or writes a log file itself.

use super::core::Supervisor;
use super::jobs::Key;
use crate::logs::{Handover, LogHub, LogId, LogSpec};
use serde::{Deserialize, Serialize};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::path::Path;
use tracing::{error, info, warn};

/// The file in the runtime dir naming the log pipes handed to the new image
/// on `gsup reexec` (read and removed by it).
pub const HANDOVER_FILE: &str = "log-pipes";

/// What [`HANDOVER_FILE`] holds: the pipes, and the pid of the daemon that
/// wrote it (a re-exec keeps the pid; a file left by another process is
/// not believed).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct HandedPipes {
    pid: i32,
    pipes: Vec<HandedPipe>,
}

/// One log pipe across `exec`: the descriptors stay open (their
/// close-on-exec flag cleared), their numbers and the job travel in
/// [`HANDOVER_FILE`].
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct HandedPipe {
    pub job: String,
    pub instance: String,
    pub spec: LogSpec,
    pub read: i32,
    pub write: Option<i32>,
}

impl Supervisor {
    /// Starts the log thread on the launcher's log dir (made safely, see
    /// `logs::safe`). Without it, a `console: log` job is handed its file, and
    /// each spawn fails with the reason the dir was refused.
    pub fn start_logs(&mut self, handed: Vec<Handover>) {
        match LogHub::start_with(&self.launcher.log_dir, handed) {
            Ok(hub) => {
                info!(dir = %self.launcher.log_dir.display(), "job logs");
                self.logs = Some(hub);
            }
            Err(e) => error!("job logs: {e}; jobs with `console: log` will not start"),
        }
    }

    /// A line of gsup's own in `key`'s log, after what the job wrote so far.
    ///
    /// The daemon's write end is dropped first: a process spawned after
    /// the note (the respawn after `gsup: exited 1`) gets a new pipe, which
    /// the thread takes up only after writing the note, so the note is never
    /// behind that process's first lines. The old pipe is read to its end.
    pub(super) fn note(&mut self, key: &Key, line: &str) {
        let Some(def) = self.jobs.def(&key.0) else {
            return;
        };
        if def.unit.console != crate::unit::Console::Log {
            return;
        }
        let spec = LogSpec::from(&def.unit.log);
        match self.logs.as_mut() {
            Some(hub) => {
                let id = LogId::new(&key.0, &key.1);
                hub.close(&id);
                hub.note_with(&id, spec, line);
            }
            None => crate::logs::note(
                &super::env::log_path(&self.launcher.log_dir, &key.0, &key.1),
                line,
            ),
        }
    }

    /// The instance's run is over (it rests `waiting` or `failed`): the
    /// daemon's write end goes, and the thread closes the file once every
    /// process of the run has closed its own. No descriptor of the instance
    /// is left in the daemon; every pipe is read to its end, so nothing is
    /// lost between two main processes or after the last.
    pub(super) fn log_close(&mut self, key: &Key) {
        if let Some(hub) = self.logs.as_mut() {
            hub.close(&LogId::new(&key.0, &key.1));
        }
    }

    /// SIGUSR1: every open job log is opened again by its name.
    pub fn reopen_job_logs(&self) {
        if let Some(hub) = &self.logs {
            hub.reopen();
        }
    }
}

impl Supervisor {
    /// Before `gsup reexec`'s exec: stops the log thread and makes every pipe
    /// survive the exec, named in `log-pipes` of the runtime dir (through
    /// its descriptor; without one, the pipes are not named and job output
    /// written across the exec is lost). The descriptors are kept in
    /// `self.handed` until `take_back_logs` (the exec failed).
    pub(super) fn hand_logs_over(&mut self) {
        let Some(hub) = self.logs.take() else {
            return;
        };
        let pipes = hub.export();
        let listed: Vec<HandedPipe> = pipes
            .iter()
            .map(|h| HandedPipe {
                job: h.id.job.clone(),
                instance: h.id.instance.clone(),
                spec: h.spec,
                read: h.read.as_raw_fd(),
                write: h.write.as_ref().map(AsRawFd::as_raw_fd),
            })
            .collect();
        for h in &pipes {
            for fd in std::iter::once(&h.read).chain(h.write.as_ref()) {
                set_cloexec(fd, false);
            }
        }
        let listed = HandedPipes {
            pid: std::process::id() as i32,
            pipes: listed,
        };
        let text = serde_json::to_vec(&listed).unwrap_or_default();
        let written = match self.state_dir.as_ref() {
            Some(dir) => super::saved::write_file_at(dir.as_fd(), HANDOVER_FILE, &text),
            None => Err(std::io::Error::other(
                "the runtime dir is not the daemon's own",
            )),
        };
        if let Err(e) = written {
            warn!("cannot name the log pipes for the new image: {e}; job output may be lost");
        }
        self.handed = pipes;
    }

    /// The exec failed: the log thread starts again on the same pipes.
    pub(super) fn take_back_logs(&mut self) {
        if let Some(dir) = self.state_dir.as_ref() {
            super::saved::remove_file_at(dir.as_fd(), HANDOVER_FILE);
        }
        let pipes = std::mem::take(&mut self.handed);
        for h in &pipes {
            for fd in std::iter::once(&h.read).chain(h.write.as_ref()) {
                set_cloexec(fd, true);
            }
        }
        self.start_logs(pipes);
    }
}

/// The pipes a re-executed daemon's previous image handed over (named in
/// `log-pipes` of the runtime dir `dir`, held open and read without
/// following a link; the file is removed): only descriptors that are open
/// pipes, and only when the file was written by this very process (same pid).
pub fn handed_over(dir: Option<BorrowedFd<'_>>, shown: &Path) -> Vec<Handover> {
    let path = shown.join(HANDOVER_FILE);
    let Some(dir) = dir else {
        return Vec::new();
    };
    let text = match super::saved::read_file_at(dir, HANDOVER_FILE) {
        Ok(Some(text)) => text,
        Ok(None) => return Vec::new(),
        Err(e) => {
            warn!(
                "{}: {e}; the log pipes of the previous image are lost",
                path.display()
            );
            return Vec::new();
        }
    };
    super::saved::remove_file_at(dir, HANDOVER_FILE);
    let listed: HandedPipes = match serde_json::from_slice(&text) {
        Ok(l) => l,
        Err(e) => {
            warn!(
                "{}: {e}; the log pipes of the previous image are lost",
                path.display()
            );
            return Vec::new();
        }
    };
    if listed.pid != std::process::id() as i32 {
        return Vec::new();
    }
    listed
        .pipes
        .into_iter()
        .filter_map(|p| {
            let read = pipe_fd(p.read)?;
            let write = p.write.and_then(pipe_fd);
            Some(Handover {
                id: LogId::new(&p.job, &p.instance),
                spec: p.spec,
                read,
                write,
            })
        })
        .collect()
}

/// `fd` as owned, when it is an open pipe (a FIFO): a number that names
/// anything else is left alone.
fn pipe_fd(fd: i32) -> Option<OwnedFd> {
    if fd <= 2 {
        return None;
    }
    let mut st = std::mem::MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fstat(2) on a number, writing into a buffer of the right type;
    // a number that is not an open descriptor gives EBADF.
    if unsafe { libc::fstat(fd, st.as_mut_ptr()) } != 0 {
        return None;
    }
    // SAFETY: fstat succeeded, so it filled the buffer.
    let st = unsafe { st.assume_init() };
    if st.st_mode & libc::S_IFMT != libc::S_IFIFO {
        warn!("descriptor {fd} handed over as a log pipe is not a pipe; left alone");
        return None;
    }
    // SAFETY: `fd` is open (fstat succeeded), a pipe the previous image left
    // to this one, and nothing else in this process owns it.
    Some(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn set_cloexec(fd: &OwnedFd, on: bool) {
    use nix::fcntl::{FcntlArg, FdFlag, fcntl};
    let flag = if on {
        FdFlag::FD_CLOEXEC
    } else {
        FdFlag::empty()
    };
    let _ = fcntl(fd, FcntlArg::F_SETFD(flag));
}
