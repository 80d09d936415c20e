//! `LogHub`: the supervisor's handle on the log thread. Opens a job's log
//! file (synchronously, so a refusal fails the job) and its pipe; never blocks on the thread.
//!
//! The daemon keeps one write end per open instance: hooks and respawns of
//! the instance get dups of it, so they share one pipe and the thread never
//! sees end-of-file between them. `close` drops it; the thread then reads to
//! end-of-file (every process of the run gone) and closes the file.

use super::safe::{LogDir, OpenLog};
use super::thread::{Cmd, Thread};
use super::{LogId, LogSpec};
use nix::fcntl::{FcntlArg, OFlag, fcntl};
use nix::sys::eventfd::{EfdFlags, EventFd};
use std::collections::{HashMap, VecDeque};
use std::io;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc::{self, Sender};
use std::thread::JoinHandle;

/// Pipe buffer asked for (`F_SETPIPE_SZ`): fewer wake-ups of the log thread
/// for a fast writer. Root is not held to `pipe-user-pages-soft`; an
/// unprivileged daemon asks for less.
const PIPE_SIZE_ROOT: i32 = 1 << 20;
const PIPE_SIZE_USER: i32 = 256 << 10;

/// How many closed instances' specs are remembered for late notes.
const CLOSED_SPECS: usize = 1024;

/// One pipe handed from a daemon to the daemon that re-execs in its place.
/// The old daemon clears `FD_CLOEXEC` on both descriptors and passes their
/// numbers (and `id`, `spec`) across `exec`; the new one rebuilds the
/// `OwnedFd`s and gives them to [`LogHub::start_with`].
#[derive(Debug)]
pub struct Handover {
    pub id: LogId,
    pub spec: LogSpec,
    /// The read end the log thread was reading.
    pub read: OwnedFd,
    /// The daemon's write end, while the instance's run was open.
    pub write: Option<OwnedFd>,
}

/// A second open file description of the pipe behind `fd` (through
/// `/proc/self/fd`), non-blocking and close-on-exec; `None` without /proc.
fn nonblocking_twin(fd: &OwnedFd) -> Option<std::fs::File> {
    use std::os::fd::AsRawFd;
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(format!("/proc/self/fd/{}", fd.as_raw_fd()))
        .ok()
}

/// The daemon's side of the log thread: every job's stdout and stderr go
/// through a pipe the thread reads (SPEC: never the file itself).
pub struct LogHub {
    dir: Arc<LogDir>,
    tx: Sender<Cmd>,
    wake: Arc<EventFd>,
    writers: HashMap<LogId, OwnedFd>,
    /// The daemon's own non-blocking way into each open pipe (a second open
    /// file description, so the job's stays blocking), for `note_first`.
    inband: HashMap<LogId, std::fs::File>,
    specs: HashMap<LogId, LogSpec>,
    /// Pipes made by `open_first` that the thread does not read yet.
    pending: HashMap<LogId, (LogSpec, OwnedFd, Option<OpenLog>)>,
    closed: VecDeque<LogId>,
    thread: Option<JoinHandle<()>>,
}

impl LogHub {
    /// Opens `log_dir` safely (creating it) and starts the log thread.
    pub fn start(log_dir: &Path) -> io::Result<LogHub> {
        LogHub::start_with(log_dir, Vec::new())
    }

    /// `start`, taking over pipes a previous daemon handed over.
    pub fn start_with(log_dir: &Path, handovers: Vec<Handover>) -> io::Result<LogHub> {
        let dir = Arc::new(LogDir::open(log_dir).map_err(io::Error::other)?);
        let wake = Arc::new(EventFd::from_value_and_flags(
            0,
            EfdFlags::EFD_CLOEXEC | EfdFlags::EFD_NONBLOCK,
        )?);
        let (tx, rx) = mpsc::channel();
        let state = Thread::new(dir.clone(), wake.clone(), rx)?;
        let thread = std::thread::Builder::new()
            .name("gsup-logs".into())
            .spawn(move || state.run())?;
        let mut hub = LogHub {
            dir,
            tx,
            wake,
            writers: HashMap::new(),
            inband: HashMap::new(),
            specs: HashMap::new(),
            pending: HashMap::new(),
            closed: VecDeque::new(),
            thread: Some(thread),
        };
        for h in handovers {
            hub.adopt(h);
        }
        Ok(hub)
    }

    /// The log dir, as given.
    pub fn log_dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where `id`'s log is.
    pub fn path(&self, id: &LogId) -> PathBuf {
        id.path(self.dir.path())
    }

    /// The write end for a process of `id` (its stdout and stderr),
    /// close-on-exec. The first `open` of a run opens (creates) the log file
    /// now, so that a refusal is this error; later ones, until `close`, are
    /// dups of the same pipe and only apply `spec`.
    pub fn open(&mut self, id: &LogId, spec: LogSpec) -> Result<OwnedFd, String> {
        if let Some(w) = self.writers.get(id) {
            if self.specs.insert(id.clone(), spec) != Some(spec) {
                self.send(Cmd::Spec {
                    id: id.clone(),
                    spec,
                });
            }
            return w.try_clone().map_err(|e| format!("log pipe of {id}: {e}"));
        }
        let (read, write, log) = self.new_pipe(id, spec)?;
        if !self.send(Cmd::Open {
            id: id.clone(),
            spec,
            read,
            log: Some(log),
        }) {
            return Err("the log thread has ended".into());
        }
        Ok(write)
    }

    /// A new pipe for the first process of a run of `id` (a main process),
    /// as `open` but always a fresh pipe (the daemon's end of the previous
    /// one is closed, see `close`), which the thread takes up only at
    /// [`LogHub::release`]: a line given there comes before anything the
    /// process writes, however fast it is.
    pub fn open_first(&mut self, id: &LogId, spec: LogSpec) -> Result<OwnedFd, String> {
        self.close(id);
        let (read, write, log) = self.new_pipe(id, spec)?;
        self.pending.insert(id.clone(), (spec, read, Some(log)));
        Ok(write)
    }

    /// The process of `open_first` was spawned (or not): `line` (`gsup:
    /// started, pid 42`) goes into the log, then the thread reads the pipe.
    pub fn release(&mut self, id: &LogId, line: Option<&str>) {
        if let Some(line) = line {
            self.note(id, line);
        }
        if let Some((spec, read, log)) = self.pending.remove(id) {
            self.send(Cmd::Open {
                id: id.clone(),
                spec,
                read,
                log,
            });
        }
    }

    /// Opens `id`'s log file and a pipe for it (the read end non-blocking,
    /// both close-on-exec); keeps a dup of the write end and a non-blocking
    /// twin, and returns the read end, the write end and the file.
    fn new_pipe(
        &mut self,
        id: &LogId,
        spec: LogSpec,
    ) -> Result<(OwnedFd, OwnedFd, OpenLog), String> {
        let log = self.dir.open_log(id)?;
        let (read, write) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| format!("log pipe of {id}: {e}"))?;
        let size = if nix::unistd::geteuid().is_root() {
            PIPE_SIZE_ROOT
        } else {
            PIPE_SIZE_USER
        };
        // A smaller pipe only costs the thread more wake-ups.
        let _ = fcntl(&read, FcntlArg::F_SETPIPE_SZ(size));
        fcntl(&read, FcntlArg::F_SETFL(OFlag::O_NONBLOCK))
            .map_err(|e| format!("log pipe of {id}: {e}"))?;
        let ours = write
            .try_clone()
            .map_err(|e| format!("log pipe of {id}: {e}"))?;
        if let Some(f) = nonblocking_twin(&ours) {
            self.inband.insert(id.clone(), f);
        }
        self.writers.insert(id.clone(), ours);
        self.remember(id, spec);
        Ok((read, write, log))
    }

    /// A line of gsup's own that must come before anything a process just
    /// spawned into `id`'s pipe writes (`gsup: started, pid 42`): written
    /// into the pipe itself, in one atomic non-blocking write, so it takes
    /// its place among the job's own writes. When the pipe is full (a job
    /// that outruns the disk) or `id` has none, as `note`.
    pub fn note_first(&self, id: &LogId, line: &str) {
        use std::io::Write;
        let mut text = line.replace('\n', " ");
        text.push('\n');
        if text.len() <= libc::PIPE_BUF
            && let Some(mut f) = self.inband.get(id)
            && f.write(text.as_bytes()).is_ok_and(|n| n == text.len())
        {
            return;
        }
        self.note(id, line);
    }

    /// A line of gsup's own in `id`'s log (`gsup: exited 1`), after what the
    /// thread has read from its pipe so far; opens the file when `id` has no
    /// pipe. A newline in `line` becomes a space.
    pub fn note(&self, id: &LogId, line: &str) {
        let spec = self.specs.get(id).copied().unwrap_or_default();
        self.note_with(id, spec, line);
    }

    /// `note`, with the log's settings given (the hub forgets those of
    /// instances long closed).
    pub fn note_with(&self, id: &LogId, spec: LogSpec, line: &str) {
        self.send(Cmd::Note {
            id: id.clone(),
            spec,
            line: line.to_string(),
        });
    }

    /// The run of `id` is over: the daemon drops its write end, and the thread
    /// closes the file once every process of the run has closed its own.
    pub fn close(&mut self, id: &LogId) {
        self.release(id, None);
        self.inband.remove(id);
        if self.writers.remove(id).is_some() {
            self.closed.push_back(id.clone());
            while self.closed.len() > CLOSED_SPECS {
                if let Some(old) = self.closed.pop_front()
                    && !self.writers.contains_key(&old)
                {
                    self.specs.remove(&old);
                }
            }
        }
    }

    /// SIGUSR1: every open log file is opened again by its name (after an
    /// outside `logrotate` moved it).
    pub fn reopen(&self) {
        self.send(Cmd::Reopen);
    }

    /// Stops the thread and hands every pipe over, for a daemon that re-execs
    /// itself. Partial lines held in memory are written first, as they are.
    pub fn export(mut self) -> Vec<Handover> {
        let held: Vec<LogId> = self.pending.keys().cloned().collect();
        for id in held {
            self.release(&id, None);
        }
        let (reply, answer) = mpsc::channel();
        if !self.send(Cmd::Export(reply)) {
            return Vec::new();
        }
        let pipes = answer.recv().unwrap_or_default();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        pipes
            .into_iter()
            .map(|(id, spec, read)| Handover {
                write: self.writers.remove(&id),
                id,
                spec,
                read,
            })
            .collect()
    }

    fn adopt(&mut self, h: Handover) {
        let log = match self.dir.open_log(&h.id) {
            Ok(l) => Some(l),
            Err(e) => {
                tracing::warn!(job = %h.id, "cannot reopen the log after re-exec: {e}");
                None
            }
        };
        let _ = fcntl(&h.read, FcntlArg::F_SETFL(OFlag::O_NONBLOCK));
        for fd in std::iter::once(&h.read).chain(h.write.as_ref()) {
            let _ = fcntl(fd, FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC));
        }
        if let Some(w) = h.write {
            if let Some(f) = nonblocking_twin(&w) {
                self.inband.insert(h.id.clone(), f);
            }
            self.writers.insert(h.id.clone(), w);
        }
        self.remember(&h.id, h.spec);
        self.send(Cmd::Open {
            id: h.id,
            spec: h.spec,
            read: h.read,
            log,
        });
    }

    fn remember(&mut self, id: &LogId, spec: LogSpec) {
        self.specs.insert(id.clone(), spec);
    }

    /// Queues a command and wakes the thread; false when it has ended.
    fn send(&self, cmd: Cmd) -> bool {
        if self.tx.send(cmd).is_err() {
            return false;
        }
        let _ = self.wake.write(1);
        true
    }
}

impl Drop for LogHub {
    /// Drops the write ends, lets the thread write what the pipes hold, and
    /// waits for it.
    fn drop(&mut self) {
        self.writers.clear();
        if let Some(t) = self.thread.take()
            && self.send(Cmd::Quit)
        {
            let _ = t.join();
        }
    }
}
