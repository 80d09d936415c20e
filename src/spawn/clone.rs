//! The clone: the child's stack, every signal blocked around it, and the
//! report the child leaves when it fails. The only caller of `clone` in gsup.

use super::SpawnError;
use super::child;
use super::prepare::Prepared;

/// What a failed child leaves for the daemon before it exits: the stage
/// (`child::STAGE_*`, 0 for none) and the errno. It lives on the daemon's
/// stack; the child writes it while the daemon's thread is suspended.
#[repr(C)]
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Report {
    pub stage: u32,
    pub errno: i32,
}

/// What `child::run` gets through clone's argument pointer.
pub(super) struct ChildArgs<'a> {
    pub prepared: &'a Prepared,
    pub report: *mut Report,
}

/// The child's stack: 256 KiB mapped with a guard page below, far more than
/// `child::run` uses (a few pages are ever touched). Mapped once per
/// `Spawner` and reused: with `CLONE_VFORK` one child at a time runs on it.
#[derive(Debug)]
pub(super) struct Stack {
    base: *mut libc::c_void,
    len: usize,
}

impl Stack {
    const LEN: usize = 256 * 1024;

    /// Maps the stack; the errno on failure.
    pub fn new() -> Result<Stack, i32> {
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
            return Err(last_errno());
        }
        let stack = Stack {
            base,
            len: Self::LEN,
        };
        let guard = page_size().min(Self::LEN / 2);
        // SAFETY: the lowest page of our own mapping becomes the guard.
        if unsafe { libc::mprotect(base, guard, libc::PROT_NONE) } != 0 {
            return Err(last_errno());
        }
        Ok(stack)
    }

    /// The initial stack pointer: the mapping's end (page aligned, so
    /// aligned for every ABI). Stacks grow down on every Linux target Rust
    /// supports but PA-RISC, which gsup does not build for.
    fn top(&mut self) -> *mut libc::c_void {
        // SAFETY: one past the end of our own mapping.
        unsafe { self.base.cast::<u8>().add(self.len).cast() }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        // SAFETY: unmaps exactly the mapping `new` made; no child runs on it
        // (each ran only while `clone_and_exec` was suspended).
        unsafe {
            libc::munmap(self.base, self.len);
        }
    }
}

/// Clones a child that shares our memory and runs `child::run` on `stack`,
/// the calling thread suspended until it has exec'd or exited
/// (`CLONE_VFORK`); every signal is blocked around the clone, so no daemon
/// handler runs in the child before it resets the dispositions. Returns the
/// pid, or the child's report of what failed.
pub(super) fn clone_and_exec(prepared: &Prepared, stack: &mut Stack) -> Result<i32, SpawnError> {
    let mut report = Report::default();
    let args = ChildArgs {
        prepared,
        report: &mut report,
    };
    let old = block_all_signals();
    // Sharing the descriptor table: the child's first call leaves it (`slots`).
    let files = if prepared.unshare_below.is_some() {
        libc::CLONE_FILES
    } else {
        0
    };
    // SAFETY: the child runs `entry` on its own stack, reads `args` and
    // writes only `report`, both alive on our stack: CLONE_VFORK keeps this
    // thread suspended until the child has exec'd or exited. With
    // CLONE_FILES the child changes no descriptor before it has its own table.
    let pid = unsafe {
        libc::clone(
            entry,
            stack.top(),
            libc::CLONE_VM | libc::CLONE_VFORK | files | libc::SIGCHLD,
            (&args as *const ChildArgs).cast_mut().cast(),
        )
    };
    let clone_errno = last_errno();
    restore_signals(&old);
    if pid < 0 {
        return Err(SpawnError::new("fork", clone_errno));
    }
    // SAFETY: the child is done with `report` (exec'd or exited).
    let report = unsafe { std::ptr::read_volatile(&report) };
    if report.stage == 0 {
        return Ok(pid);
    }
    Err(SpawnError {
        stage: child::stage_name(report.stage).to_string(),
        errno: report.errno,
        child: Some(pid),
    })
}

/// The child's first frame.
extern "C" fn entry(arg: *mut libc::c_void) -> libc::c_int {
    // SAFETY: `arg` is the `ChildArgs` of `clone_and_exec`, alive until the
    // child has exec'd or exited; `run` never returns.
    unsafe {
        let args = &*(arg as *const ChildArgs);
        child::run(args.prepared, args.report)
    }
}

/// Blocks every signal in this thread; returns the old mask.
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

fn page_size() -> usize {
    // SAFETY: sysconf has no memory arguments.
    let n = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(n).unwrap_or(4096).max(4096)
}

/// The calling thread's errno.
pub(super) fn last_errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}
