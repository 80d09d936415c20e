//! The daemon's state kept under its runtime dir (`RUNTIME_DIR/state`), so
//! that a daemon started again (after SIGKILL, the OOM killer, a bug) or a
//! re-exec'd one takes its jobs back instead of starting second copies.
//! The data and its file; `adopt` turns it back into instances.
//!
//! Times are kept as "milliseconds before the save" together with the
//! boot clock at the save, so that they mean the same in a new process.

use super::core::Supervisor;
use super::jobs::Key;
use crate::job::{Exit, Goal, State};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use serde::{Deserialize, Serialize};
use std::io::{Read, Write};
use std::os::fd::BorrowedFd;
use std::path::Path;
use std::time::{Duration, Instant};

/// The format's version: a daemon refuses a file of another one (it then
/// adopts what it finds in its cgroups alone).
pub const VERSION: u32 = 1;

/// The file under the runtime dir.
pub const FILE: &str = "state";

/// Everything a new daemon needs to take the jobs back.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Saved {
    pub version: u32,
    /// The daemon that wrote it.
    pub pid: i32,
    /// `CLOCK_BOOTTIME` at the save, in milliseconds.
    pub boot_ms: u64,
    /// The kernel's boot id at the save: a state from before a reboot is
    /// not taken back.
    pub boot_id: String,
    pub instances: Vec<SavedInstance>,
}

/// One instance.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SavedInstance {
    pub job: String,
    pub instance: String,
    pub env: Vec<(String, String)>,
    pub goal: Goal,
    pub state: State,
    pub main_pid: Option<i32>,
    /// The main's start time (clock ticks after boot): a pid that was
    /// recycled meanwhile is not the job's.
    pub main_start: Option<u64>,
    pub pgid: Option<i32>,
    pub ready: bool,
    pub reason: Option<String>,
    pub last_exit: Option<Exit>,
    /// Why the last exit happened (absent in a state saved before it was kept).
    #[serde(default)]
    pub last_cause: Option<crate::job::Cause>,
    pub restarts: u32,
    /// How long before the save each recent respawn happened.
    pub respawns_ago_ms: Vec<u64>,
    /// How long before the save the main process was spawned.
    pub spawned_ago_ms: Option<u64>,
    /// Other processes the job is known to own (pid, start ticks).
    pub known: Vec<(i32, u64)>,
    /// The watchdog's counters of the job's checks (absent when unwatched,
    /// or in a state saved before they were kept).
    #[serde(default)]
    pub checks: Option<crate::watchdog::Counters>,
}

impl Saved {
    /// A state made from what the job groups hold, for a daemon that has
    /// none it can read (a file of a future format, a corrupt one, none at
    /// all after a crash before the first save): each group of a job without
    /// instances becomes a running instance whose main is its oldest living
    /// process, the others known ones. Groups of instance jobs are left out
    /// (their variables are not in the group). `children` tells whether
    /// those mains are this process's children (a re-exec).
    pub fn from_groups(
        groups: &[((String, String), Vec<i32>)],
        procs: &dyn crate::procfs::ProcSource,
        own_pid: i32,
    ) -> (Saved, bool) {
        let mut instances = Vec::new();
        let mut children = true;
        for ((job, instance), pids) in groups {
            if !instance.is_empty() {
                continue;
            }
            let mut living: Vec<crate::procfs::Proc> = pids
                .iter()
                .filter_map(|&p| procs.stat(p))
                .filter(|p| !p.is_exited())
                .collect();
            living.sort_by_key(|p| (p.start_ticks, p.pid));
            let Some(main) = living.first().copied() else {
                continue;
            };
            children &= main.ppid == own_pid;
            instances.push(SavedInstance {
                job: job.clone(),
                instance: String::new(),
                env: Vec::new(),
                goal: Goal::Start,
                state: State::Running,
                main_pid: Some(main.pid),
                main_start: Some(main.start_ticks),
                pgid: Some(main.pgid),
                ready: true,
                reason: None,
                last_exit: None,
                last_cause: None,
                restarts: 0,
                respawns_ago_ms: Vec::new(),
                spawned_ago_ms: None,
                known: living[1..].iter().map(|p| (p.pid, p.start_ticks)).collect(),
                checks: None,
            });
        }
        let saved = Saved {
            version: VERSION,
            pid: own_pid,
            boot_ms: boot_ms(),
            boot_id: boot_id(),
            instances,
        };
        (saved, children)
    }

    /// The state of `sup` now.
    pub fn of(sup: &Supervisor, now: Instant) -> Saved {
        let ago = |t: Instant| now.saturating_duration_since(t).as_millis() as u64;
        let instances: Vec<SavedInstance> = sup
            .jobs
            .instances()
            .map(|(key, inst)| {
                let j = &inst.job;
                let main_start = j.main_pid.and_then(|p| sup.main_start(p, j.spawned_at));
                SavedInstance {
                    job: key.0.clone(),
                    instance: key.1.clone(),
                    env: inst.env.clone(),
                    goal: j.goal,
                    state: j.state,
                    main_pid: j.main_pid,
                    main_start,
                    pgid: j.pgid,
                    ready: j.ready,
                    reason: j.reason.clone(),
                    last_exit: j.last_exit,
                    last_cause: j.last_cause.clone(),
                    restarts: j.restarts,
                    respawns_ago_ms: j.respawns.iter().map(|t| ago(*t)).collect(),
                    spawned_ago_ms: j.spawned_at.map(ago),
                    known: sup.follow.known(key),
                    checks: sup.watch.wd.counters(&crate::watchdog::JobKey {
                        name: key.0.clone(),
                        instance: key.1.clone(),
                    }),
                }
            })
            .collect();
        let mains: std::collections::HashSet<i32> =
            instances.iter().filter_map(|i| i.main_pid).collect();
        sup.main_starts
            .borrow_mut()
            .retain(|pid, _| mains.contains(pid));
        Saved {
            version: VERSION,
            pid: sup.sys.own_pid(),
            boot_ms: boot_ms(),
            boot_id: boot_id(),
            instances,
        }
    }

    /// Reads the state in the runtime dir `dir` (held open; `shown` is its
    /// path for messages): `None` when there is none. Never through a link.
    pub fn read_at(dir: BorrowedFd<'_>, shown: &Path) -> Result<Option<Saved>, String> {
        let path = shown.join(FILE);
        let Some(text) = read_file_at(dir, FILE).map_err(|e| format!("{}: {e}", path.display()))?
        else {
            return Ok(None);
        };
        let saved: Saved =
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if saved.version != VERSION {
            return Err(format!(
                "{}: format version {} (this gsup reads {VERSION})",
                path.display(),
                saved.version
            ));
        }
        Ok(Some(saved))
    }

    /// Writes the state in the runtime dir `dir` (held open) atomically: a
    /// temporary file, mode 0600, renamed over the old one; never through a
    /// link (the dir was opened without following any, the names are
    /// opened relative to it with `O_NOFOLLOW`).
    pub fn write_at(&self, dir: BorrowedFd<'_>) -> std::io::Result<()> {
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        write_file_at(dir, FILE, &bytes)
    }

    /// Removes the state (a clean exit: the next daemon starts afresh).
    pub fn remove_at(dir: BorrowedFd<'_>) {
        remove_file_at(dir, FILE);
    }

    /// True when it was saved since the machine last booted.
    pub fn this_boot(&self) -> bool {
        !self.boot_id.is_empty() && self.boot_id == boot_id()
    }

    /// How long ago, now, something was that happened `ms` before the save.
    pub fn since(&self, ms: u64) -> Duration {
        let passed = boot_ms().saturating_sub(self.boot_ms);
        Duration::from_millis(ms.saturating_add(passed))
    }
}

/// The file `name` in the directory `dir` (held open), opened without
/// following a link; `None` when there is none.
pub(super) fn read_file_at(dir: BorrowedFd<'_>, name: &str) -> std::io::Result<Option<Vec<u8>>> {
    let flags = OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = match nix::fcntl::openat(dir, name, flags, Mode::empty()) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut text = Vec::new();
    std::fs::File::from(fd).read_to_end(&mut text)?;
    Ok(Some(text))
}

/// Writes `bytes` as the file `name` in the directory `dir` (held open)
/// atomically: a temporary file, mode 0600, renamed over the old one; never
/// through a link (names are opened relative to `dir` with `O_NOFOLLOW`).
pub(super) fn write_file_at(dir: BorrowedFd<'_>, name: &str, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = format!("{name}.tmp");
    let _ = nix::unistd::unlinkat(dir, tmp.as_str(), nix::unistd::UnlinkatFlags::NoRemoveDir);
    let flags =
        OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = nix::fcntl::openat(dir, tmp.as_str(), flags, Mode::from_bits_truncate(0o600))?;
    std::fs::File::from(fd).write_all(bytes)?;
    nix::fcntl::renameat(dir, tmp.as_str(), dir, name)?;
    Ok(())
}

/// Removes the file `name` from the directory `dir` (held open), if there.
pub(super) fn remove_file_at(dir: BorrowedFd<'_>, name: &str) {
    let _ = nix::unistd::unlinkat(dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir);
}

impl Supervisor {
    /// The start time of the main process `pid` of a run spawned at
    /// `spawned_at`: read from `/proc` once, then remembered. A new run (a
    /// respawn that got the same pid) reads it afresh.
    pub(super) fn main_start(&self, pid: i32, spawned_at: Option<Instant>) -> Option<u64> {
        if let Some(&(at, start)) = self.main_starts.borrow().get(&pid)
            && at == spawned_at
        {
            return Some(start);
        }
        let start = self.sys.procs().stat(pid)?.start_ticks;
        self.main_starts
            .borrow_mut()
            .insert(pid, (spawned_at, start));
        Some(start)
    }
}

impl SavedInstance {
    /// The instance's key.
    pub fn key(&self) -> Key {
        (self.job.clone(), self.instance.clone())
    }
}

/// The kernel's random boot id (empty when it cannot be read).
fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// `CLOCK_BOOTTIME` in milliseconds.
fn boot_ms() -> u64 {
    crate::procfs::boot_time().as_millis() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_through_the_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let saved = Saved {
            version: VERSION,
            pid: 42,
            boot_ms: boot_ms(),
            boot_id: boot_id(),
            instances: vec![SavedInstance {
                job: "w".into(),
                instance: "high".into(),
                env: vec![("QUEUE".into(), "high".into())],
                goal: Goal::Start,
                state: State::Running,
                main_pid: Some(7),
                main_start: Some(100),
                pgid: Some(7),
                ready: true,
                reason: None,
                last_exit: Some(Exit::Signal(9)),
                last_cause: Some(crate::job::Cause::KillTimeout(Duration::from_secs(5))),
                restarts: 3,
                respawns_ago_ms: vec![10, 20],
                spawned_ago_ms: Some(5),
                known: vec![(8, 101)],
                checks: Some(crate::watchdog::Counters {
                    cycle_no: 7,
                    ..Default::default()
                }),
            }],
        };
        let fd = std::fs::File::open(dir.path()).expect("open dir");
        let at = || std::os::fd::AsFd::as_fd(&fd);
        assert_eq!(Saved::read_at(at(), dir.path()), Ok(None), "none yet");
        saved.write_at(at()).expect("write");
        assert_eq!(Saved::read_at(at(), dir.path()), Ok(Some(saved.clone())));
        assert!(saved.this_boot());
        assert!(saved.since(5) >= Duration::from_millis(5));
        std::fs::write(dir.path().join(FILE), b"{not json").expect("corrupt");
        assert!(Saved::read_at(at(), dir.path()).is_err());
        let mut future = saved.clone();
        future.version = 99;
        future.write_at(at()).expect("write");
        assert!(
            Saved::read_at(at(), dir.path())
                .expect_err("other version")
                .contains("version 99")
        );
        // A link at the name is neither read nor written through.
        let secret = dir.path().join("secret");
        std::fs::write(&secret, b"keep").expect("secret");
        std::fs::remove_file(dir.path().join(FILE)).expect("rm");
        std::os::unix::fs::symlink(&secret, dir.path().join(FILE)).expect("link");
        assert!(Saved::read_at(at(), dir.path()).is_err());
        saved
            .write_at(at())
            .expect("the link is replaced, not followed");
        assert_eq!(std::fs::read(&secret).expect("secret"), b"keep");
        Saved::remove_at(at());
        assert_eq!(Saved::read_at(at(), dir.path()), Ok(None));
    }
}
