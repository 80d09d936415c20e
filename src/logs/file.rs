//! One job's log file as the rotation rules see it: appending, rotating by
//! renames in its folder, moving a long line. Never reads a pipe or decides when to rotate.

use super::rotate::Out;
use super::safe::{self, OpenLog};
use std::fs::File;
use std::io::{self, IoSlice, Write};
use std::os::fd::AsFd;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use tracing::warn;

/// One open log file, its folder, and how many rotated files to keep.
pub(super) struct LogFile {
    pub(super) open: OpenLog,
    pub(super) keep: u32,
    pub(super) euid: u32,
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
