//! The one tail reader: where the last N lines of a log file begin, found
//! reading backwards from the end, in time linear in what is printed. Reads only.

use std::fs::File;
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::Path;

/// Bytes read per step backwards.
pub const BLOCK: usize = 64 * 1024;

/// Where the last `n` lines of the first `end` bytes of `file` begin (a
/// last line without a newline counts). Reads backwards one block at a time
/// and stops at the `n`th newline.
pub fn tail_offset(file: &File, end: u64, n: usize) -> io::Result<u64> {
    if n == 0 {
        return Ok(end);
    }
    let mut buf = vec![0u8; BLOCK];
    let mut pos = end;
    let mut seen = 0;
    while pos > 0 {
        let from = pos.saturating_sub(BLOCK as u64);
        let chunk = &mut buf[..(pos - from) as usize];
        file.read_exact_at(chunk, from)?;
        let mut hay = &chunk[..];
        // The newline that ends the file ends the last line; it starts none.
        if pos == end {
            hay = hay.strip_suffix(b"\n").unwrap_or(hay);
        }
        for i in memchr::memrchr_iter(b'\n', hay) {
            seen += 1;
            if seen == n {
                return Ok(from + i as u64 + 1);
            }
        }
        pos = from;
    }
    Ok(0)
}

/// The last `lines` lines of the regular file at `path` (never through a
/// symlink, never blocking on a FIFO), at most `max_bytes` of them: when
/// they are longer, the end of them. A blocking call: off the loop.
pub fn last_lines(path: &Path, lines: usize, max_bytes: u64) -> io::Result<Vec<u8>> {
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK | libc::O_CLOEXEC | libc::O_NOCTTY)
        .open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(io::Error::other("not a regular file"));
    }
    let end = meta.len();
    let from = tail_offset(&file, end, lines)?.max(end.saturating_sub(max_bytes));
    let mut buf = vec![0u8; (end - from) as usize];
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], from + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    buf.truncate(got);
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_lines_of_a_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let p = dir.path().join("x.log");
        std::fs::write(&p, "a\nb\nc\nno newline").expect("write");
        assert_eq!(last_lines(&p, 2, 1000).expect("tail"), b"c\nno newline");
        assert_eq!(
            last_lines(&p, 10, 1000).expect("tail"),
            b"a\nb\nc\nno newline"
        );
        assert_eq!(last_lines(&p, 0, 1000).expect("tail"), b"");
        assert_eq!(last_lines(&p, 10, 3).expect("tail"), b"ine");
        let link = dir.path().join("link.log");
        std::os::unix::fs::symlink(&p, &link).expect("symlink");
        assert!(last_lines(&link, 1, 1000).is_err());
    }
}
