//! The code between fork and exec: resets signals, new session, stdio,
//! limits, credentials, then execve. It must not allocate, lock, panic or return.
//!
//! Every call here is async-signal-safe (raw libc syscalls wrappers only), and
//! reads memory `prepare` built before fork. The same code runs after a plain
//! fork (`start`) and in a `CLONE_VM | CLONE_VFORK` child (`spawn`), where it
//! shares the daemon's memory: it writes nothing but its own stack and errno.

use super::prepare::{Output, Prepared};

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
/// Call only in the child right after fork, with `err_fd` the write end of
/// the close-on-exec report pipe.
pub(super) unsafe fn run(p: &Prepared, err_fd: libc::c_int) -> ! {
    unsafe {
        // Default dispositions for every signal (ignored ones survive exec),
        // then an empty mask: the daemon blocks and ignores signals, jobs must not.
        // The raw syscall, because glibc's sigaction refuses 32 and 33 (its
        // own), which can still arrive ignored from whoever started us. An
        // all-zero kernel sigaction is SIG_DFL with no flags on every layout.
        let dfl = [0u64; 4];
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    dfl.as_ptr(),
                    std::ptr::null_mut::<u64>(),
                    8usize,
                );
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        check(
            err_fd,
            STAGE_SIGMASK,
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()),
        );

        // Each job leads its own session and process group.
        check(err_fd, STAGE_SETSID, libc::setsid());

        // stdin is /dev/null; stdout and stderr the log, /dev/null, or inherited.
        let null = std::os::fd::AsRawFd::as_raw_fd(&p.stdin);
        check(err_fd, STAGE_STDIO, libc::dup2(null, 0));
        let out = match &p.output {
            Output::Fd(fd) => Some(std::os::fd::AsRawFd::as_raw_fd(fd)),
            Output::Null => Some(null),
            Output::Inherit => None,
        };
        if let Some(out) = out {
            check(err_fd, STAGE_STDIO, libc::dup2(out, 1));
            check(err_fd, STAGE_STDIO, libc::dup2(out, 2));
        }
        // No descriptor of the daemon reaches the job (older kernels: ignored).
        libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC,
        );

        for (resource, soft, hard) in &p.limits {
            let lim = libc::rlimit {
                rlim_cur: *soft,
                rlim_max: *hard,
            };
            check(err_fd, STAGE_RLIMIT, libc::setrlimit(*resource as _, &lim));
        }
        if let Some(nice) = p.nice {
            check(
                err_fd,
                STAGE_NICE,
                libc::setpriority(libc::PRIO_PROCESS, 0, nice),
            );
        }
        if let Some(text) = &p.oom_score_adj {
            write_oom_score_adj(err_fd, text);
        }
        if let Some(mask) = p.umask {
            libc::umask(mask);
        }
        // Raw syscalls, not glibc's wrappers: those broadcast the change to
        // every thread glibc knows of, which in a CLONE_VM child are the
        // daemon's own threads. The syscall changes this task alone.
        if let Some(creds) = &p.creds {
            if let Some(groups) = &creds.groups {
                let ret = libc::syscall(libc::SYS_setgroups, groups.len(), groups.as_ptr());
                check(err_fd, STAGE_SETGROUPS, ret as libc::c_int);
            }
            let ret = libc::syscall(libc::SYS_setgid, creds.gid);
            check(err_fd, STAGE_SETGID, ret as libc::c_int);
            if let Some(uid) = creds.uid {
                let ret = libc::syscall(libc::SYS_setuid, uid);
                check(err_fd, STAGE_SETUID, ret as libc::c_int);
            }
        }
        if let Some(dir) = &p.chdir {
            check(err_fd, STAGE_CHDIR, libc::chdir(dir.as_ptr()));
        }
        exec(p, err_fd)
    }
}

/// Tries each candidate path as execvpe does: a missing file or folder moves
/// on, EACCES is remembered and reported if nothing else runs, anything else stops.
unsafe fn exec(p: &Prepared, err_fd: libc::c_int) -> ! {
    let mut saw_eacces = false;
    let mut last = libc::ENOENT;
    for path in &p.candidates {
        unsafe {
            libc::execve(path.as_ptr(), p.argv_ptrs.as_ptr(), p.envp_ptrs.as_ptr());
        }
        last = errno();
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
        let fd = libc::open(
            c"/proc/self/oom_score_adj".as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        );
        check(err_fd, STAGE_OOM, fd);
        let n = libc::write(fd, text.as_ptr().cast(), text.len());
        if n < 0 {
            fail(err_fd, STAGE_OOM, errno());
        }
        libc::close(fd);
    }
}

/// Fails the stage with the current errno when `ret` is negative.
unsafe fn check(err_fd: libc::c_int, stage: u32, ret: libc::c_int) {
    if ret < 0 {
        unsafe { fail(err_fd, stage, errno()) }
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
        libc::write(err_fd, buf.as_ptr().cast(), buf.len());
        libc::_exit(127)
    }
}

/// This thread's errno, read without allocating.
fn errno() -> i32 {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() }
}
