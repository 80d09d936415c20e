//! `gsup log JOB [KEY=VALUE]... [-n N] [-f]` and `gsup log --daemon`: asks
//! the daemon where the log is (or for its own recent lines) and prints; it only reads.
//!
//! The tail is found by reading backwards from the end of the file one block
//! at a time, then copied out in blocks: time is linear in what is printed
//! and memory is two blocks, however long a line is. `-f` follows the path
//! across rotation (a new file under the name: the old one is read to its
//! end first) and truncation (read again from the start).

use crate::control::client;
use crate::control::proto::{Request, Response};
use std::fs::File;
use std::io::{self, Write};
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::Path;
use std::time::Duration;

/// Bytes read at a time, backwards for the tail and forwards for the copy.
use crate::logs::tail::BLOCK;

/// How often `gsup log --daemon -f` asks the daemon for new lines.
const DAEMON_POLL: Duration = Duration::from_millis(250);

/// Runs `gsup log JOB`; returns the exit code.
pub fn run(socket: &Path, job: &str, env: &[(String, String)], lines: usize, follow: bool) -> i32 {
    let request = Request::LogPath {
        job: job.to_string(),
        env: env.to_vec(),
    };
    let response = match ask(socket, &request) {
        Ok(r) => r,
        Err(code) => return code,
    };
    let Some(path) = response.log_path else {
        eprintln!("gsup: the daemon knows no log file for {job}");
        return 1;
    };
    let mut out = io::stdout().lock();
    let cannot = |e: io::Error| {
        eprintln!(
            "gsup: cannot read the log of {job} at {}: {e}",
            path.display()
        );
        1
    };
    let file = match File::open(&path) {
        Ok(f) => Some(f),
        Err(e) if e.kind() == io::ErrorKind::NotFound && follow => None,
        Err(e) => return cannot(e),
    };
    let mut at = 0;
    if let Some(f) = &file {
        match print_tail(f, lines, &mut out) {
            Ok(Some(end)) => at = end,
            Ok(None) => return 0,
            Err(e) => return cannot(e),
        }
    }
    if follow {
        follow_file(&path, file, at, &mut out);
    }
    0
}

/// Runs `gsup log --daemon`; returns the exit code.
pub fn run_daemon(socket: &Path, lines: usize, follow: bool) -> i32 {
    let mut since = None;
    let mut want = lines;
    let mut out = io::stdout().lock();
    loop {
        let request = Request::DaemonLog { since, lines: want };
        let response = match ask(socket, &request) {
            Ok(r) => r,
            Err(code) => return code,
        };
        for line in &response.lines {
            if writeln!(out, "{line}").is_err() {
                return 0;
            }
        }
        if out.flush().is_err() || !follow {
            return 0;
        }
        since = response.last_seq.or(since);
        want = usize::MAX;
        std::thread::sleep(DAEMON_POLL);
    }
}

/// One request; an unreachable daemon or an error answer is printed and
/// becomes the exit code.
fn ask(socket: &Path, request: &Request) -> Result<Response, i32> {
    match client::call(socket, request) {
        Ok(r) if r.code == 0 => Ok(r),
        Ok(r) => {
            let msg = r.error.unwrap_or_else(|| "the daemon refused".into());
            eprintln!("gsup: {msg}");
            Err(i32::from(r.code))
        }
        Err(e) => {
            eprintln!("gsup: {e}");
            Err(1)
        }
    }
}

/// Prints the last `n` lines of `file`; returns the offset it stopped at,
/// or `None` when `out` is closed.
pub fn print_tail(file: &File, n: usize, out: &mut dyn Write) -> io::Result<Option<u64>> {
    let end = file.metadata()?.len();
    let from = tail_offset(file, end, n)?;
    Ok(copy_out(file, from, end, out)?.then_some(end))
}

pub use crate::logs::tail::tail_offset;

/// Copies bytes `from..to` of `file` to `out`; false when `out` is closed.
fn copy_out(file: &File, mut from: u64, to: u64, out: &mut dyn Write) -> io::Result<bool> {
    let mut buf = vec![0u8; BLOCK];
    while from < to {
        let want = ((to - from) as usize).min(BLOCK);
        let n = file.read_at(&mut buf[..want], from)?;
        if n == 0 {
            break;
        }
        if out.write_all(&buf[..n]).is_err() {
            return Ok(false);
        }
        from += n as u64;
    }
    Ok(out.flush().is_ok())
}

/// Copies what is appended to `path` to `out`, from offset `at` of `file`,
/// until `out` is closed. A new file under the name (rotation): the old one
/// is read to its end, then the new one from its start. A file shorter than
/// `at` (truncated): read again from its start.
fn follow_file(path: &Path, mut file: Option<File>, mut at: u64, out: &mut dyn Write) {
    let waker = Waker::new(path);
    loop {
        if let Some(f) = &file {
            match drain(f, &mut at, out) {
                Ok(true) => {}
                _ => return,
            }
        }
        let on_disk = std::fs::metadata(path).ok();
        let current = file.as_ref().and_then(|f| f.metadata().ok());
        match (on_disk, current) {
            (Some(d), Some(c)) if d.ino() != c.ino() || d.dev() != c.dev() => {
                // Rotated: what was written to the old file before the rename is read first,
                // then every file rotated after it (several rotations may pass between two
                // wake-ups), then the current one. An old file shorter than what was read
                // of it was truncated (copytruncate) and written again before the rename:
                // all of it is new.
                if c.len() < at {
                    at = 0;
                }
                if let Some(f) = &file
                    && !matches!(drain(f, &mut at, out), Ok(true))
                {
                    return;
                }
                if !copy_newer_rotations(path, (c.dev(), c.ino()), out) {
                    return;
                }
                file = File::open(path).ok();
                at = 0;
                continue;
            }
            (Some(_), Some(c)) if c.len() < at => at = 0,
            (Some(_), None) => {
                file = File::open(path).ok();
                at = 0;
                continue;
            }
            _ => {}
        }
        waker.wait();
    }
}

/// After the file `old` (device, inode) was rotated away: copies whole each
/// of `PATH.N`..`PATH.1` that was rotated after it (those before `old`'s own
/// number, or all of them when `old` is gone); false when `out` is closed.
fn copy_newer_rotations(path: &Path, old: (u64, u64), out: &mut dyn Write) -> bool {
    let rotated = |n: usize| {
        let mut p = path.as_os_str().to_owned();
        p.push(format!(".{n}"));
        std::path::PathBuf::from(p)
    };
    let mut newer = Vec::new();
    for n in 1.. {
        let Ok(meta) = std::fs::metadata(rotated(n)) else {
            break;
        };
        if (meta.dev(), meta.ino()) == old {
            break;
        }
        newer.push(n);
    }
    for n in newer.into_iter().rev() {
        if let Ok(f) = File::open(rotated(n)) {
            let end = f.metadata().map(|m| m.len()).unwrap_or(0);
            if !matches!(copy_out(&f, 0, end, out), Ok(true)) {
                return false;
            }
        }
    }
    true
}

/// Copies `file` from `at` to its current end; false when `out` is closed.
fn drain(file: &File, at: &mut u64, out: &mut dyn Write) -> io::Result<bool> {
    let end = file.metadata()?.len();
    if end <= *at {
        return Ok(true);
    }
    let open = copy_out(file, *at, end, out)?;
    *at = end;
    Ok(open)
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
        let f = File::open(&p).expect("open");
        let mut out = Vec::new();
        print_tail(&f, n, &mut out).expect("tail");
        String::from_utf8(out).expect("utf8")
    }

    #[test]
    fn last_lines_exact() {
        assert_eq!(tail("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(tail("a\nb\nc", 2), "b\nc");
        assert_eq!(tail("a\nb\nc\n", 10), "a\nb\nc\n");
        assert_eq!(tail("a\nb\nc\n", 0), "");
        assert_eq!(tail("", 3), "");
        assert_eq!(tail("\n\n", 1), "\n");
        assert_eq!(tail("\n\n", 5), "\n\n");
        let big: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        assert_eq!(tail(&big, 3), "line 19997\nline 19998\nline 19999\n");
    }

    #[test]
    fn lines_across_block_boundaries() {
        let long = "x".repeat(BLOCK * 2 + 7);
        let text = format!("a\n{long}\nb\n");
        assert_eq!(tail(&text, 2), format!("{long}\nb\n"));
        assert_eq!(tail(&text, 3), text);
        let no_nl = "y".repeat(BLOCK * 3 + 1);
        assert_eq!(tail(&no_nl, 1), no_nl);
    }
}
