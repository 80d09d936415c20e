//! The code between fork and exec: resets signals, new session, stdio,
//! limits, credentials, then execve. It must not allocate, lock, panic or return.
//!
//! Every call here is a raw syscall (`raw`), on memory `prepare` built before
//! the clone. It runs in a `CLONE_VM` child that shares the daemon's memory
//! (`start`, `spawn`): it writes nothing but its own stack, not even `errno`.

use super::prepare::Prepared;

pub(super) const STAGE_SIGMASK: u32 = 1;
pub(super) const STAGE_SETSID: u32 = 2;
pub(super) const STAGE_STDIO: u32 = 3;
pub(super) const STAGE_RLIMIT: u32 = 4;
pub(super) const STAGE_NICE: u32 = 5;
pub(super) const STAGE_OOM: u32 = 6;
pub(super) const STAGE_SETGROUPS: u32 = 7;
pub(super) const STAGE_SETGID: u32 = 8;
pub(super) const STAGE_SETUID: u32 = 9;
pub(super) const STAGE_CHDIR: u32 = 10;
pub(super) const STAGE_EXEC: u32 = 11;

/// The name a stage id is reported under in `SpawnError::stage`.
pub(super) fn stage_name(stage: u32) -> &'static str {
    match stage {
        STAGE_SIGMASK => "sigmask",
        STAGE_SETSID => "setsid",
        STAGE_STDIO => "stdio",
        STAGE_RLIMIT => "rlimit",
        STAGE_NICE => "nice",
        STAGE_OOM => "oom_score_adj",
        STAGE_SETGROUPS => "setgroups",
        STAGE_SETGID => "setgid",
        STAGE_SETUID => "setuid",
        STAGE_CHDIR => "chdir",
        _ => "exec",
    }
}

/// The child's whole life until exec. Order: signals, session, stdio,
/// limits, nice, oom_score_adj, umask, groups, gid, uid, chdir (after the
/// credentials, so a directory the user may not enter fails), exec.
///
/// # Safety
/// Call only in the child right after fork or clone, with `err_fd` the write
/// end of the close-on-exec report pipe.
pub(super) unsafe fn run(p: &Prepared, err_fd: libc::c_int) -> ! {
    unsafe {
        // Default dispositions for every signal (ignored ones survive exec),
        // then an empty mask: the daemon blocks and ignores signals, jobs must not.
        // An all-zero kernel sigaction is SIG_DFL with no flags on every layout;
        // 32 and 33 (glibc's own) are reset too.
        let dfl = [0u64; 4];
        for sig in 1..=64usize {
            if sig != libc::SIGKILL as usize && sig != libc::SIGSTOP as usize {
                let _ = sys(libc::SYS_rt_sigaction, [sig, ptr(&dfl), 0, 8, 0, 0]);
            }
        }
        let empty = 0u64;
        let r = sys(
            libc::SYS_rt_sigprocmask,
            [libc::SIG_SETMASK as usize, ptr(&empty), 0, 8, 0, 0],
        );
        check(err_fd, STAGE_SIGMASK, r);

        // Each job leads its own session and process group.
        check(err_fd, STAGE_SETSID, sys(libc::SYS_setsid, [0; 6]));

        // stdin is /dev/null; stdout and stderr the log, /dev/null, or inherited.
        check(err_fd, STAGE_STDIO, dup_onto(p.stdin, 0));
        if let Some(out) = p.output {
            check(err_fd, STAGE_STDIO, dup_onto(out, 1));
            check(err_fd, STAGE_STDIO, dup_onto(out, 2));
        }
        // No descriptor of the daemon reaches the job (older kernels: ignored).
        let cloexec = libc::CLOSE_RANGE_CLOEXEC as usize;
        let _ = sys(
            libc::SYS_close_range,
            [3, u32::MAX as usize, cloexec, 0, 0, 0],
        );

        for (resource, soft, hard) in &p.limits {
            let lim = libc::rlimit {
                rlim_cur: *soft,
                rlim_max: *hard,
            };
            let r = sys(
                libc::SYS_prlimit64,
                [0, *resource as usize, ptr(&lim), 0, 0, 0],
            );
            check(err_fd, STAGE_RLIMIT, r);
        }
        if let Some(nice) = p.nice {
            let which = libc::PRIO_PROCESS as usize;
            let r = sys(libc::SYS_setpriority, [which, 0, nice as usize, 0, 0, 0]);
            check(err_fd, STAGE_NICE, r);
        }
        if let Some(text) = &p.oom_score_adj {
            write_oom_score_adj(err_fd, text);
        }
        if let Some(mask) = p.umask {
            let _ = sys(libc::SYS_umask, [mask as usize, 0, 0, 0, 0, 0]);
        }
        // Raw syscalls, not glibc's wrappers: those broadcast the change to
        // every thread glibc knows of, which in a CLONE_VM child are the
        // daemon's own threads. The syscall changes this task alone.
        if let Some(creds) = &p.creds {
            if let Some(groups) = &creds.groups {
                let r = sys(
                    libc::SYS_setgroups,
                    [groups.len(), groups.as_ptr() as usize, 0, 0, 0, 0],
                );
                check(err_fd, STAGE_SETGROUPS, r);
            }
            let r = sys(libc::SYS_setgid, [creds.gid as usize, 0, 0, 0, 0, 0]);
            check(err_fd, STAGE_SETGID, r);
            if let Some(uid) = creds.uid {
                let r = sys(libc::SYS_setuid, [uid as usize, 0, 0, 0, 0, 0]);
                check(err_fd, STAGE_SETUID, r);
            }
        }
        if let Some(dir) = &p.chdir {
            let r = sys(libc::SYS_chdir, [dir.as_ptr() as usize, 0, 0, 0, 0, 0]);
            check(err_fd, STAGE_CHDIR, r);
        }
        exec(p, err_fd)
    }
}

/// Tries each candidate path as execvpe does: a missing file or folder moves
/// on, EACCES is remembered and reported if nothing else runs, anything else stops.
unsafe fn exec(p: &Prepared, err_fd: libc::c_int) -> ! {
    let mut saw_eacces = false;
    let mut last = libc::ENOENT;
    let argv = p.argv_ptrs.as_ptr() as usize;
    let envp = p.envp_ptrs.as_ptr() as usize;
    for path in &p.candidates {
        // SAFETY: NUL-terminated path and NULL-terminated pointer arrays,
        // all built by `prepare` and alive until the report.
        let r = unsafe {
            sys(
                libc::SYS_execve,
                [path.as_ptr() as usize, argv, envp, 0, 0, 0],
            )
        };
        last = r.err().unwrap_or(libc::EIO);
        if !p.searched {
            break;
        }
        if last == libc::EACCES {
            saw_eacces = true;
        } else if !is_lookup_miss(last) {
            break;
        }
    }
    if saw_eacces && is_lookup_miss(last) {
        last = libc::EACCES;
    }
    unsafe { fail(err_fd, STAGE_EXEC, last) }
}

/// An errno that means "not at this PATH entry".
fn is_lookup_miss(errno: i32) -> bool {
    matches!(
        errno,
        libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT
    )
}

/// Writes the pre-formatted value to /proc/self/oom_score_adj (opened here:
/// /proc/self opened before fork would be the daemon's own file).
unsafe fn write_oom_score_adj(err_fd: libc::c_int, text: &[u8]) {
    unsafe {
        let path = c"/proc/self/oom_score_adj";
        let flags = (libc::O_WRONLY | libc::O_CLOEXEC) as usize;
        let at = libc::AT_FDCWD as usize;
        let fd = match sys(
            libc::SYS_openat,
            [at, path.as_ptr() as usize, flags, 0, 0, 0],
        ) {
            Ok(fd) => fd,
            Err(e) => fail(err_fd, STAGE_OOM, e),
        };
        if let Err(e) = sys(
            libc::SYS_write,
            [fd, text.as_ptr() as usize, text.len(), 0, 0, 0],
        ) {
            fail(err_fd, STAGE_OOM, e);
        }
        let _ = sys(libc::SYS_close, [fd, 0, 0, 0, 0, 0]);
    }
}

/// `dup2(from, to)` as dup3 (the one every architecture has); a no-op when
/// the two are the same descriptor, as dup2 is.
unsafe fn dup_onto(from: libc::c_int, to: libc::c_int) -> Result<usize, i32> {
    if from == to {
        return Ok(to as usize);
    }
    // SAFETY: no pointer arguments.
    unsafe { sys(libc::SYS_dup3, [from as usize, to as usize, 0, 0, 0, 0]) }
}

/// One raw syscall (`raw::call`): never touches `errno`.
#[inline(always)]
unsafe fn sys(n: libc::c_long, a: [usize; 6]) -> Result<usize, i32> {
    // SAFETY: the callers pass arguments valid for `n`.
    unsafe { super::raw::call(n, a) }
}

/// A pointer argument.
fn ptr<T>(x: &T) -> usize {
    x as *const T as usize
}

/// Fails the stage with its errno.
unsafe fn check(err_fd: libc::c_int, stage: u32, ret: Result<usize, i32>) {
    if let Err(e) = ret {
        unsafe { fail(err_fd, stage, e) }
    }
}

/// Reports `(stage, errno)` through the pipe and exits 127 without running
/// any of the daemon's atexit handlers or destructors.
unsafe fn fail(err_fd: libc::c_int, stage: u32, errno: i32) -> ! {
    let mut buf = [0u8; 8];
    buf[..4].copy_from_slice(&stage.to_ne_bytes());
    buf[4..].copy_from_slice(&errno.to_ne_bytes());
    unsafe {
        // 8 bytes < PIPE_BUF: written whole or not at all; nothing to do on error.
        let _ = sys(
            libc::SYS_write,
            [err_fd as usize, ptr(&buf), buf.len(), 0, 0, 0],
        );
        super::raw::exit(127)
    }
}
