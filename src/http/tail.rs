//! The last lines of a log file, read backwards from its end, bounded in
//! lines and bytes. Never follows a symlink, never blocks on a FIFO.
//!
//! TO BE REPLACED at merge by the tail reader of `crate::logs` (written on
//! another branch); `routes` calls only [`tail`], so the swap is one line.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// Bytes read per step backwards.
const CHUNK: u64 = 8192;

/// The last `lines` lines of the file at `path`, reading at most `max_bytes`
/// from its end (a first line cut by that bound is dropped). A blocking
/// call: run it with `spawn_blocking`.
pub fn tail(path: &Path, lines: usize, max_bytes: u64) -> io::Result<Vec<u8>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    let end = meta.len();
    let floor = end.saturating_sub(max_bytes);
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    let mut newlines = 0;
    let mut pos = end;
    while pos > floor && newlines <= lines {
        let n = CHUNK.min(pos - floor);
        pos -= n;
        let chunk = read_at(&file, pos, n as usize)?;
        newlines += chunk.iter().filter(|&&b| b == b'\n').count();
        chunks.push(chunk);
    }
    chunks.reverse();
    let buf = chunks.concat();
    Ok(last_lines(&buf, lines, pos == 0).to_vec())
}

/// Reads up to `len` bytes at `offset`; fewer when the file shrank meanwhile.
fn read_at(file: &File, offset: u64, len: usize) -> io::Result<Vec<u8>> {
    let mut buf = vec![0; len];
    let mut got = 0;
    while got < len {
        match file.read_at(&mut buf[got..], offset + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

/// The last `lines` lines of `buf`. `whole`: `buf` starts at the file's
/// start; otherwise its first line may be cut and is dropped unless it is
/// all there is to show.
pub fn last_lines(buf: &[u8], lines: usize, whole: bool) -> &[u8] {
    if lines == 0 {
        return &[];
    }
    let body = buf.strip_suffix(b"\n").unwrap_or(buf);
    let mut seen = 0;
    for (i, &b) in body.iter().enumerate().rev() {
        if b == b'\n' {
            seen += 1;
            if seen == lines {
                return &buf[i + 1..];
            }
        }
    }
    if whole {
        return buf;
    }
    match body.iter().position(|&b| b == b'\n') {
        Some(i) => &buf[i + 1..],
        None => buf,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_counts_from_the_end() {
        let text = b"a\nb\nc\nd\n";
        assert_eq!(last_lines(text, 2, true), b"c\nd\n");
        assert_eq!(last_lines(text, 10, true), text);
        assert_eq!(last_lines(b"a\nb\nc", 2, true), b"b\nc");
        assert_eq!(last_lines(text, 0, true), b"");
        // A cut first line is dropped when more lines were asked than read.
        assert_eq!(last_lines(b"lf\nb\nc\n", 10, false), b"b\nc\n");
    }

    #[test]
    fn reads_a_large_file_backwards_within_the_bound() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("job.log");
        let text: String = (0..20_000).map(|i| format!("line {i}\n")).collect();
        std::fs::write(&path, &text).expect("write");
        let got = tail(&path, 3, 1 << 20).expect("tail");
        assert_eq!(got, b"line 19997\nline 19998\nline 19999\n");
        let got = tail(&path, 100_000, 100).expect("tail");
        assert!(got.len() <= 100, "{}", got.len());
        assert!(got.starts_with(b"line ") && got.ends_with(b"line 19999\n"));
    }

    #[test]
    fn refuses_symlinks_and_fifos() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = dir.path().join("secret");
        std::fs::write(&target, "x\n").expect("write");
        let link = dir.path().join("job.log");
        std::os::unix::fs::symlink(&target, &link).expect("symlink");
        assert!(tail(&link, 5, 1000).is_err());
        let fifo = dir.path().join("fifo.log");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::from_bits_truncate(0o600))
            .expect("mkfifo");
        assert!(tail(&fifo, 5, 1000).is_err());
    }
}
