//! The code between clone and exec: resets signals, new session, stdio,
//! limits, cgroup, credentials, then execve. It must not allocate, lock, panic or return.
//!
//! It runs in a `CLONE_VM | CLONE_VFORK` child: the daemon's thread is
//! suspended meanwhile, so the child may use async-signal-safe libc calls
//! (their `errno` lands in the suspended thread's slot, which it does not
//! read after a successful clone). The credential changes are raw
//! syscalls: glibc's wrappers would broadcast them to every thread glibc
//! knows of, which in this child are the daemon's own threads.

use super::clone::Report;
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
pub(super) const STAGE_CGROUP: u32 = 12;

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
        STAGE_CGROUP => "cgroup",
        _ => "exec",
    }
}

/// The kernel's sigset size (`_NSIG / 8`), which `rt_sigaction` checks.
#[cfg(any(target_arch = "mips", target_arch = "mips64"))]
const SIGSET_BYTES: libc::size_t = 16;
#[cfg(not(any(target_arch = "mips", target_arch = "mips64")))]
const SIGSET_BYTES: libc::size_t = 8;

// 32-bit x86 and arm have 16-bit ids in the plain syscalls.
#[cfg(any(target_arch = "x86", target_arch = "arm"))]
const IDS: [libc::c_long; 3] = [
    libc::SYS_setgroups32,
    libc::SYS_setgid32,
    libc::SYS_setuid32,
];
#[cfg(not(any(target_arch = "x86", target_arch = "arm")))]
const IDS: [libc::c_long; 3] = [libc::SYS_setgroups, libc::SYS_setgid, libc::SYS_setuid];

/// The child's whole life until exec. Order: its own descriptor table, signals, session, stdio,
/// limits, nice, oom_score_adj, cgroup, umask, groups, gid, uid, chdir
/// (after the credentials, so a directory the user may not enter fails), exec.
///
/// # Safety
/// Call only in the child of `clone_and_exec`, with `report` its report.
pub(super) unsafe fn run(p: &Prepared, report: *mut Report) -> ! {
    unsafe {
        // Cloned with the daemon's descriptor table (CLONE_FILES): a private
        // table holding only the descriptors under `below` (stdio, the slots),
        // before anything here changes a descriptor. On failure nothing was
        // changed and the child exits.
        if let Some(below) = p.unshare_below {
            let r = libc::syscall(
                libc::SYS_close_range,
                below as libc::c_uint,
                libc::c_uint::MAX,
                libc::CLOSE_RANGE_UNSHARE as libc::c_uint,
            );
            check(report, STAGE_STDIO, r as libc::c_int);
        }
        // Default dispositions for every signal (an ignored one would
        // survive exec; a handler must not run here), then an empty mask.
        // The raw syscall, as glibc's wrapper refuses its own two (32, 33).
        // An all-zero kernel sigaction is SIG_DFL with no flags on every layout.
        let dfl = [0u64; 4];
        for sig in 1..=64 {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                let null = std::ptr::null_mut::<u64>();
                libc::syscall(
                    libc::SYS_rt_sigaction,
                    sig,
                    dfl.as_ptr(),
                    null,
                    SIGSET_BYTES,
                );
            }
        }
        let mut empty: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut empty);
        check(
            report,
            STAGE_SIGMASK,
            libc::sigprocmask(libc::SIG_SETMASK, &empty, std::ptr::null_mut()),
        );

        // Each job leads its own session and process group.
        check(report, STAGE_SETSID, libc::setsid());

        // stdin is /dev/null; stdout and stderr the log, /dev/null, or inherited.
        check(report, STAGE_STDIO, libc::dup2(p.stdin, 0));
        if let Some(out) = p.output {
            check(report, STAGE_STDIO, libc::dup2(out, 1));
            check(report, STAGE_STDIO, libc::dup2(out, 2));
        }
        // No descriptor of the daemon reaches the job (older kernels: each
        // of the daemon's descriptors is close-on-exec anyway).
        let _ = libc::syscall(
            libc::SYS_close_range,
            3 as libc::c_uint,
            libc::c_uint::MAX,
            libc::CLOSE_RANGE_CLOEXEC as libc::c_uint,
        );

        for &(resource, soft, hard) in &p.limits {
            if nix::sys::resource::setrlimit(resource, soft, hard).is_err() {
                fail(report, STAGE_RLIMIT, errno());
            }
        }
        if let Some(nice) = p.nice {
            let which = libc::PRIO_PROCESS as libc::c_long;
            let r = libc::syscall(
                libc::SYS_setpriority,
                which,
                0 as libc::c_long,
                nice as libc::c_long,
            );
            check(report, STAGE_NICE, r as libc::c_int);
        }
        if let Some(text) = &p.oom_score_adj {
            write_oom_score_adj(report, text);
        }
        if let Some(fd) = p.cgroup_procs {
            // "0" moves the writer: this child, before it runs anything of the job.
            let r = libc::write(fd, b"0\n".as_ptr().cast(), 2);
            if r < 0 {
                fail(report, STAGE_CGROUP, errno());
            }
        }
        if let Some(mask) = p.umask {
            libc::umask(mask);
        }
        if let Some(creds) = &p.creds {
            if let Some(groups) = &creds.groups {
                let r = libc::syscall(IDS[0], groups.len() as libc::c_long, groups.as_ptr());
                check(report, STAGE_SETGROUPS, r as libc::c_int);
            }
            let r = libc::syscall(IDS[1], creds.gid as libc::c_long);
            check(report, STAGE_SETGID, r as libc::c_int);
            if let Some(uid) = creds.uid {
                let r = libc::syscall(IDS[2], uid as libc::c_long);
                check(report, STAGE_SETUID, r as libc::c_int);
            }
        }
        if let Some(dir) = &p.chdir {
            check(report, STAGE_CHDIR, libc::chdir(dir.as_ptr()));
        }
        exec(p, report)
    }
}

/// Tries each candidate path as execvpe does: a missing file or folder moves
/// on, EACCES is remembered and reported if nothing else runs, anything else stops.
unsafe fn exec(p: &Prepared, report: *mut Report) -> ! {
    let mut saw_eacces = false;
    let mut last = libc::ENOENT;
    for path in &p.candidates {
        // SAFETY: NUL-terminated path and NULL-terminated pointer arrays,
        // all built by `prepare` and alive until the daemon resumes.
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
    unsafe { fail(report, STAGE_EXEC, last) }
}

/// An errno that means "not at this PATH entry".
fn is_lookup_miss(errno: i32) -> bool {
    matches!(
        errno,
        libc::ENOENT | libc::ENOTDIR | libc::ESTALE | libc::ENODEV | libc::ETIMEDOUT
    )
}

/// Writes the pre-formatted value to /proc/self/oom_score_adj (opened here:
/// /proc/self in the daemon would be the daemon's own file).
unsafe fn write_oom_score_adj(report: *mut Report, text: &[u8]) {
    unsafe {
        let fd = libc::open(
            c"/proc/self/oom_score_adj".as_ptr(),
            libc::O_WRONLY | libc::O_CLOEXEC,
        );
        if fd < 0 {
            fail(report, STAGE_OOM, errno());
        }
        if libc::write(fd, text.as_ptr().cast(), text.len()) < 0 {
            fail(report, STAGE_OOM, errno());
        }
        libc::close(fd);
    }
}

/// This thread's errno (the suspended daemon thread's slot, see the module doc).
fn errno() -> i32 {
    std::io::Error::last_os_error()
        .raw_os_error()
        .unwrap_or(libc::EIO)
}

/// Fails the stage when a libc call returned -1.
unsafe fn check(report: *mut Report, stage: u32, ret: libc::c_int) {
    if ret < 0 {
        unsafe { fail(report, stage, errno()) }
    }
}

/// Leaves `(stage, errno)` in the daemon's report and exits 127 without
/// running any of the daemon's atexit handlers or destructors.
unsafe fn fail(report: *mut Report, stage: u32, errno: i32) -> ! {
    unsafe {
        std::ptr::write_volatile(report, Report { stage, errno });
        libc::_exit(127)
    }
}
