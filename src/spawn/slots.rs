//! Low descriptor numbers, held from the start, where a child finds its stdio and
//! cgroup file, so it can leave the daemon's big descriptor table without copying it.
//!
//! A child cloned without `CLONE_FILES` gets a copy of the daemon's whole
//! table (thousands of log pipes, cgroup folders and `/proc` files with
//! many jobs), and its exec then closes each one: a cost per spawn that
//! grows with the number of jobs. Instead the child shares the table
//! (`CLONE_FILES`) and its first call is `close_range(below, ~0,
//! CLOSE_RANGE_UNSHARE)` (Linux 5.9+): a private table holding only the
//! descriptors under `below`, copied. Before the clone the daemon puts what
//! the child needs into these slots with `dup3`; after it, the slots hold
//! `/dev/null` again, so no job's file is kept open by them. Other threads
//! never take a slot's number: it is always open.

use super::SpawnError;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

/// The children's `/dev/null` and the two slots, all close-on-exec.
#[derive(Debug)]
pub(super) struct Slots {
    /// The children's stdin (and stdout for `Stdio::Null`).
    pub dev_null: OwnedFd,
    output: OwnedFd,
    cgroup: OwnedFd,
    /// One past the highest slot: what a child keeps when it unshares;
    /// `None` when the kernel has no `close_range` (the child then gets a
    /// copy of the whole table at the clone, as before).
    pub below: Option<u32>,
}

impl Slots {
    /// Opens `/dev/null` above fd 2 and takes two more numbers next to it
    /// (the lowest free ones: call it early, before the daemon opens many).
    pub fn new() -> Result<Slots, SpawnError> {
        let dev_null = super::prepare::open_dev_null()?;
        let dev_null =
            super::prepare::above_stdio(dev_null).map_err(|e| SpawnError::new("devnull", e))?;
        let output = dup_above(&dev_null)?;
        let cgroup = dup_above(&dev_null)?;
        let top = [&dev_null, &output, &cgroup]
            .iter()
            .map(|f| f.as_raw_fd())
            .max()
            .unwrap_or(2);
        let below = (close_range_works())
            .then(|| u32::try_from(top + 1).ok())
            .flatten();
        Ok(Slots {
            dev_null,
            output,
            cgroup,
            below,
        })
    }

    /// Puts `output` and `cgroup` (the child's stdout and its
    /// `cgroup.procs`) in the slots; returns the numbers the child is to use.
    /// Without `close_range` the descriptors are used where they are.
    pub fn fill(
        &self,
        output: Option<RawFd>,
        cgroup: Option<RawFd>,
    ) -> Result<(Option<RawFd>, Option<RawFd>), SpawnError> {
        if self.below.is_none() {
            return Ok((output, cgroup));
        }
        let put = |fd: Option<RawFd>, slot: &OwnedFd| -> Result<Option<RawFd>, SpawnError> {
            match fd {
                None => Ok(None),
                Some(fd) if fd == self.dev_null.as_raw_fd() => Ok(Some(fd)),
                Some(fd) => {
                    dup3(fd, slot.as_raw_fd()).map_err(|e| SpawnError::new("stdio", e))?;
                    Ok(Some(slot.as_raw_fd()))
                }
            }
        };
        Ok((put(output, &self.output)?, put(cgroup, &self.cgroup)?))
    }

    /// The slots hold `/dev/null` again (after the child exec'd or failed).
    pub fn clear(&self) {
        if self.below.is_some() {
            for slot in [&self.output, &self.cgroup] {
                let _ = dup3(self.dev_null.as_raw_fd(), slot.as_raw_fd());
            }
        }
    }
}

/// A close-on-exec copy of `fd` on the lowest free number above 2.
fn dup_above(fd: &OwnedFd) -> Result<OwnedFd, SpawnError> {
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor we own.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(SpawnError::new("devnull", super::clone::last_errno()));
    }
    // SAFETY: fcntl just returned this fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}

/// `dup3(from, to, O_CLOEXEC)`: `to` names `from`'s file, atomically.
fn dup3(from: RawFd, to: RawFd) -> Result<(), i32> {
    // SAFETY: both are open descriptors; `to` is a slot we own.
    if unsafe { libc::dup3(from, to, libc::O_CLOEXEC) } < 0 {
        return Err(super::clone::last_errno());
    }
    Ok(())
}

/// Whether the kernel has `close_range` (5.9+, with `CLOSE_RANGE_UNSHARE`
/// from the start): an empty range, which closes nothing. Never called with
/// `CLOSE_RANGE_UNSHARE` here: in the daemon it would split its threads'
/// tables.
fn close_range_works() -> bool {
    let top = libc::c_uint::MAX;
    // SAFETY: closes nothing (an empty range past every descriptor).
    unsafe { libc::syscall(libc::SYS_close_range, top, top, 0 as libc::c_uint) == 0 }
}
