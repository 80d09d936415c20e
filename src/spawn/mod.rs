//! Starting a job's process: everything that allocates or looks up happens
//! here before the clone; the child makes only raw syscalls, then exec. No shell, ever.
//!
//! Layout: this file holds the public types, `spawn` and `start`; `prepare`
//! turns a `SpawnSpec` into ready C strings, ids and file descriptors; `child`
//! is the code that runs between clone and exec, on `raw` syscalls.
//!
//! A failed spawn: the child writes `(stage, errno)` into a close-on-exec pipe
//! and exits 127. `spawn` (or `Started::wait`) returns `Err` with that
//! stage and errno and never waits for the child: the one reaper
//! (`reap::reap_all`) collects it later as `Exit::Code(127)` for a pid the
//! supervisor never recorded, which it ignores. A caller that wants that pid
//! uses `start`: `Started::pid` is known before `wait` reports the failure.
//! An `Err` from `start` itself (or a pre-clone stage from `spawn`) left no child.

mod child;
mod prepare;
mod raw;

use crate::unit::{Rlimit, UserSpec};
use std::fmt;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::PathBuf;

pub use prepare::DEFAULT_PATH;

/// Everything needed to start one process, already expanded.
#[derive(Debug, Clone, Default)]
pub struct SpawnSpec {
    /// argv[0] is looked up in the `PATH` of `env` when it has no slash.
    pub argv: Vec<String>,
    /// The complete, clean environment.
    pub env: Vec<(String, String)>,
    pub user: Option<UserSpec>,
    pub group: Option<UserSpec>,
    pub chdir: Option<PathBuf>,
    pub umask: Option<u32>,
    pub nice: Option<i32>,
    pub oom_score_adj: Option<i32>,
    pub limits: Vec<Rlimit>,
    pub stdio: Stdio,
}

/// Where stdout and stderr go (stdin is always /dev/null).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Stdio {
    /// Appended to this file (created with its parent folders).
    File(PathBuf),
    /// The daemon's own stdout/stderr.
    Inherit,
    /// /dev/null.
    #[default]
    Null,
}

/// Why a spawn failed: the stage (`fork`, `setuid`, `chdir`, `exec`, ...)
/// and the errno, reported through a close-on-exec pipe.
///
/// Stages before fork: `argv`, `env`, `user`, `group`, `groups`, `log`,
/// `devnull`, `pipe`, `fork`. Stages in the child: `sigmask`, `setsid`,
/// `stdio`, `rlimit`, `nice`, `oom_score_adj`, `setgroups`, `setgid`,
/// `setuid`, `chdir`, `exec`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpawnError {
    pub stage: String,
    pub errno: i32,
}

impl SpawnError {
    /// A failure before fork (or in a fake `Sys`): no child exists.
    pub fn new(stage: &str, errno: i32) -> SpawnError {
        SpawnError {
            stage: stage.to_string(),
            errno,
        }
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

/// Forks and execs `spec`; returns the child's pid once exec succeeded.
///
/// Blocks only until the child has exec'd or failed (the error pipe's EOF or
/// its 8 bytes), never until the child exits. Never waits for the child.
///
/// Uses `clone(CLONE_VM | CLONE_VFORK)` as glibc's posix_spawn does: no page
/// table copy and no copy-on-write faults in the daemon, and the daemon is
/// suspended only until the child's exec (or `_exit`). See docs/performance.md.
pub fn spawn(spec: &SpawnSpec) -> Result<i32, SpawnError> {
    let mut prepared = prepare::prepare(spec)?;
    let Some(stack) = ChildStack::new() else {
        return start_prepared(prepared)?.wait();
    };
    let (read_end, write_end) = error_pipe()?;
    let fds = prepared.take_fds();
    let args = Box::new(ChildArgs {
        prepared,
        err_fd: write_end.as_raw_fd(),
    });
    // SAFETY: CLONE_VFORK suspends us until the child has exec'd or exited,
    // so `args` and `stack` outlive its use of them.
    let pid = unsafe { clone_child(&args, &stack, libc::CLONE_VFORK) };
    drop(fds);
    drop(write_end);
    drop(stack);
    drop(args);
    Started {
        pid: pid?,
        report: read_end,
        in_flight: None,
    }
    .wait()
}

/// What the child needs, passed by pointer through clone. Boxed, so that it
/// stays in place while the daemon moves the `Started` that owns it.
struct ChildArgs {
    prepared: prepare::Prepared,
    err_fd: libc::c_int,
}

/// Clones a child that shares our memory and runs `child::run(args)` on
/// `stack`, with every signal blocked around the clone (no daemon handler
/// may run in the child before it resets the dispositions).
///
/// # Safety
/// `args` and `stack` must stay alive and unchanged until the child has
/// exec'd or exited (its report pipe's EOF), or `extra` holds CLONE_VFORK.
unsafe fn clone_child(
    args: &ChildArgs,
    stack: &ChildStack,
    extra: libc::c_int,
) -> Result<i32, SpawnError> {
    let old = block_all_signals();
    // SAFETY: the child runs `child_entry` on its own stack and only raw
    // syscalls on `args` (see the caller's contract), ending in execve or exit.
    let pid = unsafe {
        libc::clone(
            child_entry,
            stack.top(),
            libc::CLONE_VM | extra | libc::SIGCHLD,
            (args as *const ChildArgs).cast_mut().cast(),
        )
    };
    let clone_errno = last_errno();
    restore_signals(&old);
    if pid < 0 {
        return Err(SpawnError::new("fork", clone_errno));
    }
    Ok(pid)
}

/// The `CLONE_VM` child's first frame.
extern "C" fn child_entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` points at the parent's `ChildArgs`, alive until the child
    // has exec'd or exited (`clone_child`'s contract); `run` never returns.
    unsafe {
        let arg = &*(arg as *const ChildArgs);
        child::run(&arg.prepared, arg.err_fd)
    }
}

/// The `CLONE_VM` child's stack: 256 KiB mapped with a guard page below,
/// far more than `child::run` uses; unmapped once the child has exec'd.
#[derive(Debug)]
struct ChildStack {
    base: *mut libc::c_void,
    len: usize,
}

impl ChildStack {
    const LEN: usize = 256 * 1024;
    const GUARD: usize = 4096;

    fn new() -> Option<ChildStack> {
        // SAFETY: a fresh anonymous private mapping, owned by the result.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                Self::LEN,
                libc::PROT_READ | libc::PROT_WRITE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_STACK,
                -1,
                0,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        let stack = ChildStack {
            base,
            len: Self::LEN,
        };
        // SAFETY: the lowest page of our own mapping becomes the guard.
        if unsafe { libc::mprotect(base, Self::GUARD, libc::PROT_NONE) } != 0 {
            return None;
        }
        Some(stack)
    }

    /// The initial stack pointer: the mapping's end, 16-byte aligned.
    fn top(&self) -> *mut libc::c_void {
        // SAFETY: one past the end of our mapping; the stack grows down.
        unsafe { self.base.cast::<u8>().add(self.len).cast() }
    }
}

impl Drop for ChildStack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` made.
        unsafe {
            libc::munmap(self.base, self.len);
        }
    }
}

/// Blocks every signal in this thread (so no daemon handler runs in the
/// child before it resets the dispositions); returns the old mask.
fn block_all_signals() -> libc::sigset_t {
    // SAFETY: plain sigset manipulation on local, initialised storage.
    unsafe {
        let mut all: libc::sigset_t = std::mem::zeroed();
        let mut old: libc::sigset_t = std::mem::zeroed();
        libc::sigfillset(&mut all);
        libc::pthread_sigmask(libc::SIG_SETMASK, &all, &mut old);
        old
    }
}

/// Restores the mask `block_all_signals` saved.
fn restore_signals(old: &libc::sigset_t) {
    // SAFETY: `old` came from pthread_sigmask.
    unsafe {
        libc::pthread_sigmask(libc::SIG_SETMASK, old, std::ptr::null_mut());
    }
}

/// A child whose exec has not been confirmed yet: the pid, the read end of
/// its report pipe, and (when it shares our memory) what it still reads.
///
/// Why: waiting for each exec before the next clone serialises a cold start
/// on the scheduler (see docs/performance.md); a supervisor starting many
/// jobs can start them all with `start`, then collect each outcome with
/// `wait`.
#[derive(Debug)]
pub struct Started {
    pub pid: i32,
    report: OwnedFd,
    /// The child's arguments and stack, freed only after the pipe's EOF.
    in_flight: Option<InFlight>,
}

/// The memory a running `CLONE_VM` child may still read and write.
struct InFlight {
    _args: Box<ChildArgs>,
    _stack: ChildStack,
}

impl fmt::Debug for InFlight {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("InFlight")
    }
}

impl Started {
    /// Blocks until exec succeeded (`Ok(pid)`) or failed (`Err` with the
    /// stage and errno; the child, `self.pid`, is left to the reaper).
    /// Either way it returns only after the pipe's EOF: the child has exec'd
    /// or exited, so its stack and arguments can go.
    pub fn wait(mut self) -> Result<i32, SpawnError> {
        let report = read_report(&self.report);
        if report.is_some() {
            drain_to_eof(&self.report);
        }
        self.in_flight = None;
        match report {
            None => Ok(self.pid),
            Some((stage, errno)) => Err(SpawnError {
                stage: child::stage_name(stage).to_string(),
                errno,
            }),
        }
    }
}

impl Drop for Started {
    /// Dropped without `wait`: the child may still be using its stack and
    /// arguments, so they are leaked rather than freed under it.
    fn drop(&mut self) {
        if let Some(in_flight) = self.in_flight.take() {
            std::mem::forget(in_flight);
        }
    }
}

/// Starts `spec` and returns at once, before the child has exec'd. Errors
/// here are those before the clone (no child exists); the rest come from
/// `wait`. The child shares our memory (`CLONE_VM`, no page-table copy, no
/// copy-on-write faults) but, unlike `spawn`, does not suspend us: many
/// children can be started before any report is read. Where `raw` has no
/// inline syscalls, a plain fork.
pub fn start(spec: &SpawnSpec) -> Result<Started, SpawnError> {
    start_prepared(prepare::prepare(spec)?)
}

/// `start` once `prepare` has run.
fn start_prepared(mut prepared: prepare::Prepared) -> Result<Started, SpawnError> {
    if raw::INLINE
        && let Some(stack) = ChildStack::new()
    {
        let (read_end, write_end) = error_pipe()?;
        // The child gets its own copies of the log and /dev/null at clone
        // time: ours are closed at once, so an in-flight start holds one
        // descriptor (its report pipe), as a forked one did.
        let fds = prepared.take_fds();
        let args = Box::new(ChildArgs {
            prepared,
            err_fd: write_end.as_raw_fd(),
        });
        // SAFETY: `args` and `stack` go into the `Started`, which frees them
        // only after the pipe's EOF (`wait`) or never (`drop`).
        let pid = unsafe { clone_child(&args, &stack, 0) };
        drop(fds);
        drop(write_end);
        return Ok(Started {
            pid: pid?,
            report: read_end,
            in_flight: Some(InFlight {
                _args: args,
                _stack: stack,
            }),
        });
    }
    fork_prepared(prepared)
}

/// `start` by a plain fork: the child has its own copy of everything.
fn fork_prepared(prepared: prepare::Prepared) -> Result<Started, SpawnError> {
    let (read_end, write_end) = error_pipe()?;
    let old = block_all_signals();
    // SAFETY: the child branch makes only raw syscalls on memory prepared
    // above and ends in execve or exit; it never returns.
    let pid = unsafe { libc::fork() };
    if pid == 0 {
        // SAFETY: see above; `run` never returns.
        unsafe { child::run(&prepared, write_end.as_raw_fd()) }
    }
    let fork_errno = last_errno();
    restore_signals(&old);
    drop(write_end);
    drop(prepared);
    if pid < 0 {
        return Err(SpawnError::new("fork", fork_errno));
    }
    Ok(Started {
        pid,
        report: read_end,
        in_flight: None,
    })
}

/// The close-on-exec pipe the child reports a failure through. Both ends are
/// kept above fd 2 so that the child's dup2 onto 0..2 cannot clobber them.
fn error_pipe() -> Result<(OwnedFd, OwnedFd), SpawnError> {
    let mut fds = [0; 2];
    // SAFETY: `fds` is a valid two-int array.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        return Err(SpawnError::new("pipe", last_errno()));
    }
    // SAFETY: pipe2 just returned these two fresh descriptors, owned by nobody else.
    let (r, w) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    let r = prepare::above_stdio(r).map_err(|e| SpawnError::new("pipe", e))?;
    let w = prepare::above_stdio(w).map_err(|e| SpawnError::new("pipe", e))?;
    Ok((r, w))
}

/// Reads the child's report: `None` on EOF (exec succeeded), else the
/// stage id and errno. A short or failed read counts as an exec failure.
fn read_report(fd: &OwnedFd) -> Option<(u32, i32)> {
    let mut buf = [0u8; 8];
    let mut got = 0;
    while got < buf.len() {
        // SAFETY: reads into the unfilled tail of a local buffer.
        let n = unsafe {
            libc::read(
                fd.as_raw_fd(),
                buf[got..].as_mut_ptr().cast(),
                buf.len() - got,
            )
        };
        if n == 0 {
            break;
        }
        if n < 0 {
            if last_errno() == libc::EINTR {
                continue;
            }
            return Some((child::STAGE_EXEC, last_errno()));
        }
        got += n as usize;
    }
    match got {
        0 => None,
        8 => {
            let stage = u32::from_ne_bytes([buf[0], buf[1], buf[2], buf[3]]);
            let errno = i32::from_ne_bytes([buf[4], buf[5], buf[6], buf[7]]);
            Some((stage, errno))
        }
        _ => Some((child::STAGE_EXEC, libc::EIO)),
    }
}

/// Reads and discards until EOF: after a failure report, until the child
/// has exited.
fn drain_to_eof(fd: &OwnedFd) {
    let mut buf = [0u8; 64];
    loop {
        // SAFETY: reads into a local buffer.
        let n = unsafe { libc::read(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) };
        if n == 0 || (n < 0 && last_errno() != libc::EINTR) {
            return;
        }
    }
}

/// The calling thread's errno.
fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}
