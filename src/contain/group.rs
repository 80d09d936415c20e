//! One job instance's cgroup: placing a child in it, listing, signalling and
//! killing its processes, its figures, removing it. It must not create groups (`Cgroups` does) or wait for a child.

use super::meter::GroupMeter;
use super::{dir, files, signal};
use crate::unit::Signal;
use std::fs::File;
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

/// How deep `procs` looks into groups a job made inside its own.
const MAX_DEPTH: usize = 16;

/// How long `kill_each` waits for the group to freeze before it kills anyway.
const FREEZE_WAIT: Duration = Duration::from_millis(100);

/// The cgroup of one job instance. Holds its directory open, so every call
/// reaches this very group, whatever happens to names.
#[derive(Debug)]
pub struct JobCgroup {
    pub(super) job: String,
    pub(super) instance: String,
    /// The directory's name in the domain (`JOB@INSTANCE`, escaped).
    pub(super) name: String,
    pub(super) path: PathBuf,
    /// The group as `/proc/PID/cgroup` names it.
    pub(super) proc_path: String,
    pub(super) dir: OwnedFd,
    pub(super) domain: Arc<OwnedFd>,
    /// Its figure files, opened at the first [`JobCgroup::meter`].
    pub(super) meter: OnceLock<Arc<GroupMeter>>,
}

impl JobCgroup {
    /// The job this group belongs to.
    pub fn job(&self) -> &str {
        &self.job
    }

    /// The instance value (empty for a job without instances).
    pub fn instance(&self) -> &str {
        &self.instance
    }

    /// The group's directory, for log lines and `status -v`.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The group as `/proc/PID/cgroup` names it: a process whose cgroup is
    /// this, or below it, was started in the job (only the daemon moves
    /// processes into it).
    pub fn proc_path(&self) -> &str {
        &self.proc_path
    }

    /// The group's directory descriptor: for `clone3(CLONE_INTO_CGROUP)`
    /// (kernel 5.7+), which starts the child in the group with no write at all.
    pub fn dir_fd(&self) -> BorrowedFd<'_> {
        self.dir.as_fd()
    }

    /// Opens the group's `cgroup.procs` (`O_WRONLY|O_CLOEXEC`) for one spawn.
    /// The child writes the one byte `0` (`write(fd, "0", 1)`) to it
    /// between clone and exec, which moves the child itself into the group;
    /// close-on-exec closes it in the child. The caller keeps the returned
    /// fd open until the child has exec'd or failed, then drops it.
    pub fn open_procs(&self) -> io::Result<OwnedFd> {
        Ok(OwnedFd::from(dir::open_file(
            self.dir.as_fd(),
            "cgroup.procs",
            true,
        )?))
    }

    /// The file to watch with inotify (`IN_MODIFY`, plus `IN_DONT_FOLLOW`)
    /// to learn, without polling, when the group empties or freezes; then
    /// read [`JobCgroup::populated`].
    pub fn events_path(&self) -> PathBuf {
        self.path.join("cgroup.events")
    }

    /// Whether a process lives in the group or in a group below it
    /// (`populated` of `cgroup.events`).
    pub fn populated(&self) -> io::Result<bool> {
        Ok(files::events(&dir::read(self.dir.as_fd(), "cgroup.events")?).populated)
    }

    /// No process left in the group (the opposite of `populated`; an error
    /// reading counts as not empty).
    pub fn is_empty(&self) -> bool {
        matches!(self.populated(), Ok(false))
    }

    /// Every process in the group and in groups the job made below it, by
    /// pid (in the daemon's pid namespace).
    pub fn procs(&self) -> io::Result<Vec<i32>> {
        let mut out = files::pids(&dir::read(self.dir.as_fd(), "cgroup.procs")?);
        let mut todo: Vec<(OwnedFd, usize)> = Vec::new();
        for name in dir::subdirs(self.dir.as_fd())? {
            // A child group removed meanwhile is simply not listed.
            if let Ok(child) = dir::open_dir(self.dir.as_fd(), &name) {
                todo.push((child, 1));
            }
        }
        while let Some((fd, depth)) = todo.pop() {
            match dir::read(fd.as_fd(), "cgroup.procs") {
                Ok(bytes) => out.extend(files::pids(&bytes)),
                // A threaded group lists no processes; a removed one, none.
                Err(_) => continue,
            }
            if depth < MAX_DEPTH {
                for name in dir::subdirs(fd.as_fd()).unwrap_or_default() {
                    if let Ok(child) = dir::open_dir(fd.as_fd(), &name) {
                        todo.push((child, depth + 1));
                    }
                }
            }
        }
        Ok(out)
    }

    /// Sends `sig` to every process of the group (see `procs`) as it is at
    /// this moment, once, through pidfds so that no reused pid is hit.
    /// Once: a process made after the signal, by a process handling it (a
    /// shell trap's cleanup, a server's last log write), is left to finish,
    /// as Upstart's signal to the process group left it; whatever is still
    /// there at the kill timeout gets the kill (`kill`, atomic, forks
    /// included). Not frozen first: a frozen process takes the signal only
    /// when thawed, and freezing waits on any process in uninterruptible
    /// sleep. Returns how many processes were signalled.
    /// A stopped process keeps a `TERM` pending: follow with `CONT`.
    pub fn signal_all(&self, sig: Signal) -> io::Result<usize> {
        signal::signal_listed(|| self.procs(), sig.0, 1)
    }

    /// SIGKILLs every process in the group and below it. With
    /// `cgroup.kill` (kernel 5.14+) one write does it atomically, racing
    /// forks included; without, [`JobCgroup::kill_each`]. Returns at once:
    /// the processes die a moment later; watch `events_path` for the group
    /// to empty.
    pub fn kill(&self) -> io::Result<()> {
        match dir::write(self.dir.as_fd(), "cgroup.kill", "1") {
            // No cgroup.kill (before 5.14), or a threaded group (EOPNOTSUPP).
            Err(e)
                if e.kind() == io::ErrorKind::NotFound
                    || e.raw_os_error() == Some(libc::EOPNOTSUPP) =>
            {
                self.kill_each()
            }
            other => other,
        }
    }

    /// What `kill` does without `cgroup.kill`: freeze the group (kernel
    /// 5.2+; waits at most 100 ms for it to take), SIGKILL every listed
    /// process (a frozen process cannot fork, and a killed one dies frozen
    /// or not), thaw. Public so that it is tested on kernels that have `cgroup.kill`.
    pub fn kill_each(&self) -> io::Result<()> {
        let froze = dir::write(self.dir.as_fd(), "cgroup.freeze", "1").is_ok();
        if froze {
            let _ = self.wait_events(FREEZE_WAIT, |e| e.frozen);
        }
        let killed = signal::signal_listed(|| self.procs(), libc::SIGKILL, signal::MAX_ROUNDS);
        if froze {
            let _ = dir::write(self.dir.as_fd(), "cgroup.freeze", "0");
        }
        killed.map(|_| ())
    }

    /// Blocks until the group is empty or `timeout` has passed; true when
    /// empty. Sleeps in `poll` on `cgroup.events`, which the kernel wakes
    /// on each change. For shutdown, tests and benches: the daemon's loop
    /// watches `events_path` instead.
    pub fn wait_empty(&self, timeout: Duration) -> io::Result<bool> {
        self.wait_events(timeout, |e| !e.populated)
    }

    fn wait_events(
        &self,
        timeout: Duration,
        done: impl Fn(files::Events) -> bool,
    ) -> io::Result<bool> {
        let deadline = Instant::now() + timeout;
        let file: File = dir::open_file(self.dir.as_fd(), "cgroup.events", false)?;
        let mut buf = [0u8; 256];
        loop {
            let n = dir::reread(&file, &mut buf)?;
            if done(files::events(&buf[..n])) {
                return Ok(true);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let mut pfd = libc::pollfd {
                fd: file.as_raw_fd(),
                events: libc::POLLPRI,
                revents: 0,
            };
            let ms = i32::try_from(left.as_millis().max(1)).unwrap_or(i32::MAX);
            // SAFETY: one valid pollfd for the duration of the call.
            unsafe { libc::poll(&mut pfd, 1, ms) };
        }
    }

    /// Removes the group, after any empty groups the job made inside it.
    /// The kernel refuses while a process is in it (EBUSY): kill, wait for
    /// `populated 0`, then remove.
    pub fn remove(&self) -> io::Result<()> {
        remove_children(self.dir.as_fd(), 0);
        if !dir::is_same(self.domain.as_fd(), &self.name, &self.dir) {
            return Err(io::Error::from_raw_os_error(libc::ENOENT));
        }
        dir::remove_dir(self.domain.as_fd(), &self.name)
    }

    /// Its figure files (`memory.current`, `cpu.stat`), kept open from the
    /// first call on: the caller counts [`GroupMeter::descriptors`].
    pub fn meter(&self) -> &Arc<GroupMeter> {
        self.meter
            .get_or_init(|| Arc::new(GroupMeter::open(self.dir.as_fd())))
    }

    /// The figure files when [`JobCgroup::meter`] opened them.
    pub fn opened_meter(&self) -> Option<&Arc<GroupMeter>> {
        self.meter.get()
    }

    /// Bytes of memory the group uses (`memory.current`: anonymous, page
    /// cache, kernel); `None` without the memory controller (a hybrid host),
    /// where the caller reads `/proc` instead. Opens the file for this read.
    pub fn memory_bytes(&self) -> Option<u64> {
        files::number(&dir::read(self.dir.as_fd(), "memory.current").ok()?)
    }

    /// CPU time used by every process that ran in the group, the dead
    /// included (`usage_usec` of `cpu.stat`, present in every group on
    /// kernels since 4.15 even without the cpu controller); `None` without it.
    pub fn cpu_usage(&self) -> Option<Duration> {
        let usec = files::cpu_usage_usec(&dir::read(self.dir.as_fd(), "cpu.stat").ok()?)?;
        Some(Duration::from_micros(usec))
    }
}

/// Removes the empty groups below `dir`, deepest first (best effort).
fn remove_children(dir_fd: BorrowedFd<'_>, depth: usize) {
    if depth >= MAX_DEPTH {
        return;
    }
    for name in dir::subdirs(dir_fd).unwrap_or_default() {
        if let Ok(child) = dir::open_dir(dir_fd, &name) {
            remove_children(child.as_fd(), depth + 1);
        }
        let _ = dir::remove_dir(dir_fd, &name);
    }
}
