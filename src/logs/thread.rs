//! The log thread: one `epoll` loop that owns every job's pipe read end and
//! log file, cuts what it reads into lines, writes and rotates. Never touches job state.
//!
//! It reads a pipe only into its one read buffer and writes what it read
//! before reading again, so a job that writes faster than the disk waits on
//! its full pipe; memory is that buffer plus each pipe's carry (see
//! `rotate`). Commands from the [`LogHub`](super::LogHub) come over a channel
//! with an eventfd to wake the loop.

use super::file::LogFile;
use super::rotate::{self, Limits, Out, Source};
use super::safe::{LogDir, OpenLog};
use super::{LogId, LogSpec, stamp};
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::EventFd;
use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender};
use std::time::SystemTime;
use tracing::warn;

/// Bytes read from a pipe at a time.
const READ_BUF: usize = 256 * 1024;
/// The epoll token of the wake-up eventfd.
const WAKE: u64 = u64::MAX;

/// What the hub asks of the thread.
pub(super) enum Cmd {
    /// A new pipe for `id` (its file, when the thread has none yet).
    Open {
        id: LogId,
        spec: LogSpec,
        read: OwnedFd,
        log: Option<OpenLog>,
    },
    Spec {
        id: LogId,
        spec: LogSpec,
    },
    Note {
        id: LogId,
        spec: LogSpec,
        line: String,
    },
    Reopen,
    /// Stop reading; hand every pipe back (for a re-exec).
    Export(Sender<Vec<(LogId, LogSpec, OwnedFd)>>),
    /// Write what the pipes hold now and end.
    Quit,
}

/// One job instance's log: its file and the pipes that feed it.
struct Sink {
    file: LogFile,
    spec: LogSpec,
    pipes: Vec<Pipe>,
}

struct Pipe {
    token: u64,
    fd: OwnedFd,
    src: Source,
}

/// The thread's state.
pub(super) struct Thread {
    dir: Arc<LogDir>,
    epoll: Epoll,
    wake: Arc<EventFd>,
    rx: Receiver<Cmd>,
    sinks: HashMap<LogId, Sink>,
    tokens: HashMap<u64, LogId>,
    next_token: u64,
    buf: Vec<u8>,
    scratch: Vec<u8>,
}

impl Thread {
    /// The thread's state, with the eventfd registered.
    pub(super) fn new(
        dir: Arc<LogDir>,
        wake: Arc<EventFd>,
        rx: Receiver<Cmd>,
    ) -> io::Result<Thread> {
        let epoll = Epoll::new(EpollCreateFlags::EPOLL_CLOEXEC)?;
        epoll.add(wake.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, WAKE))?;
        Ok(Thread {
            dir,
            epoll,
            wake,
            rx,
            sinks: HashMap::new(),
            tokens: HashMap::new(),
            next_token: 0,
            buf: vec![0; READ_BUF],
            scratch: Vec::new(),
        })
    }

    /// The loop. After each wait, commands are carried out before any pipe
    /// is read: a note queued before a process wrote is written before its
    /// output.
    pub(super) fn run(mut self) {
        let mut events = vec![EpollEvent::empty(); 64];
        loop {
            let n = match self.epoll.wait(&mut events, EpollTimeout::NONE) {
                Ok(n) => n,
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    warn!("log thread: epoll_wait: {e}; job logs are no longer read");
                    return;
                }
            };
            // The eventfd is cleared before the channel is read, so a command
            // sent after this point wakes the next wait.
            if events[..n].iter().any(|e| e.data() == WAKE) {
                let _ = self.wake.read();
            }
            while let Ok(cmd) = self.rx.try_recv() {
                if !self.command(cmd) {
                    return;
                }
            }
            for ev in &events[..n] {
                if ev.data() != WAKE {
                    self.read_pipe(ev.data(), None);
                }
            }
        }
    }

    /// Carries out one command; false when the thread must end.
    fn command(&mut self, cmd: Cmd) -> bool {
        match cmd {
            Cmd::Open {
                id,
                spec,
                read,
                log,
            } => self.add_pipe(id, spec, read, log),
            Cmd::Spec { id, spec } => {
                if let Some(s) = self.sinks.get_mut(&id) {
                    s.spec = spec;
                    s.file.keep = spec.keep;
                }
            }
            Cmd::Note { id, spec, line } => self.note(&id, spec, &line),
            Cmd::Reopen => self.reopen(),
            Cmd::Export(reply) => {
                let _ = reply.send(self.export());
                return false;
            }
            Cmd::Quit => {
                let ids: Vec<LogId> = self.sinks.keys().cloned().collect();
                for id in ids {
                    self.drain(&id);
                    self.end_lines(&id);
                }
                return false;
            }
        }
        true
    }

    fn add_pipe(&mut self, id: LogId, spec: LogSpec, read: OwnedFd, log: Option<OpenLog>) {
        let token = self.next_token;
        self.next_token += 1;
        if let Err(e) = self
            .epoll
            .add(read.as_fd(), EpollEvent::new(EpollFlags::EPOLLIN, token))
        {
            warn!(job = %id, "log thread: cannot watch the pipe: {e}; its output is lost");
            return;
        }
        let pipe = Pipe {
            token,
            fd: read,
            src: Source::default(),
        };
        if let Some(sink) = self.sinks.get_mut(&id) {
            sink.spec = spec;
            sink.file.keep = spec.keep;
            sink.pipes.push(pipe);
        } else {
            let open = match log {
                Some(open) => open,
                None => match self.dir.open_log(&id) {
                    Ok(o) => o,
                    Err(e) => {
                        warn!(job = %id, "cannot open the log: {e}");
                        let _ = self.epoll.delete(pipe.fd.as_fd());
                        return;
                    }
                },
            };
            let file = LogFile {
                open,
                keep: spec.keep,
                euid: self.dir.euid(),
            };
            let pipes = vec![pipe];
            self.sinks.insert(id.clone(), Sink { file, spec, pipes });
        }
        self.tokens.insert(token, id);
    }

    /// Reads one buffer from a pipe (at most `limit` bytes) and writes it;
    /// at end of file, ends its last line and drops it. Returns the bytes read.
    fn read_pipe(&mut self, token: u64, limit: Option<usize>) -> usize {
        let Some(id) = self.tokens.get(&token) else {
            return 0;
        };
        let Some(sink) = self.sinks.get_mut(id) else {
            return 0;
        };
        let Some(at) = sink.pipes.iter().position(|p| p.token == token) else {
            return 0;
        };
        let want = limit.unwrap_or(READ_BUF).min(READ_BUF);
        let res = nix::unistd::read(sink.pipes[at].fd.as_fd(), &mut self.buf[..want]);
        let lim = Limits {
            max: sink.spec.max_size,
        };
        match res {
            Ok(0) => {}
            Ok(n) => {
                // Another pipe's half-written line must end before these lines.
                for (i, p) in sink.pipes.iter_mut().enumerate() {
                    if i != at && p.src.is_open() {
                        let _ = rotate::finish(&mut sink.file, lim, &mut p.src);
                    }
                }
                let stamp = prefix(&sink.spec);
                let src = &mut sink.pipes[at].src;
                let data = &self.buf[..n];
                let _ = rotate::feed(&mut sink.file, lim, src, data, &stamp, &mut self.scratch);
                return n;
            }
            Err(Errno::EAGAIN) | Err(Errno::EINTR) => return 0,
            Err(e) => warn!(job = %id, "log pipe: {e}; closing it"),
        }
        // End of file (every writer gone), or a broken pipe.
        let mut pipe = sink.pipes.remove(at);
        let _ = rotate::finish(&mut sink.file, lim, &mut pipe.src);
        let _ = self.epoll.delete(pipe.fd.as_fd());
        let id = id.clone();
        self.tokens.remove(&token);
        if self.sinks.get(&id).is_some_and(|s| s.pipes.is_empty()) {
            self.sinks.remove(&id);
        }
        0
    }

    /// Reads and writes what `id`'s pipes hold right now (not what is
    /// written after), so a note lands after the output before it.
    fn drain(&mut self, id: &LogId) {
        let tokens: Vec<u64> = self
            .sinks
            .get(id)
            .map(|s| s.pipes.iter().map(|p| p.token).collect())
            .unwrap_or_default();
        for token in tokens {
            let mut left = self.pending(id, token);
            while left > 0 {
                let n = self.read_pipe(token, Some(left));
                if n == 0 {
                    break;
                }
                left -= n;
            }
        }
    }

    /// Bytes waiting in one pipe (`FIONREAD`).
    fn pending(&self, id: &LogId, token: u64) -> usize {
        let Some(p) = self
            .sinks
            .get(id)
            .and_then(|s| s.pipes.iter().find(|p| p.token == token))
        else {
            return 0;
        };
        let mut n: libc::c_int = 0;
        // SAFETY: FIONREAD writes one int through a valid pointer.
        let r = unsafe { libc::ioctl(p.fd.as_raw_fd(), libc::FIONREAD, &mut n) };
        if r < 0 { 0 } else { n.max(0) as usize }
    }

    /// Ends every pipe's partial line of `id` with a newline.
    fn end_lines(&mut self, id: &LogId) {
        if let Some(sink) = self.sinks.get_mut(id) {
            let lim = Limits {
                max: sink.spec.max_size,
            };
            for p in &mut sink.pipes {
                let _ = rotate::finish(&mut sink.file, lim, &mut p.src);
            }
        }
    }

    /// Writes one line of gsup's own after what the pipes held.
    fn note(&mut self, id: &LogId, spec: LogSpec, line: &str) {
        self.drain(id);
        self.end_lines(id);
        let line = line.replace('\n', " ");
        if let Some(sink) = self.sinks.get_mut(id) {
            let lim = Limits {
                max: sink.spec.max_size,
            };
            let stamp = prefix(&sink.spec);
            let _ = rotate::write_line(&mut sink.file, lim, &stamp, line.as_bytes());
            return;
        }
        match self.dir.open_log(id) {
            Ok(open) => {
                let mut file = LogFile {
                    open,
                    keep: spec.keep,
                    euid: self.dir.euid(),
                };
                let lim = Limits { max: spec.max_size };
                let _ = rotate::write_line(&mut file, lim, &prefix(&spec), line.as_bytes());
            }
            Err(e) => warn!(job = %id, "cannot write to the log: {e}"),
        }
    }

    /// SIGUSR1: every log file is opened again by its name.
    fn reopen(&mut self) {
        for (id, sink) in &mut self.sinks {
            let lim = Limits {
                max: sink.spec.max_size,
            };
            for p in &mut sink.pipes {
                if p.src.is_open() {
                    let _ = rotate::finish(&mut sink.file, lim, &mut p.src);
                }
            }
            match self.dir.open_log(id) {
                Ok(open) => sink.file.open = open,
                Err(e) => {
                    warn!(job = %id, "cannot reopen the log: {e}; writing on to the old file")
                }
            }
        }
    }

    /// Writes each pipe's carried bytes as they are (the next process reads
    /// the rest of the line) and gives the pipes up.
    fn export(&mut self) -> Vec<(LogId, LogSpec, OwnedFd)> {
        let mut out = Vec::new();
        for (id, mut sink) in self.sinks.drain() {
            for mut p in sink.pipes.drain(..) {
                let carry = p.src.take_carry();
                let _ = sink.file.write(&[&carry]);
                let _ = self.epoll.delete(p.fd.as_fd());
                out.push((id.clone(), sink.spec, p.fd));
            }
        }
        self.tokens.clear();
        out
    }
}

/// The time prefix of lines read now, or nothing.
fn prefix(spec: &LogSpec) -> Vec<u8> {
    if spec.timestamps {
        stamp::line_prefix(SystemTime::now())
    } else {
        Vec::new()
    }
}
