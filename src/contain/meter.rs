//! One instance's cgroup figures through kept-open files: `memory.current`,
//! `cpu.stat` (and `cgroup.procs` without the first), re-read with `pread`. Reads only.

use super::{dir, files};
use std::fs::File;
use std::os::fd::BorrowedFd;
use std::os::unix::fs::FileExt;
use std::time::Duration;

/// The figure files of one group, held open: a read is one `pread`, not a
/// path lookup, an open, a read and a close (a 1000-job `/metrics` scrape
/// was mostly those; docs/performance.md). A file the kernel does not offer
/// (`memory.current` without the memory controller, a hybrid host) is `None`
/// and costs no descriptor. The files name this very group whatever happens
/// to its name; once it is removed their reads fail.
#[derive(Debug)]
pub struct GroupMeter {
    memory: Option<File>,
    cpu: Option<File>,
    /// `cgroup.procs`, held only without `memory.current`: the caller sums
    /// the memory of the processes it lists.
    procs: Option<File>,
}

/// The most read of `cgroup.procs` (about 8 bytes a process).
const MAX_PROCS_READ: usize = 1 << 20;

impl GroupMeter {
    /// Opens the figure files of the group `dir`.
    pub(super) fn open(dir: BorrowedFd<'_>) -> GroupMeter {
        let memory = dir::open_file(dir, "memory.current", false).ok();
        let procs = match memory {
            Some(_) => None,
            None => dir::open_file(dir, "cgroup.procs", false).ok(),
        };
        GroupMeter {
            memory,
            cpu: dir::open_file(dir, "cpu.stat", false).ok(),
            procs,
        }
    }

    /// How many descriptors it holds (two at most).
    pub fn descriptors(&self) -> usize {
        [&self.memory, &self.cpu, &self.procs]
            .iter()
            .filter(|f| f.is_some())
            .count()
    }

    /// The processes in the group itself (not in groups a job made below
    /// it), when the group has no `memory.current`; `buf` is reused.
    pub fn pids(&self, buf: &mut Vec<u8>) -> Option<Vec<i32>> {
        let f = self.procs.as_ref()?;
        let mut len = 0;
        loop {
            if buf.len() < len + 4096 {
                buf.resize(len + 4096, 0);
            }
            let n = f.read_at(&mut buf[len..len + 4096], len as u64).ok()?;
            len += n;
            if n < 4096 || len >= MAX_PROCS_READ {
                break;
            }
        }
        Some(files::pids(buf.get(..len)?))
    }

    /// Bytes of memory the group uses (`memory.current`); `None` without
    /// the memory controller, where the caller walks `/proc` instead.
    pub fn memory_bytes(&self) -> Option<u64> {
        let mut buf = [0u8; 32];
        let n = dir::reread(self.memory.as_ref()?, &mut buf).ok()?;
        files::number(buf.get(..n)?)
    }

    /// CPU time of every process that ran in the group, the dead included
    /// (`usage_usec` of `cpu.stat`).
    pub fn cpu_usage(&self) -> Option<Duration> {
        let mut buf = [0u8; 1024];
        let n = dir::reread(self.cpu.as_ref()?, &mut buf).ok()?;
        files::cpu_usage_usec(buf.get(..n)?).map(Duration::from_micros)
    }
}
