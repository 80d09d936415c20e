//! `RealSys`: the kernel behind the `Sys` seam. Spawns through `spawn`, reaps
//! through `reap`, reads `/proc`, holds the pidfds and the one inotify fd.

use super::groups::Groups;
use super::inotify::Watcher;
use super::pidfd::PidFd;
use super::{Containment, KillTarget, Sys, SysEvent, WatchId};
use crate::job::Exit;
use crate::pidfile::PidfileError;
use crate::procfs::{ProcSource, RealProc};
use crate::spawn::{SpawnError, SpawnSpec, Spawner};
use crate::unit::Signal;
use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::task::Poll;

/// Descriptors the daemon keeps for its own work (clients on the control
/// socket, the state file, the page): launches wait while fewer are free.
pub const DESCRIPTOR_RESERVE: u64 = 32;

/// The real kernel. The inotify fd and the pidfds register with the tokio
/// runtime, so watches and pidfds need one (the daemon's); spawning,
/// signalling, reaping and reading do not.
#[derive(Default)]
pub struct RealSys {
    spawner: Spawner,
    procs: RealProc,
    watcher: Option<Watcher<WatchId>>,
    pidfds: HashMap<i32, PidFd>,
    groups: Groups,
}

impl std::fmt::Debug for RealSys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RealSys")
            .field("pidfds", &self.pidfds.len())
            .field("groups", &self.groups)
            .field("watching", &self.watcher.is_some())
            .finish()
    }
}

impl RealSys {
    /// The kernel, containing jobs in cgroups of `domain` (`None`: as their
    /// subreaper).
    pub fn with_cgroups(domain: Option<crate::contain::Cgroups>) -> RealSys {
        let mut spawner = Spawner::new();
        // The slots on low numbers, before a descriptor per job is opened
        // (a failure here is retried, and reported, at the first spawn).
        let _ = spawner.reserve();
        RealSys {
            spawner,
            groups: Groups::new(domain),
            ..RealSys::default()
        }
    }

    fn watcher(&mut self) -> std::io::Result<&mut Watcher<WatchId>> {
        if self.watcher.is_none() {
            self.watcher = Some(Watcher::new()?);
        }
        self.watcher
            .as_mut()
            .ok_or_else(|| std::io::Error::other("no watcher"))
    }
}

impl Sys for RealSys {
    fn spawn(&mut self, spec: &SpawnSpec) -> Result<i32, SpawnError> {
        self.spawner.spawn(spec)
    }

    /// `kill(-pgid)` for a group, `kill(pid)` for one process. Refuses any
    /// pid or pgid <= 1 with EINVAL, so `kill(-1)`, `kill(0)` and PID 1 are
    /// never reachable through here.
    fn signal(&mut self, target: KillTarget, sig: Signal) -> Result<(), i32> {
        let dest = match target {
            KillTarget::Group(pgid) if pgid > 1 => -pgid,
            KillTarget::Pid(pid) if pid > 1 => pid,
            _ => return Err(libc::EINVAL),
        };
        // SAFETY: kill has no memory arguments; `dest` is never -1, 0 or 1.
        if unsafe { libc::kill(dest, sig.0) } < 0 {
            return Err(std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EINVAL));
        }
        Ok(())
    }

    fn short_of_descriptors(&self) -> bool {
        use nix::fcntl::{FcntlArg, fcntl};
        use nix::sys::resource::{Resource, getrlimit};
        let Ok((soft, _)) = getrlimit(Resource::RLIMIT_NOFILE) else {
            return false;
        };
        // The kernel gives the lowest free number: when even that is within
        // the reserve, the daemon is nearly out (two syscalls, no /proc read).
        match fcntl(std::io::stdin(), FcntlArg::F_DUPFD_CLOEXEC(0)) {
            Ok(fd) => {
                // SAFETY: `fd` was just made by F_DUPFD and is owned by nobody else.
                drop(unsafe { <std::os::fd::OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) });
                u64::try_from(fd)
                    .unwrap_or(0)
                    .saturating_add(DESCRIPTOR_RESERVE)
                    >= soft
            }
            Err(e) => matches!(e, nix::errno::Errno::EMFILE | nix::errno::Errno::ENFILE),
        }
    }

    fn populated_groups(&self) -> Vec<((String, String), Vec<i32>)> {
        self.groups.populated_groups()
    }

    fn all_pids(&self) -> Vec<i32> {
        self.procs.all_pids()
    }

    fn signal_all(&mut self, sig: Signal) -> Result<(), i32> {
        // Only PID 1 may end everything: anywhere else kill(-1) would reach
        // every process of the user, far outside the daemon's jobs.
        if self.own_pid() != 1 {
            return Err(libc::EPERM);
        }
        // SAFETY: kill has no memory arguments.
        if unsafe { libc::kill(-1, sig.0) } < 0 {
            return Err(std::io::Error::last_os_error()
                .raw_os_error()
                .unwrap_or(libc::EINVAL));
        }
        Ok(())
    }

    fn reap(&mut self) -> Vec<(i32, Exit)> {
        crate::reap::reap_all()
    }

    fn procs(&self) -> &dyn ProcSource {
        &self.procs
    }

    fn own_pid(&self) -> i32 {
        std::process::id() as i32
    }

    fn own_children(&self) -> Vec<i32> {
        // Every thread's children (a child belongs to the thread that forked it).
        self.procs.children(self.own_pid(), u64::MAX)
    }

    fn read_pidfile(&self, path: &Path) -> Result<i32, PidfileError> {
        crate::pidfile::read_pidfile(path)
    }

    fn pidfd_open(&mut self, pid: i32) -> Result<(), i32> {
        let fd = PidFd::open(pid).map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))?;
        self.pidfds.insert(pid, fd);
        Ok(())
    }

    fn pidfd_close(&mut self, pid: i32) {
        self.pidfds.remove(&pid);
    }

    fn pidfd_exited(&self, pid: i32) -> bool {
        self.pidfds.get(&pid).is_some_and(PidFd::has_exited)
    }

    fn pidfd_signal(&mut self, pid: i32, sig: Signal) -> Result<(), i32> {
        let fd = self.pidfds.get(&pid).ok_or(libc::EBADF)?;
        fd.signal(sig.0)
            .map_err(|e| e.raw_os_error().unwrap_or(libc::EIO))
    }

    fn watch_file(&mut self, id: WatchId, path: &Path) -> std::io::Result<()> {
        self.watcher()?.watch(path, id)
    }

    fn watch_dir(&mut self, id: WatchId, dir: &Path) -> std::io::Result<()> {
        self.watcher()?.watch_dir(dir, id)
    }

    fn unwatch(&mut self, id: &WatchId) {
        if let Some(w) = self.watcher.as_mut() {
            w.unwatch(id);
        }
    }

    fn containment(&self) -> Containment {
        if self.groups.enabled() {
            Containment::Cgroup
        } else {
            Containment::Subreaper
        }
    }

    fn group_open(&mut self, id: &(String, String)) -> Result<(), String> {
        self.groups.open(id)
    }

    fn group_procs(&mut self, id: &(String, String)) -> Option<std::os::fd::OwnedFd> {
        self.groups.procs_fd(id)
    }

    fn group_signal(&mut self, id: &(String, String), sig: Signal) -> usize {
        self.groups.signal(id, sig)
    }

    fn group_kill(&mut self, id: &(String, String)) {
        self.groups.kill(id)
    }

    fn group_populated(&self, id: &(String, String)) -> Option<bool> {
        self.groups.populated(id)
    }

    fn group_close(&mut self, id: &(String, String)) -> bool {
        self.groups.close(id)
    }

    fn group_usage(&self, id: &(String, String)) -> (Option<u64>, Option<std::time::Duration>) {
        self.groups.usage(id)
    }

    fn group_proc_path(&self, id: &(String, String)) -> Option<String> {
        self.groups.proc_path(id)
    }

    fn group_meter(
        &self,
        id: &(String, String),
    ) -> Option<std::sync::Arc<crate::contain::GroupMeter>> {
        self.groups.meter(id)
    }

    fn groups_release(&mut self) {
        self.groups.release()
    }

    /// A change of a watched name, or the exit of a process a pidfd holds.
    fn next_event(&mut self) -> Pin<Box<dyn Future<Output = SysEvent> + '_>> {
        let RealSys {
            watcher, pidfds, ..
        } = self;
        Box::pin(async move {
            let mut exits: Vec<Pin<Box<dyn Future<Output = i32> + '_>>> = pidfds
                .values()
                .map(|fd| {
                    Box::pin(async move {
                        let _ = fd.exited().await;
                        fd.pid()
                    }) as Pin<Box<dyn Future<Output = i32> + '_>>
                })
                .collect();
            let any_exit = std::future::poll_fn(|cx| {
                for f in exits.iter_mut() {
                    if let Poll::Ready(pid) = f.as_mut().poll(cx) {
                        return Poll::Ready(pid);
                    }
                }
                Poll::Pending
            });
            let changes = async {
                match watcher.as_mut() {
                    Some(w) => w.next().await,
                    None => std::future::pending().await,
                }
            };
            let got = tokio::select! {
                r = changes => r.map_err(|e| e.to_string()),
                pid = any_exit => return SysEvent::PidExited(pid),
            };
            match got {
                Ok(v) => SysEvent::Changed(v),
                Err(e) => {
                    *watcher = None;
                    SysEvent::WatchFailed(e)
                }
            }
        })
    }
}
