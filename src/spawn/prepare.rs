//! Before the clone: turns a `SpawnSpec` into C strings, pointer arrays and
//! open descriptors, so the child never allocates or looks anything up. No lookups here.

use super::{SpawnError, SpawnSpec, Stdio};
use crate::unit::{Rlimit, RlimitResource, RlimitValue};
use crate::users::Creds;
use nix::sys::resource::Resource;
use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;

/// The job `PATH` used to find argv[0] when the job's env has none.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A spec ready for the child: nothing in here needs allocating after the
/// clone. The pointer arrays point into the `CString`s held alongside them,
/// and the descriptors stay open until the `Prepared` is dropped (after the
/// child has exec'd with its own copies).
pub(super) struct Prepared {
    _argv: Vec<CString>,
    pub argv_ptrs: Vec<*const libc::c_char>,
    _envp: Vec<CString>,
    pub envp_ptrs: Vec<*const libc::c_char>,
    /// Paths to try with execve, in order (one when argv[0] has a slash).
    pub candidates: Vec<CString>,
    /// Whether argv[0] was searched in PATH (ENOENT then means "try next").
    pub searched: bool,
    pub creds: Option<Creds>,
    pub chdir: Option<CString>,
    pub umask: Option<libc::mode_t>,
    pub nice: Option<i32>,
    /// The decimal text written to /proc/self/oom_score_adj in the child.
    pub oom_score_adj: Option<Vec<u8>>,
    pub limits: Vec<(Resource, libc::rlim_t, libc::rlim_t)>,
    /// The child's stdin: /dev/null, opened read-write (the spawner's).
    pub stdin: RawFd,
    /// The child's stdout and stderr: the log, the same /dev/null, or `None`
    /// to keep the daemon's own.
    pub output: Option<RawFd>,
    /// `cgroup.procs` of the job's cgroup (borrowed from the caller).
    pub cgroup_procs: Option<RawFd>,
    /// The child shares the daemon's descriptor table and leaves it first
    /// thing, keeping the descriptors under this number (`slots`); `None`:
    /// it gets a copy of the whole table at the clone.
    pub unshare_below: Option<u32>,
    /// The log file `output` names when `prepare` opened it.
    _fds: Vec<OwnedFd>,
}

/// Resolves and opens everything `spec` needs; `dev_null` is the spawner's
/// /dev/null (above fd 2), the child's stdin.
pub(super) fn prepare(spec: &SpawnSpec, dev_null: RawFd) -> Result<Prepared, SpawnError> {
    let argv = spec
        .argv
        .iter()
        .map(|a| CString::new(a.as_bytes()))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| SpawnError::new("argv", libc::EINVAL))?;
    let Some(first) = spec.argv.first() else {
        return Err(SpawnError::new("argv", libc::EINVAL));
    };
    if first.is_empty() {
        return Err(SpawnError::new("argv", libc::ENOENT));
    }
    let envp = spec
        .env
        .iter()
        .map(|(k, v)| {
            if k.is_empty() || k.contains('=') {
                return Err(SpawnError::new("env", libc::EINVAL));
            }
            CString::new(format!("{k}={v}")).map_err(|_| SpawnError::new("env", libc::EINVAL))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (candidates, searched) = candidates(first, &spec.env)?;
    let chdir = match &spec.chdir {
        Some(dir) => Some(
            CString::new(dir.as_os_str().as_bytes())
                .map_err(|_| SpawnError::new("chdir", libc::EINVAL))?,
        ),
        None => None,
    };
    let mut fds = Vec::new();
    let stdin_raw = dev_null;
    let output = match &spec.stdio {
        Stdio::File(path) => {
            let file = crate::logs::open_log(path)
                .map_err(|e| SpawnError::new("log", e.raw_os_error().unwrap_or(libc::EIO)))?;
            let fd = above_stdio(file.into()).map_err(|e| SpawnError::new("log", e))?;
            let raw = fd.as_raw_fd();
            fds.push(fd);
            Some(raw)
        }
        // A caller's descriptor on 0-2 would be overwritten by the dup2s.
        Stdio::Fd(raw) if *raw <= 2 => return Err(SpawnError::new("stdio", libc::EBADF)),
        Stdio::Fd(raw) => Some(*raw),
        Stdio::Inherit => None,
        Stdio::Null => Some(stdin_raw),
    };
    let argv_ptrs = pointers(&argv);
    let envp_ptrs = pointers(&envp);
    Ok(Prepared {
        _argv: argv,
        argv_ptrs,
        _envp: envp,
        envp_ptrs,
        candidates,
        searched,
        creds: spec.creds.clone(),
        chdir,
        umask: spec.umask.map(|m| (m & 0o777) as libc::mode_t),
        nice: spec.nice,
        oom_score_adj: spec.oom_score_adj.map(|v| v.to_string().into_bytes()),
        limits: spec.limits.iter().map(limit).collect(),
        stdin: stdin_raw,
        output,
        cgroup_procs: spec.cgroup_procs,
        unshare_below: None,
        _fds: fds,
    })
}

/// A null-terminated array of pointers into `strings`.
fn pointers(strings: &[CString]) -> Vec<*const libc::c_char> {
    let mut ptrs: Vec<*const libc::c_char> = strings.iter().map(|s| s.as_ptr()).collect();
    ptrs.push(std::ptr::null());
    ptrs
}

/// The paths execve will try: argv[0] itself when it has a slash, else each
/// non-empty entry of the job's own `PATH` (not the daemon's), as execvpe does.
/// Empty entries (the current directory) are skipped on purpose.
fn candidates(first: &str, env: &[(String, String)]) -> Result<(Vec<CString>, bool), SpawnError> {
    let bad = |_| SpawnError::new("argv", libc::EINVAL);
    if first.contains('/') {
        return Ok((vec![CString::new(first).map_err(bad)?], false));
    }
    let path = env
        .iter()
        .find(|(k, _)| k == "PATH")
        .map_or(DEFAULT_PATH, |(_, v)| v.as_str());
    let list = path
        .split(':')
        .filter(|dir| !dir.is_empty())
        .map(|dir| CString::new(format!("{}/{first}", dir.trim_end_matches('/'))).map_err(bad))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((list, true))
}

/// One `limits:` entry as (resource, soft, hard) for setrlimit.
fn limit(l: &Rlimit) -> (Resource, libc::rlim_t, libc::rlim_t) {
    let resource = match l.resource {
        RlimitResource::As => Resource::RLIMIT_AS,
        RlimitResource::Core => Resource::RLIMIT_CORE,
        RlimitResource::Cpu => Resource::RLIMIT_CPU,
        RlimitResource::Data => Resource::RLIMIT_DATA,
        RlimitResource::Fsize => Resource::RLIMIT_FSIZE,
        RlimitResource::Memlock => Resource::RLIMIT_MEMLOCK,
        RlimitResource::Msgqueue => Resource::RLIMIT_MSGQUEUE,
        RlimitResource::Nice => Resource::RLIMIT_NICE,
        RlimitResource::Nofile => Resource::RLIMIT_NOFILE,
        RlimitResource::Nproc => Resource::RLIMIT_NPROC,
        RlimitResource::Rss => Resource::RLIMIT_RSS,
        RlimitResource::Rtprio => Resource::RLIMIT_RTPRIO,
        RlimitResource::Sigpending => Resource::RLIMIT_SIGPENDING,
        RlimitResource::Stack => Resource::RLIMIT_STACK,
    };
    let value = |v: RlimitValue| match v {
        RlimitValue::Value(n) => n as libc::rlim_t,
        RlimitValue::Unlimited => libc::RLIM_INFINITY,
    };
    (resource, value(l.soft), value(l.hard))
}

/// Opens /dev/null read-write, close-on-exec.
pub(super) fn open_dev_null() -> Result<OwnedFd, SpawnError> {
    // SAFETY: a constant NUL-terminated path.
    let fd = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if fd < 0 {
        return Err(SpawnError::new("devnull", super::clone::last_errno()));
    }
    // SAFETY: open just returned this fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Moves `fd` to a number above 2 (close-on-exec) when it landed on 0..=2
/// because the daemon runs with a closed stdin/stdout/stderr, so the child's
/// dup2 onto 0..=2 can never overwrite a descriptor it still has to read.
pub(super) fn above_stdio(fd: OwnedFd) -> Result<OwnedFd, i32> {
    if fd.as_raw_fd() > 2 {
        return Ok(fd);
    }
    // SAFETY: F_DUPFD_CLOEXEC on a descriptor we own.
    let new = unsafe { libc::fcntl(fd.as_raw_fd(), libc::F_DUPFD_CLOEXEC, 3) };
    if new < 0 {
        return Err(super::clone::last_errno());
    }
    // SAFETY: fcntl just returned this fresh descriptor.
    Ok(unsafe { OwnedFd::from_raw_fd(new) })
}
