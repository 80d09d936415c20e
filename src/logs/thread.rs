//! The log thread: one `epoll` loop that owns every job's pipe read end and
//! log file, cuts what it reads into lines, writes and rotates. Never touches job state.
//!
//! It reads a pipe only into its one read buffer and writes what it read
//! before reading again, so a job that writes faster than the disk waits on
//! its full pipe; memory is that buffer plus each pipe's carry (see
//! `rotate`). Commands from the [`LogHub`](super::LogHub) come over a channel
//! with an eventfd to wake the loop.

use super::rotate::{self, Limits, Out, Source};
use super::safe::{self, LogDir, OpenLog};
use super::{LogId, LogSpec, stamp};
use nix::errno::Errno;
use nix::sys::epoll::{Epoll, EpollCreateFlags, EpollEvent, EpollFlags, EpollTimeout};
use nix::sys::eventfd::EventFd;
use std::collections::HashMap;
use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
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

/// One log file, as the rotation rules see it.
struct LogFile {
    open: OpenLog,
    keep: u32,
    euid: u32,
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

impl LogFile {
    fn shown(&self) -> &PathBuf {
        &self.open.path
    }

    /// `NAME.k` for rotated file `k`.
    fn rotated(&self, k: u32) -> String {
        format!("{}.{k}", self.open.name)
    }

    /// Shifts `NAME.1..KEEP-1` up by one and moves `NAME` to `NAME.1`
    /// (removes it with `keep: 0`). False when the current file stayed.
    fn shift(&self) -> bool {
        let dir = self.open.folder.as_fd();
        for k in (1..self.keep).rev() {
            if let Err(e) = safe::rename_in(dir, &self.rotated(k), &self.rotated(k + 1)) {
                warn!("{}: rotating .{k}: {e}", self.shown().display());
            }
        }
        let res = if self.keep == 0 {
            safe::unlink_in(dir, &self.open.name)
        } else {
            safe::rename_in(dir, &self.open.name, &self.rotated(1))
        };
        match res {
            Ok(()) => true,
            Err(e) => {
                warn!("{}: cannot rotate: {e}; writing on", self.shown().display());
                false
            }
        }
    }

    /// A fresh empty file under the log's name.
    fn fresh(&mut self) -> bool {
        let dir = self.open.folder.as_fd();
        match safe::open_file(dir, &self.open.name, &self.open.path, self.euid, true) {
            Ok((file, size)) => {
                self.open.file = file;
                self.open.size = size;
                true
            }
            Err(e) => {
                warn!(
                    "cannot open a fresh log after rotating: {e}; writing on to the rotated file"
                );
                false
            }
        }
    }
}

impl Out for LogFile {
    fn size(&self) -> u64 {
        self.open.size
    }

    fn write(&mut self, parts: &[&[u8]]) -> io::Result<()> {
        let mut slices: Vec<IoSlice<'_>> = parts
            .iter()
            .filter(|p| !p.is_empty())
            .map(|p| IoSlice::new(p))
            .collect();
        let mut bufs = &mut slices[..];
        while !bufs.is_empty() {
            match self.open.file.write_vectored(bufs) {
                Ok(0) => break,
                Ok(n) => {
                    self.open.size += n as u64;
                    IoSlice::advance_slices(&mut bufs, n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let lost: usize = bufs.iter().map(|b| b.len()).sum();
                    warn!("{}: {e}; {lost} bytes of log lost", self.shown().display());
                    break;
                }
            }
        }
        Ok(())
    }

    fn rotate(&mut self) -> io::Result<()> {
        if self.shift() {
            self.fresh();
        }
        Ok(())
    }

    fn rotate_keeping_tail(&mut self, from: u64) -> io::Result<()> {
        let tail_name = format!(".{}.tail", self.open.name);
        let dir = self.open.folder.as_fd();
        let _ = safe::unlink_in(dir, &tail_name);
        let shown = self.open.path.with_file_name(&tail_name);
        let (mut tail, _) = match safe::open_file(dir, &tail_name, &shown, self.euid, true) {
            Ok(t) => t,
            Err(e) => {
                warn!("cannot move a long line to a fresh log: {e}; it stays where it began");
                return Ok(());
            }
        };
        if let Err(e) = copy_range(&self.open.file, &mut tail, from, self.open.size) {
            warn!(
                "{}: {e}; the long line stays where it began",
                shown.display()
            );
            let _ = safe::unlink_in(dir, &tail_name);
            return Ok(());
        }
        if !self.shift() {
            let _ = safe::unlink_in(dir, &tail_name);
            return Ok(());
        }
        // The rotated file ends where the line began; the line goes on in the fresh one.
        let _ = self.open.file.set_len(from);
        if let Err(e) = safe::rename_in(dir, &tail_name, &self.open.name) {
            warn!("{}: {e}", shown.display());
        }
        self.open.size -= from;
        self.open.file = tail;
        Ok(())
    }
}

/// Copies bytes `from..to` of `src` to the end of `dst`.
fn copy_range(src: &File, dst: &mut File, mut from: u64, to: u64) -> io::Result<()> {
    let mut buf = vec![0u8; 64 * 1024];
    while from < to {
        let want = ((to - from) as usize).min(buf.len());
        let n = src.read_at(&mut buf[..want], from)?;
        if n == 0 {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, "log shrank"));
        }
        dst.write_all(&buf[..n])?;
        from += n as u64;
    }
    Ok(())
}
