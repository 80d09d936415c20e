//! The watchdog in the supervisor: which instances are watched, the cycle timer, and
//! carrying out `WatchAction`s (job restart/stop as machine inputs, alerts, exec,
//! signals, a child's kill). It must not reap (the one reaper does) nor measure itself.

use super::core::Supervisor;
use super::jobs::{Key, label};
use super::timers::TimerKey;
use crate::job::State;
use crate::job::machine::{CheckAction, Input};
use crate::rule::Action;
use crate::spawn::SpawnSpec;
use crate::sys::KillTarget;
use crate::watchdog::kill::{ChildKill, Victim};
use crate::watchdog::{
    DEFAULT_CYCLE, JobKey, Target, WatchAction, WatchEvent, WatchSpec, Watchdog, alert,
};
use std::collections::HashMap;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// The supervisor's watchdog state: the `Watchdog`, the `--alert-command`, and the
/// kills of single children in progress (their SIGKILL deadline is a supervisor timer).
pub struct WatchState {
    pub wd: Watchdog,
    pub alert_command: Vec<String>,
    kills: HashMap<(Key, i32), ChildKill>,
}

impl std::fmt::Debug for WatchState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchState")
            .field("wd", &self.wd)
            .field("kills", &self.kills.len())
            .finish()
    }
}

impl Default for WatchState {
    fn default() -> Self {
        WatchState::new(DEFAULT_CYCLE, None)
    }
}

impl WatchState {
    /// The daemon's watchdog: `--cycle` and `--alert-command`.
    pub fn new(cycle: Duration, alert_command: Option<Vec<String>>) -> WatchState {
        WatchState {
            wd: Watchdog::new(cycle),
            alert_command: alert_command.unwrap_or_default(),
            kills: HashMap::new(),
        }
    }
}

fn job_key(key: &Key) -> JobKey {
    JobKey {
        name: key.0.clone(),
        instance: key.1.clone(),
    }
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

impl Supervisor {
    /// After a drain: an instance with checks is watched while its goal is `start`
    /// (across its own restarts), and unwatched when its goal is `stop` (stopped,
    /// failed) or it is gone.
    pub(super) fn sync_watch(&mut self, now: Instant) {
        for (key, inst) in self.jobs.instances() {
            let Some(def) = self.jobs.def(&key.0) else {
                continue;
            };
            let u = &def.unit;
            if u.checks.is_empty() && u.child_checks.is_empty() {
                continue;
            }
            let jk = job_key(key);
            if inst.job.goal == crate::job::Goal::Start {
                // A watched job's definition only changes once it has stopped
                // (reload defers it), so a watched one keeps its spec: no clone.
                if self.watch.wd.is_watched(&jk) {
                    continue;
                }
                let spec = WatchSpec {
                    cycle: u.cycle,
                    checks: u.checks.clone(),
                    child_checks: u.child_checks.clone(),
                };
                self.watch.wd.watch(jk.clone(), spec, now);
                if let Some(c) = self.pending_counters.remove(key) {
                    self.watch.wd.restore(&jk, c);
                }
            } else if self.watch.wd.is_watched(&jk) {
                self.watch.wd.unwatch(&jk);
            }
        }
        let gone: Vec<JobKey> = self
            .watch
            .wd
            .watched()
            .into_iter()
            .filter(|k| {
                self.jobs
                    .get(&(k.name.clone(), k.instance.clone()))
                    .is_none()
            })
            .collect();
        for k in gone {
            self.watch.wd.unwatch(&k);
        }
    }

    /// The watchdog's next cycle, if anything is watched.
    pub(super) fn watch_due(&self) -> Option<Instant> {
        self.watch.wd.due()
    }

    /// Runs the watchdog's cycle when it is due, and carries out its actions.
    pub(super) fn watch_timers(&mut self, now: Instant) {
        if self.watch.wd.due().is_none_or(|d| d > now) {
            return;
        }
        let running: Vec<(JobKey, i32, u32)> = self
            .jobs
            .instances()
            .filter(|(_, i)| i.job.state == State::Running)
            .filter_map(|(k, i)| Some((job_key(k), i.job.main_pid?, i.job.restarts)))
            .collect();
        let actions = self.watch.wd.run_cycle(now, &running);
        // The check counters moved: they are part of the saved state.
        self.state_dirty = true;
        for a in actions {
            self.perform_watch(a, now);
        }
    }

    fn perform_watch(&mut self, a: WatchAction, now: Instant) {
        let line = alert::log_line(&a);
        match a.event {
            WatchEvent::Failed => warn!("{line}"),
            WatchEvent::Recovered => info!("{line}"),
        }
        let t = unix_now();
        if let Some(spec) = alert::alert_spec(&self.watch.alert_command, &a, t)
            && let Err(e) = self.sys.spawn(&spec)
        {
            warn!("alert command {:?}: {e}", spec.argv);
        }
        if a.event == WatchEvent::Recovered {
            return;
        }
        let key: Key = (a.job.name.clone(), a.job.instance.clone());
        if matches!(a.action, Action::Restart | Action::Stop) {
            self.kill_strays(&key, a.main_pid, now);
        }
        match (&a.action, a.target) {
            (Action::Restart, _) => self.feed(
                key,
                Input::Check {
                    action: CheckAction::Restart,
                    rule: a.check_source.clone(),
                    value: a.measured.clone(),
                },
            ),
            (Action::Stop, _) => self.feed(
                key,
                Input::Check {
                    action: CheckAction::Stop,
                    rule: a.check_source.clone(),
                    value: a.measured.clone(),
                },
            ),
            (Action::Alert, _) => {}
            (Action::Exec(_), _) => {
                // The check's command runs as the job does: never with more
                // power than the job it watches.
                // A job whose user cannot be resolved runs nothing at all.
                let creds = match self.jobs.def(&key.0).map(|d| &d.creds) {
                    Some(Ok(c)) => c.clone(),
                    Some(Err(e)) => return warn!(job = %label(&key), "check exec not run: {e}"),
                    None => return,
                };
                let spec = alert::exec_spec(&a, t).map(|spec| SpawnSpec { creds, ..spec });
                if let Some(spec) = spec
                    && let Err(e) = self.sys.spawn(&spec)
                {
                    warn!(job = %label(&key), "exec {:?}: {e}", spec.argv);
                }
            }
            (Action::Signal(sig), target) => {
                let pid = match target {
                    Target::JobWide => a.main_pid,
                    Target::Child { pid, .. } => pid,
                };
                let _ = self.sys.signal(KillTarget::Pid(pid), *sig);
            }
            (Action::Kill, Target::Child { pid, start_ticks }) => {
                self.begin_child_kill(key, Victim { pid, start_ticks }, now)
            }
            (Action::Kill, Target::JobWide) => {
                warn!(job = %label(&key), "kill is for child_checks only; ignored")
            }
        }
    }

    fn begin_child_kill(&mut self, key: Key, v: Victim, now: Instant) {
        if self.watch.kills.contains_key(&(key.clone(), v.pid)) {
            return;
        }
        let timeout = self
            .jobs
            .def(&key.0)
            .map(|d| d.unit.kill_timeout)
            .unwrap_or(Duration::from_secs(5));
        if let Some(k) = ChildKill::begin(self.sys.as_mut(), v, timeout, now) {
            self.timers
                .set(TimerKey::ChildKill(key.clone(), v.pid), k.deadline);
            self.watch.kills.insert((key, v.pid), k);
        }
    }

    /// Before a check restarts or stops the job: processes of the main's tree that
    /// left the job's process group (a worker that called `setsid`) would escape the
    /// group kill, so each is killed by pid like a child (TERM, SIGKILL after
    /// `kill_timeout`). Found now, while they are still in the tree.
    fn kill_strays(&mut self, key: &Key, main_pid: i32, now: Instant) {
        let Some(pgid) = self.jobs.get(key).and_then(|i| i.job.pgid) else {
            return;
        };
        let tree = crate::procfs::walk(self.sys.procs(), main_pid);
        let out: Vec<&crate::procfs::Proc> = tree
            .iter()
            .filter(|p| p.pid != main_pid && p.pgid != pgid && !p.is_exited())
            .collect();
        let tops: Vec<Victim> = out
            .iter()
            .filter(|p| !out.iter().any(|q| q.pid == p.ppid))
            .map(|p| Victim {
                pid: p.pid,
                start_ticks: p.start_ticks,
            })
            .collect();
        for v in tops {
            warn!(job = %label(key), pid = v.pid, "killing a process that left the job's group");
            self.begin_child_kill(key.clone(), v, now);
        }
    }

    /// The SIGKILL deadline of a child's kill: escalate, then forget it (the
    /// killed processes are reaped by their master or by the one reaper).
    pub(super) fn child_kill_due(&mut self, key: Key, pid: i32) {
        if let Some(k) = self.watch.kills.remove(&(key, pid))
            && !k.done(self.sys.procs())
        {
            let n = k.escalate(self.sys.as_mut());
            warn!(
                pid,
                "child kill: SIGKILL to {n} process(es) after kill_timeout"
            );
        }
    }

    /// The watchdog's figures for `status`: tree memory, CPU and failing checks.
    pub(super) fn watch_status(&self, key: &Key, st: &mut crate::control::proto::JobStatus) {
        if self.watch.wd.is_empty() {
            return;
        }
        if let Some(ws) = self.watch.wd.status(&job_key(key)) {
            st.memory_bytes = Some(ws.memory_bytes);
            st.cpu_percent = ws.cpu_percent;
            st.failing_checks = ws.failing;
        }
    }
}
