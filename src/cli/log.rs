//! `gsup log JOB [-n N] [-f]`: asks the daemon where the job's log is, prints
//! its last lines and follows it across rotation. It only reads the file.

use crate::control::client;
use crate::control::proto::Request;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt;
use std::path::Path;
use std::time::Duration;

/// Runs `gsup log`; returns the exit code.
pub fn run(socket: &Path, job: &str, lines: usize, follow: bool) -> i32 {
    let request = Request::LogPath {
        job: job.to_string(),
    };
    let response = match client::call(socket, &request) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gsup: {e}");
            return 1;
        }
    };
    if response.code != 0 {
        let msg = response.error.unwrap_or_else(|| "no log path".into());
        eprintln!("gsup: {msg}");
        return i32::from(response.code);
    }
    let Some(path) = response.log_path else {
        eprintln!("gsup: the daemon knows no log file for {job}");
        return 1;
    };
    let mut out = io::stdout().lock();
    let file = match File::open(&path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound && follow => None,
        Err(e) => {
            eprintln!(
                "gsup: cannot read the log of {job} at {}: {e}",
                path.display()
            );
            return 1;
        }
    };
    if let Some(mut f) = file {
        match last_lines(&mut f, lines) {
            Ok(text) => {
                if out.write_all(&text).and_then(|_| out.flush()).is_err() {
                    return 0;
                }
            }
            Err(e) => {
                eprintln!(
                    "gsup: cannot read the log of {job} at {}: {e}",
                    path.display()
                );
                return 1;
            }
        }
        if follow {
            follow_file(&path, Some(f), &mut out);
        }
    } else {
        follow_file(&path, None, &mut out);
    }
    0
}

/// The last `n` lines of `file` (reading backwards in blocks, so a huge log
/// costs only what is printed); leaves the file positioned at its end.
pub fn last_lines(file: &mut File, n: usize) -> io::Result<Vec<u8>> {
    const BLOCK: u64 = 16 * 1024;
    let end = file.seek(SeekFrom::End(0))?;
    let mut start = end;
    let mut buf: Vec<u8> = Vec::new();
    loop {
        if let Some(i) = tail_start(&buf, n) {
            buf.drain(..i);
            break;
        }
        if start == 0 {
            break;
        }
        let from = start.saturating_sub(BLOCK);
        let mut chunk = vec![0u8; (start - from) as usize];
        file.seek(SeekFrom::Start(from))?;
        file.read_exact(&mut chunk)?;
        chunk.extend_from_slice(&buf);
        buf = chunk;
        start = from;
    }
    file.seek(SeekFrom::Start(end))?;
    Ok(buf)
}

/// Where the last `n` lines of `data` begin, if `data` holds all of them.
fn tail_start(data: &[u8], n: usize) -> Option<usize> {
    if n == 0 {
        return Some(data.len());
    }
    let body = data.strip_suffix(b"\n").unwrap_or(data);
    let mut seen = 0;
    for (i, &b) in body.iter().enumerate().rev() {
        if b == b'\n' {
            seen += 1;
            if seen == n {
                return Some(i + 1);
            }
        }
    }
    None
}

/// Copies what is appended to `path` to `out` until `out` is closed. Reopens
/// the file when its inode changes (rotation) and rewinds when it shrinks.
fn follow_file(path: &Path, mut file: Option<File>, out: &mut dyn Write) {
    let waker = Waker::new(path);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        if let Some(f) = file.as_mut() {
            loop {
                match f.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(k) => {
                        if out.write_all(&buf[..k]).and_then(|_| out.flush()).is_err() {
                            return;
                        }
                    }
                }
            }
        }
        let on_disk = std::fs::metadata(path).ok();
        let current = file.as_ref().and_then(|f| f.metadata().ok());
        match (on_disk, current) {
            (Some(d), Some(c)) if d.ino() != c.ino() || d.dev() != c.dev() => {
                // Rotated: the old file is drained above; read the new one from its start.
                file = File::open(path).ok();
            }
            (Some(d), Some(_)) => {
                if let Some(f) = file.as_mut()
                    && f.stream_position().is_ok_and(|p| d.len() < p)
                {
                    let _ = f.seek(SeekFrom::Start(0));
                }
            }
            (Some(_), None) => file = File::open(path).ok(),
            (None, _) => {}
        }
        waker.wait();
    }
}

/// Wakes the follower when the log's directory changes (inotify), or after
/// a short interval when inotify is unavailable or the directory is missing.
struct Waker {
    inotify: Option<nix::sys::inotify::Inotify>,
}

impl Waker {
    fn new(path: &Path) -> Waker {
        use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify};
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        let inotify = Inotify::init(InitFlags::IN_CLOEXEC | InitFlags::IN_NONBLOCK)
            .ok()
            .filter(|i| {
                let mask = AddWatchFlags::IN_MODIFY
                    | AddWatchFlags::IN_CREATE
                    | AddWatchFlags::IN_MOVED_TO
                    | AddWatchFlags::IN_MOVED_FROM
                    | AddWatchFlags::IN_DELETE
                    | AddWatchFlags::IN_CLOSE_WRITE;
                i.add_watch(dir, mask).is_ok()
            });
        Waker { inotify }
    }

    fn wait(&self) {
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        match &self.inotify {
            Some(ino) => {
                let mut fds = [PollFd::new(ino.as_fd(), PollFlags::POLLIN)];
                // The timeout also covers a directory created after we started.
                let _ = poll(&mut fds, PollTimeout::from(1000u16));
                while matches!(ino.read_events(), Ok(ev) if !ev.is_empty()) {}
            }
            None => std::thread::sleep(Duration::from_millis(250)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tail(text: &str, n: usize) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("l.log");
        std::fs::write(&p, text).expect("write");
        let mut f = File::open(&p).expect("open");
        String::from_utf8(last_lines(&mut f, n).expect("tail")).expect("utf8")
    }

    #[test]
    fn last_lines_exact() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a\nb\nc\n", 10), "a\nb\nc\n");
        assert_eq!(tail("a\nb\nc\n", 0), "");
        assert_eq!(tail("", 3), "");
        let big: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(tail(&big, 3), "line 19997\nline 19998\nline 19999\n");
    }
}
