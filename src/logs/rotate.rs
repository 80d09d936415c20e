//! The line and rotation rules of a job's log: where a chunk read from a
//! pipe is cut into lines, and when the file is rotated. No I/O of its own.
//!
//! The file is rotated before a line would take it past `max_size`; a line
//! longer than `max_size` goes alone into a fresh file. A line is never split
//! between files and never loses a byte. A partial line (no newline yet)
//! waits in a carry of at most [`CARRY_MAX`] bytes; a longer one is written
//! as it comes ("open"), and if it turns out not to fit, the part already
//! written is moved into the fresh file ([`Out::rotate_keeping_tail`]).
//! Memory per pipe is the carry; the effects go through the [`Out`] seam.

use std::io;

/// The longest partial line held in memory per pipe; longer lines are
/// written as they arrive.
pub const CARRY_MAX: usize = 16 * 1024;

/// Batches of time-stamped lines are written when they reach this size.
const SCRATCH_MAX: usize = 256 * 1024;

/// A log file as the rules see it: its size, appending, and rotating.
pub trait Out {
    /// Bytes in the current file.
    fn size(&self) -> u64;
    /// Appends the concatenation of `parts`.
    fn write(&mut self, parts: &[&[u8]]) -> io::Result<()>;
    /// Rotates: the current file becomes `.1` (or is dropped with `keep: 0`),
    /// and an empty one takes its place.
    fn rotate(&mut self) -> io::Result<()>;
    /// Rotates, but the bytes from offset `from` to the end (a line being
    /// written) are moved into the fresh file instead.
    fn rotate_keeping_tail(&mut self, from: u64) -> io::Result<()>;
}

/// What the rules need of a log's `log:` settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// `max_size`; `None`: never rotate.
    pub max: Option<u64>,
}

/// Whether a line of `len` bytes must go into a fresh file: the file has
/// something in it and the line would take it past `max`.
pub fn rotate_before(size: u64, len: u64, max: Option<u64>) -> bool {
    max.is_some_and(|m| size > 0 && (size > m || len > m - size))
}

/// One pipe's partial line.
#[derive(Debug, Default)]
pub struct Source {
    /// The start of a line not yet written (at most [`CARRY_MAX`] bytes).
    carry: Vec<u8>,
    /// The time prefix of the carried line (when it was read).
    stamp: Vec<u8>,
    /// Offset in the current file where this pipe's open (long, partly
    /// written) line began.
    open: Option<u64>,
}

impl Source {
    /// True while a line of this pipe has been begun but not ended.
    pub fn mid_line(&self) -> bool {
        !self.carry.is_empty() || self.open.is_some()
    }

    /// True while part of a line of this pipe is already in the file.
    pub fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// Bytes of partial line held in memory.
    pub fn carried(&self) -> usize {
        self.carry.len()
    }

    /// Gives up the carried bytes (for a handover to another process) and
    /// forgets the open line.
    pub fn take_carry(&mut self) -> Vec<u8> {
        self.open = None;
        self.stamp.clear();
        std::mem::take(&mut self.carry)
    }
}

/// Writes the bytes `data` read from one pipe at the time `stamp` (the
/// prefix of every line that begins in `data`; empty without timestamps).
pub fn feed(
    out: &mut dyn Out,
    lim: Limits,
    src: &mut Source,
    data: &[u8],
    stamp: &[u8],
    scratch: &mut Vec<u8>,
) -> io::Result<()> {
    let mut rest = data;
    if let Some(start) = src.open {
        match memchr::memchr(b'\n', rest) {
            Some(i) => {
                out.write(&[&rest[..=i]])?;
                rest = &rest[i + 1..];
                src.open = None;
                settle_open(out, lim, start)?;
            }
            None => {
                out.write(&[rest])?;
                src.open = Some(settle_open(out, lim, start)?);
                return Ok(());
            }
        }
    }
    if let Some(last) = memchr::memrchr(b'\n', rest) {
        let (lines, tail) = rest.split_at(last + 1);
        let carry = std::mem::take(&mut src.carry);
        let carry_stamp = std::mem::take(&mut src.stamp);
        if stamp.is_empty() {
            plain_lines(out, lim, &carry, lines)?;
        } else {
            let first = if carry.is_empty() {
                stamp
            } else {
                &carry_stamp
            };
            stamped_lines(out, lim, first, &carry, stamp, lines, scratch)?;
        }
        src.carry = reuse(carry);
        src.stamp = carry_stamp;
        src.stamp.clear();
        rest = tail;
    }
    if rest.is_empty() {
        return Ok(());
    }
    if src.carry.is_empty() {
        src.stamp.clear();
        src.stamp.extend_from_slice(stamp);
    }
    if src.carry.len() + rest.len() <= CARRY_MAX {
        src.carry.extend_from_slice(rest);
        return Ok(());
    }
    // Too long to hold: the line is written as it comes.
    let known = (src.stamp.len() + src.carry.len() + rest.len()) as u64;
    if rotate_before(out.size(), known, lim.max) {
        out.rotate()?;
    }
    let start = out.size();
    out.write(&[&src.stamp, &src.carry, rest])?;
    src.carry.clear();
    src.stamp.clear();
    src.open = Some(settle_open(out, lim, start)?);
    Ok(())
}

/// Ends the pipe's partial line with a newline (end of file, a note of
/// gsup's own, another pipe's line, or a reopened file), so that what comes
/// next starts a line.
pub fn finish(out: &mut dyn Out, lim: Limits, src: &mut Source) -> io::Result<()> {
    if let Some(start) = src.open.take() {
        out.write(&[b"\n"])?;
        settle_open(out, lim, start)?;
    } else if !src.carry.is_empty() {
        let len = (src.stamp.len() + src.carry.len() + 1) as u64;
        if rotate_before(out.size(), len, lim.max) {
            out.rotate()?;
        }
        out.write(&[&src.stamp, &src.carry, b"\n"])?;
        src.carry.clear();
        src.stamp.clear();
    }
    Ok(())
}

/// Writes one whole line of gsup's own (`line` without its newline).
pub fn write_line(out: &mut dyn Out, lim: Limits, stamp: &[u8], line: &[u8]) -> io::Result<()> {
    let len = (stamp.len() + line.len() + 1) as u64;
    if rotate_before(out.size(), len, lim.max) {
        out.rotate()?;
    }
    out.write(&[stamp, line, b"\n"])
}

/// An open line that began at `start` has grown: if it no longer fits in a
/// file that held something before it, it moves to a fresh file. Returns
/// where the line now begins.
fn settle_open(out: &mut dyn Out, lim: Limits, start: u64) -> io::Result<u64> {
    match lim.max {
        Some(m) if start > 0 && out.size() > m => {
            out.rotate_keeping_tail(start)?;
            Ok(0)
        }
        _ => Ok(start),
    }
}

/// Whole lines without time prefixes: one write while they fit, and a cut
/// (found with one `memrchr`) where the next line would not.
fn plain_lines(out: &mut dyn Out, lim: Limits, carry: &[u8], lines: &[u8]) -> io::Result<()> {
    let mut head = carry;
    let mut rest = lines;
    while !rest.is_empty() {
        let size = out.size();
        let room = lim.max.map_or(u64::MAX, |m| m.saturating_sub(size));
        let total = (head.len() + rest.len()) as u64;
        if total <= room {
            return out.write(&[head, rest]);
        }
        let fit = (room as usize)
            .checked_sub(head.len())
            .and_then(|r| memchr::memrchr(b'\n', &rest[..r.min(rest.len())]));
        let cut = match fit {
            Some(i) => i + 1,
            None if size > 0 => {
                out.rotate()?;
                continue;
            }
            // An empty file and a first line longer than max_size: it goes alone.
            None => memchr::memchr(b'\n', rest).map_or(rest.len(), |i| i + 1),
        };
        out.write(&[head, &rest[..cut]])?;
        head = &[];
        rest = &rest[cut..];
        if !rest.is_empty() && fit.is_some() {
            out.rotate()?;
        }
    }
    Ok(())
}

/// Whole lines, each with a time prefix: built up in `scratch`, written in
/// batches, rotated between lines.
fn stamped_lines(
    out: &mut dyn Out,
    lim: Limits,
    first_stamp: &[u8],
    carry: &[u8],
    stamp: &[u8],
    lines: &[u8],
    scratch: &mut Vec<u8>,
) -> io::Result<()> {
    scratch.clear();
    let mut begin = 0;
    let mut first = true;
    for end in memchr::memchr_iter(b'\n', lines) {
        let line = &lines[begin..=end];
        begin = end + 1;
        let (pre, head) = if first {
            (first_stamp, carry)
        } else {
            (stamp, &[][..])
        };
        first = false;
        let len = (pre.len() + head.len() + line.len()) as u64;
        if rotate_before(out.size() + scratch.len() as u64, len, lim.max) {
            flush(out, scratch)?;
            out.rotate()?;
        }
        scratch.extend_from_slice(pre);
        scratch.extend_from_slice(head);
        scratch.extend_from_slice(line);
        if scratch.len() >= SCRATCH_MAX {
            flush(out, scratch)?;
        }
    }
    flush(out, scratch)
}

fn flush(out: &mut dyn Out, scratch: &mut Vec<u8>) -> io::Result<()> {
    if !scratch.is_empty() {
        out.write(&[scratch])?;
        scratch.clear();
    }
    Ok(())
}

/// Keeps a carry's allocation unless it grew large.
fn reuse(mut v: Vec<u8>) -> Vec<u8> {
    v.clear();
    if v.capacity() > 4096 { Vec::new() } else { v }
}

#[cfg(test)]
#[path = "rotate_tests.rs"]
mod tests;
