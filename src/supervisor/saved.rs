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
use serde::{Deserialize, Serialize};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
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
}

impl Saved {
    /// The state of `sup` now.
    pub fn of(sup: &Supervisor, now: Instant) -> Saved {
        let ago = |t: Instant| now.saturating_duration_since(t).as_millis() as u64;
        let procs = sup.sys.procs();
        let instances = sup
            .jobs
            .instances()
            .map(|(key, inst)| {
                let j = &inst.job;
                let main_start = j
                    .main_pid
                    .and_then(|p| procs.stat(p))
                    .map(|s| s.start_ticks);
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
                }
            })
            .collect();
        Saved {
            version: VERSION,
            pid: sup.sys.own_pid(),
            boot_ms: boot_ms(),
            boot_id: boot_id(),
            instances,
        }
    }

    /// Reads the state under `dir`; `Err` names what is wrong (missing,
    /// unreadable, another version, corrupt).
    pub fn read(dir: &Path) -> Result<Saved, String> {
        let path = dir.join(FILE);
        let text = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let saved: Saved =
            serde_json::from_slice(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if saved.version != VERSION {
            return Err(format!(
                "{}: format version {} (this gsup reads {VERSION})",
                path.display(),
                saved.version
            ));
        }
        Ok(saved)
    }

    /// Writes the state under `dir` atomically (a temporary file renamed over
    /// the old one), mode 0600, never through a symlink.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let tmp = dir.join(format!("{FILE}.tmp"));
        let _ = std::fs::remove_file(&tmp);
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        let bytes = serde_json::to_vec(self).map_err(std::io::Error::other)?;
        f.write_all(&bytes)?;
        drop(f);
        std::fs::rename(&tmp, dir.join(FILE))
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
            }],
        };
        saved.write(dir.path()).expect("write");
        assert_eq!(Saved::read(dir.path()), Ok(saved.clone()));
        assert!(saved.this_boot());
        assert!(saved.since(5) >= Duration::from_millis(5));
        std::fs::write(dir.path().join(FILE), b"{not json").expect("corrupt");
        assert!(Saved::read(dir.path()).is_err());
        let mut future = saved;
        future.version = 99;
        future.write(dir.path()).expect("write");
        assert!(
            Saved::read(dir.path())
                .expect_err("other version")
                .contains("version 99")
        );
    }
}
