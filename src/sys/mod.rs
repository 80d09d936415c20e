//! The seam between supervisor logic and the kernel: every effect the
//! supervisor has (spawn, signal, reap, `/proc`, pidfiles, pidfds, inotify)
//! goes through the `Sys` trait, as dinit's `bp_sys`, so that the
//! supervisor, the launcher and the pidfile follower are tested against a
//! fake kernel. `RealSys` (in `real`) is the kernel itself.
//!
//! A spawn that fails after the clone (stage `exec`, `chdir`, `setuid`, ...)
//! left a child that has `_exit(127)`ed: `reap` returns its pid later, one
//! the supervisor never recorded, and the supervisor drops it.

mod groups;
pub mod inotify;
pub mod pidfd;
mod real;

pub use inotify::Change;
pub use real::RealSys;

use crate::job::Exit;
use crate::pidfile::PidfileError;
use crate::procfs::{ProcSource, ProcTable};
use crate::spawn::{SpawnError, SpawnSpec};
use crate::unit::Signal;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;

/// The process table of a kernel without processes (the default `procs`).
static NO_PROCS: ProcTable = ProcTable::EMPTY;

/// Whom a signal goes to: a whole process group, or one process. The two are
/// apart in the type so that a worker is never killed through its master's group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KillTarget {
    Group(i32),
    Pid(i32),
}

/// What a file watch is for: it comes back with every change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum WatchId {
    /// The pidfile of this job instance `(job, instance)`.
    Pidfile(String, String),
    /// The config dir (each of its folders).
    Config,
}

/// How the processes of a job instance are held together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Containment {
    /// Each instance runs in its own cgroup (v2): every process of it,
    /// whatever it does, is listed, signalled and killed through the group.
    Cgroup,
    /// gsup is the subreaper: orphans come back to it and are attributed
    /// to the job they came from; stop reaches the job's known tree.
    Subreaper,
}

impl Containment {
    /// The word `status --json` shows.
    pub fn as_str(self) -> &'static str {
        match self {
            Containment::Cgroup => "cgroup",
            Containment::Subreaper => "subreaper",
        }
    }
}

/// Something the kernel tells the supervisor besides a child's exit (SIGCHLD
/// is the loop's own signal stream).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SysEvent {
    /// Watched names changed (each watch once, its last change).
    Changed(Vec<(WatchId, Change)>),
    /// A process held by a pidfd exited (whoever reaps it).
    PidExited(i32),
    /// The inotify descriptor failed; it is dropped (pidfiles are then read
    /// only when a main process exits, the config only on `reload-config`).
    WatchFailed(String),
}

/// The effects the supervisor performs. Only `spawn`, `signal` and `reap`
/// are required; the rest default to a kernel with no processes to read, no
/// pidfds and no inotify, which is what a test that does not care about
/// them wants.
pub trait Sys {
    /// Starts `spec` in a new session (as posix_spawn: returns once the
    /// child has exec'd); returns the child's pid.
    fn spawn(&mut self, spec: &SpawnSpec) -> Result<i32, SpawnError>;
    /// Sends `sig`; returns the errno on failure (ESRCH when already gone).
    fn signal(&mut self, target: KillTarget, sig: Signal) -> Result<(), i32>;
    /// Reaps every child that has exited (`waitpid(-1, WNOHANG)` until none).
    fn reap(&mut self) -> Vec<(i32, Exit)>;

    /// The process table (`/proc`).
    fn procs(&self) -> &dyn ProcSource {
        &NO_PROCS
    }
    /// The daemon's own pid.
    fn own_pid(&self) -> i32 {
        0
    }
    /// The daemon's children now (orphans re-parented to it included).
    fn own_children(&self) -> Vec<i32> {
        Vec::new()
    }
    /// True when the daemon has few descriptors left under its limit: a
    /// launch that failed then failed for want of them, whatever the error
    /// said, and is tried again later rather than failing the job.
    fn short_of_descriptors(&self) -> bool {
        false
    }
    /// The job groups that hold processes now, with their pids (none
    /// without cgroups): the fallback when the saved state cannot be read.
    fn populated_groups(&self) -> Vec<((String, String), Vec<i32>)> {
        Vec::new()
    }
    /// Every pid in the daemon's PID namespace (`/proc`), for the end of PID 1.
    fn all_pids(&self) -> Vec<i32> {
        Vec::new()
    }
    /// `kill(-1, sig)`: every process but the daemon and its namespace's
    /// init. Only PID 1's last act uses it.
    fn signal_all(&mut self, sig: Signal) -> Result<(), i32> {
        let _ = sig;
        Err(libc::ENOSYS)
    }
    /// Reads a pidfile safely (`pidfile::read_pidfile`).
    fn read_pidfile(&self, path: &Path) -> Result<i32, PidfileError> {
        let _ = path;
        Err(PidfileError::Missing)
    }
    /// Opens a pidfd on `pid`, held until `pidfd_close`; its exit comes back
    /// as `SysEvent::PidExited`. Returns the errno on failure.
    fn pidfd_open(&mut self, pid: i32) -> Result<(), i32> {
        let _ = pid;
        Err(libc::ENOSYS)
    }
    /// Closes the pidfd held on `pid` (a no-op when none is).
    fn pidfd_close(&mut self, pid: i32) {
        let _ = pid;
    }
    /// True when the process a held pidfd names has exited; false when it
    /// lives or no pidfd is held on `pid`.
    fn pidfd_exited(&self, pid: i32) -> bool {
        let _ = pid;
        false
    }
    /// Signals the process a held pidfd names (that very process or
    /// nobody); EBADF when no pidfd is held on `pid`.
    fn pidfd_signal(&mut self, pid: i32, sig: Signal) -> Result<(), i32> {
        let _ = (pid, sig);
        Err(libc::EBADF)
    }
    /// Watches the file `path` (through its directory) for `id`, replacing
    /// an earlier watch of `id`.
    fn watch_file(&mut self, id: WatchId, path: &Path) -> std::io::Result<()> {
        let _ = (id, path);
        Ok(())
    }
    /// Watches everything in the directory `dir` for `id`, beside the other
    /// directories watched for it.
    fn watch_dir(&mut self, id: WatchId, dir: &Path) -> std::io::Result<()> {
        let _ = (id, dir);
        Ok(())
    }
    /// Drops every watch of `id`.
    fn unwatch(&mut self, id: &WatchId) {
        let _ = id;
    }
    /// How jobs are contained (cgroups where the daemon could set them up).
    fn containment(&self) -> Containment {
        Containment::Subreaper
    }
    /// Makes sure the instance `id` has its group (a no-op without cgroups).
    fn group_open(&mut self, id: &(String, String)) -> Result<(), String> {
        let _ = id;
        Ok(())
    }
    /// A descriptor of the instance's `cgroup.procs` for the next spawn to
    /// join (`SpawnSpec::cgroup_procs`); `None` without a group.
    fn group_procs(&mut self, id: &(String, String)) -> Option<std::os::fd::OwnedFd> {
        let _ = id;
        None
    }
    /// Sends `sig` to every process of the instance's group; how many.
    fn group_signal(&mut self, id: &(String, String), sig: Signal) -> usize {
        let _ = (id, sig);
        0
    }
    /// SIGKILLs every process of the instance's group, forks in flight included.
    fn group_kill(&mut self, id: &(String, String)) {
        let _ = id;
    }
    /// Whether the instance's group holds a process; `None` without a group.
    fn group_populated(&self, id: &(String, String)) -> Option<bool> {
        let _ = id;
        None
    }
    /// The instance's run is over: its group is removed once empty. True
    /// when it is gone (or there was none); false while processes remain.
    fn group_close(&mut self, id: &(String, String)) -> bool {
        let _ = id;
        true
    }
    /// Memory (bytes) and CPU time of the instance's group, where the
    /// kernel counts them.
    fn group_usage(&self, id: &(String, String)) -> (Option<u64>, Option<std::time::Duration>) {
        let _ = id;
        (None, None)
    }
    /// The instance's group as `/proc/PID/cgroup` names it (a process there
    /// is the job's: rule (e) of belonging); `None` without a group.
    fn group_proc_path(&self, id: &(String, String)) -> Option<String> {
        let _ = id;
        None
    }
    /// The instance group's figure files, kept open, for reads off the
    /// loop (`--http`); `None` without a group or past the descriptor budget.
    fn group_meter(
        &self,
        id: &(String, String),
    ) -> Option<std::sync::Arc<crate::contain::GroupMeter>> {
        let _ = id;
        None
    }
    /// The daemon exits: every group still populated is killed, empty ones
    /// removed, the daemon's domain released.
    fn groups_release(&mut self) {}
    /// Waits for the next `SysEvent`; forever when nothing is watched or held.
    fn next_event(&mut self) -> Pin<Box<dyn Future<Output = SysEvent> + '_>> {
        Box::pin(std::future::pending())
    }
}

/// `1/divisor` of the soft `RLIMIT_NOFILE` (read now: after the daemon
/// raised it): the descriptors one cache of kept-open files may hold.
pub fn descriptor_share(divisor: u64) -> usize {
    use nix::sys::resource::{Resource, getrlimit};
    getrlimit(Resource::RLIMIT_NOFILE).map_or(0, |(soft, _)| {
        usize::try_from(soft / divisor.max(1)).unwrap_or(usize::MAX)
    })
}

/// Makes sure descriptors 0, 1 and 2 are open, on /dev/null when closed, as
/// s6 and runit do: a daemon started with `2>&-` would otherwise get its
/// first socket, epoll or log file as fd 2 and write its log lines into it,
/// and hand it to every `console: inherit` job. std's runtime does the same
/// before `main`; the daemon checks again because it is its own contract.
pub fn ensure_stdio() {
    for fd in 0..=2 {
        // SAFETY: F_GETFD reads a descriptor's flags; no memory is passed.
        if unsafe { libc::fcntl(fd, libc::F_GETFD) } >= 0 {
            continue;
        }
        // open() returns the lowest free number: this one.
        let _ = nix::fcntl::open(
            "/dev/null",
            nix::fcntl::OFlag::O_RDWR,
            nix::sys::stat::Mode::empty(),
        )
        .map(std::mem::forget::<std::os::fd::OwnedFd>);
    }
}

/// Makes glibc's allocator give large freed blocks back to the kernel. By
/// default it raises its mmap threshold after the first large free, so a big
/// temporary (a `list` answer, the parsed config) stays in the heap for
/// good; fixing both thresholds turns that off (docs/performance.md).
pub fn tune_allocator() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt only sets allocator parameters; called before threads
    // other than tokio's own allocate anything large.
    unsafe {
        libc::mallopt(libc::M_MMAP_THRESHOLD, 64 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 64 * 1024);
        // One arena: the config-dir watcher's thread allocates a few hundred
        // bytes now and then; an arena of its own would hold ~116 kB of PSS.
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}
