//! Starting a job's process as `posix_spawn` does: the daemon's thread waits
//! while the child, sharing its memory, makes syscalls and execs. No shell, ever.
//!
//! Layout: this file holds the public types and `Spawner::spawn`; `prepare`
//! turns a `SpawnSpec` into ready C strings and descriptors; `child` is the
//! code that runs between clone and exec.
//!
//! The clone is `CLONE_VM | CLONE_VFORK` (with `CLONE_FILES`, see `slots`:
//! nor is the daemon's descriptor table): no page table is copied, and the
//! calling thread is suspended until the child has exec'd or exited, so no
//! child ever runs on the daemon's memory while the daemon runs on (a child
//! that did once shared the daemon's `mm` changed the daemon's own
//! `oom_score_adj`: the kernel applies that write to every process sharing
//! the `mm`, vfork children excepted). A failed spawn: the child writes
//! `(stage, errno)` into the report the daemon gave it, and exits 127; once
//! the daemon resumes it reads the report. The child is never waited for
//! here: the one reaper (`reap::reap_all`) collects it later.

mod child;
mod clone;
mod prepare;
mod slots;

use crate::unit::Rlimit;
use crate::users::Creds;
use std::fmt;
use std::os::fd::RawFd;
use std::path::PathBuf;

pub use prepare::DEFAULT_PATH;

/// Everything needed to start one process, already expanded and resolved:
/// nothing here needs a lookup (users are resolved when units are loaded).
#[derive(Debug, Clone, Default)]
pub struct SpawnSpec {
    /// argv[0] is looked up in the `PATH` of `env` when it has no slash.
    pub argv: Vec<String>,
    /// The complete, clean environment.
    pub env: Vec<(String, String)>,
    /// Credentials to take before exec (`users::resolve`).
    pub creds: Option<Creds>,
    pub chdir: Option<PathBuf>,
    pub umask: Option<u32>,
    pub nice: Option<i32>,
    pub oom_score_adj: Option<i32>,
    pub limits: Vec<Rlimit>,
    pub stdio: Stdio,
    /// A descriptor of a cgroup's `cgroup.procs`, opened for writing: the
    /// child writes `0` into it before exec, so the job runs in that cgroup
    /// from its first instruction. Borrowed: the caller keeps it open.
    pub cgroup_procs: Option<RawFd>,
}

/// Where stdout and stderr go (stdin is always /dev/null).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Stdio {
    /// Appended to this file (created with its parent folders).
    File(PathBuf),
    /// This descriptor (a log pipe's write end), borrowed: the caller keeps it open.
    Fd(RawFd),
    /// The daemon's own stdout/stderr.
    Inherit,
    /// /dev/null.
    #[default]
    Null,
}

/// Why a spawn failed: the stage and the errno.
///
/// Stages before the clone: `argv`, `env`, `log`, `devnull`, `stack`, `fork`.
/// Stages in the child: `sigmask`, `setsid`, `stdio`, `rlimit`, `nice`,
/// `oom_score_adj`, `cgroup`, `setgroups`, `setgid`, `setuid`, `chdir`, `exec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpawnError {
    pub stage: String,
    pub errno: i32,
    /// The child that failed after the clone and exited 127, left to the
    /// reaper; `None` when no child was made.
    pub child: Option<i32>,
}

impl SpawnError {
    /// A failure before the clone (or in a fake `Sys`): no child exists.
    pub fn new(stage: &str, errno: i32) -> SpawnError {
        SpawnError {
            stage: stage.to_string(),
            errno,
            child: None,
        }
    }

    /// True for a shortage that passes (EMFILE, ENFILE, ENOMEM, EAGAIN):
    /// worth another try later rather than failing the job for good.
    pub fn is_transient(&self) -> bool {
        matches!(
            self.errno,
            libc::EMFILE | libc::ENFILE | libc::ENOMEM | libc::EAGAIN
        )
    }
}

impl fmt::Display for SpawnError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}",
            self.stage,
            std::io::Error::from_raw_os_error(self.errno)
        )
    }
}

impl std::error::Error for SpawnError {}

/// Starts processes; owns the child's stack, made once and reused (with
/// `CLONE_VFORK` only one child at a time runs on it), and the descriptor
/// slots the children find their stdio in (`slots`).
#[derive(Debug, Default)]
pub struct Spawner {
    stack: Option<clone::Stack>,
    slots: Option<slots::Slots>,
}

impl Spawner {
    /// A spawner; its stack is mapped and its slots taken at the first spawn
    /// (or at [`Spawner::reserve`]).
    pub fn new() -> Spawner {
        Spawner::default()
    }

    /// Takes the descriptor slots now, on the lowest free numbers: the
    /// daemon calls it at start, before it opens a descriptor per job.
    pub fn reserve(&mut self) -> Result<(), SpawnError> {
        if self.slots.is_none() {
            self.slots = Some(slots::Slots::new()?);
        }
        Ok(())
    }

    /// Clones and execs `spec` in a new session; returns the child's pid
    /// once it has exec'd. Blocks the calling thread only while the child
    /// prepares and execs (as `posix_spawn`), never until the child exits.
    pub fn spawn(&mut self, spec: &SpawnSpec) -> Result<i32, SpawnError> {
        self.reserve()?;
        let Some(slots) = self.slots.as_ref() else {
            return Err(SpawnError::new("devnull", libc::EBADF));
        };
        let dev_null = std::os::fd::AsRawFd::as_raw_fd(&slots.dev_null);
        let mut prepared = prepare::prepare(spec, dev_null)?;
        if self.stack.is_none() {
            self.stack = Some(clone::Stack::new().map_err(|e| SpawnError::new("stack", e))?);
        }
        let Some(stack) = self.stack.as_mut() else {
            return Err(SpawnError::new("stack", libc::ENOMEM));
        };
        let filled = slots.fill(prepared.output, prepared.cgroup_procs);
        let result = filled.and_then(|(output, cgroup)| {
            prepared.output = output;
            prepared.cgroup_procs = cgroup;
            prepared.unshare_below = slots.below;
            clone::clone_and_exec(&prepared, stack)
        });
        slots.clear();
        result
    }
}

/// `Spawner::spawn` with a spawner of its own (tests and one-off callers).
pub fn spawn(spec: &SpawnSpec) -> Result<i32, SpawnError> {
    Spawner::new().spawn(spec)
}
