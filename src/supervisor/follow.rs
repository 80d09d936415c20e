//! Pidfile following inside the supervisor (SPEC 4, docs/pidfiles.md "Integration"):
//! the tree record, the one watcher, per-job follow state, decisions turned into inputs.
//! Must not wait on a child (the one reaper is `Sys::reap`) nor signal a refused pid.

use super::core::{Key, Supervisor, TimerKind, label};
use crate::job::machine::{Input, Process};
use crate::job::{Exit, Goal, State};
use crate::pidfile::{
    Decision, FollowInput, MainHandle, PidfileWatcher, ProcSource, RealProc, Refusal, TreeRecord,
    decide, is_ready, read_pidfile, verify,
};
use std::collections::HashMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

mod stop;
mod wake;
pub use wake::Wake;

/// The follower's state: off in tests with a fake `Sys` (their pids are not
/// real), on in the daemon (`enable`, called inside the runtime).
#[derive(Default)]
pub struct Follower {
    enabled: bool,
    tree: TreeRecord<Key>,
    /// One inotify fd for every pidfile directory; the loop's `select!` arm.
    pub watcher: Option<PidfileWatcher<Key>>,
    procs: RealProc,
    me: i32,
    jobs: HashMap<Key, Followed>,
    /// Jobs whose main process exited in the current reap batch.
    pending: Vec<Key>,
}

/// One pidfile job's run.
struct Followed {
    path: PathBuf,
    grace: Duration,
    main: Option<i32>,
    main_alive: bool,
    /// The wait status of the current main, when gsup reaped it.
    last_exit: Option<Exit>,
    handle: Option<MainHandle>,
    /// The grace timer is armed.
    waiting: bool,
}

impl Follower {
    /// Turns following on: the daemon, inside its runtime.
    pub fn enable(&mut self) {
        self.enabled = true;
        self.me = std::process::id() as i32;
        match PidfileWatcher::new() {
            Ok(w) => self.watcher = Some(w),
            Err(e) => {
                warn!("pidfile watcher: {e}; pidfiles are read only when a main process exits")
            }
        }
    }

    fn verify(&self, key: &Key, pid: i32) -> Result<(), Refusal> {
        let other = |p: i32| self.tree.is_other_job(key, p);
        match self.tree.job(key) {
            Some(job) => verify(pid, &job.view(self.me, &other), &self.procs),
            None => Err(Refusal::NotInJob),
        }
    }
}

/// What one follow pass asks of its caller.
#[derive(PartialEq, Eq)]
enum Pass {
    Done,
    /// `NotInJob`: reap once more (a launcher may just have exited) and retry.
    ReapAndRetry,
}

impl Supervisor {
    /// Signals a pidfile job's main process `pid` through its pidfd, which
    /// reaches that very process or nobody (a pid can be reused once a new
    /// master's parent, not gsup, reaped it). `None` when no handle is held
    /// on `pid`: the caller signals by pid.
    pub(super) fn follow_signal_main(&self, key: &Key, pid: i32, sig: i32) -> Option<bool> {
        let f = self.follow.jobs.get(key)?;
        let h = f.handle.as_ref().filter(|h| h.pid() == pid)?;
        Some(h.signal(sig).is_ok())
    }

    /// Spawn hook: records the process in the tree; a main process of a
    /// pidfile job starts a followed run and watches the file (not read yet:
    /// it may be stale).
    pub(super) fn follow_spawned(&mut self, key: &Key, p: Process, pid: i32) {
        if !self.follow.enabled {
            return;
        }
        let Some(start) = self.follow.procs.start_time(pid) else {
            return;
        };
        if p != Process::Main {
            self.follow.tree.add(key, pid, start);
            return;
        }
        let (Some(def), Some(inst)) = (self.defs.get(&key.0), self.instances.get(key)) else {
            return;
        };
        let uid = def.creds.as_ref().ok().and_then(|c| c.as_ref()?.job_uid());
        self.follow.tree.job_started(key.clone(), pid, start, uid);
        let Some(template) = def.unit.pidfile.as_deref() else {
            return;
        };
        let path = match crate::unit::expand::expand_str(template, &inst.env) {
            Ok(p) => PathBuf::from(p),
            Err(e) => {
                warn!(job = %label(key), "pidfile: {e}; not followed");
                return;
            }
        };
        if let Some(w) = self.follow.watcher.as_mut()
            && let Err(e) = w.watch(&path, key.clone())
        {
            warn!(job = %label(key), "cannot watch pidfile {}: {e}; read only when the main process exits", path.display());
        }
        let grace = def.unit.pidfile_grace;
        self.timers.cancel(&(key.clone(), TimerKind::PidfileGrace));
        self.follow.jobs.insert(
            key.clone(),
            Followed {
                path,
                grace,
                main: Some(pid),
                main_alive: true,
                last_exit: None,
                handle: MainHandle::open(pid).ok(),
                waiting: false,
            },
        );
    }

    /// Reap hook, before routing a batch: orphans are attributed first, so
    /// that nginx's master is known when its launcher's exit is judged.
    pub(super) fn follow_batch(&mut self, reaped: &[(i32, Exit)]) {
        let f = &mut self.follow;
        if !f.enabled || reaped.is_empty() {
            return;
        }
        let exited: Vec<(i32, Key)> = reaped
            .iter()
            .filter_map(|(p, _)| f.tree.owner(*p).map(|k| (*p, k.clone())))
            .collect();
        let children = f.procs.children(f.me);
        let (adopted, left) = f.tree.attribute_orphans(&exited, &children, &f.procs);
        for (pid, key) in adopted {
            debug!(job = %label(&key), pid, "orphan attributed to the job");
        }
        for (pid, why) in left {
            debug!(pid, "orphan not attributed: {why:?}");
        }
    }

    /// Reap hook: the current main of a followed job exited while the job
    /// should run; its exit is held until the pidfile has been read. True
    /// when held (the caller then does not queue `Exited`).
    pub(super) fn follow_hold(&mut self, key: &Key, pid: i32, exit: Exit) -> bool {
        let Some(f) = self.follow.jobs.get_mut(key) else {
            return false;
        };
        let Some(inst) = self.instances.get_mut(key) else {
            return false;
        };
        let live = inst.job.goal == Goal::Start
            && matches!(
                inst.job.state,
                State::Spawned | State::PostStart | State::Running
            );
        if !live || inst.job.main_pid != Some(pid) || f.main != Some(pid) {
            return false;
        }
        inst.pids.remove(&pid);
        f.main_alive = false;
        f.last_exit = Some(exit);
        f.handle = None;
        info!(job = %label(key), "main process {pid} ended ({}); reading the pidfile", crate::job::machine::exit_text(exit));
        self.follow.pending.push(key.clone());
        true
    }

    /// After a routed batch: follows every job whose main exited in it.
    pub(super) fn follow_pending(&mut self, now: Instant) {
        let keys = std::mem::take(&mut self.follow.pending);
        for key in keys {
            self.follow_job(&key, false, now);
        }
    }

    /// The watcher reported changes: one reap batch first, then follow.
    pub fn on_pidfile_changes(
        &mut self,
        changes: Vec<(Key, crate::pidfile::Change)>,
        now: Instant,
    ) {
        self.follow_reap(now);
        for (key, change) in changes {
            if change == crate::pidfile::Change::Lost
                && let (Some(f), Some(w)) =
                    (self.follow.jobs.get(&key), self.follow.watcher.as_mut())
                && let Err(e) = w.watch(&f.path, key.clone())
            {
                warn!(job = %label(&key), "cannot watch pidfile {} again: {e}", f.path.display());
            }
            self.follow_job(&key, false, now);
        }
        self.drain(now);
    }

    /// The grace timer fired.
    pub(super) fn follow_grace(&mut self, key: &Key, now: Instant) {
        if let Some(f) = self.follow.jobs.get_mut(key) {
            f.waiting = false;
        }
        self.follow_job(key, true, now);
    }

    fn follow_reap(&mut self, now: Instant) {
        let reaped = self.sys.reap();
        if !reaped.is_empty() {
            self.on_reaped(reaped, now);
        }
    }

    /// Step 4 of the recipe: read, verify, decide, act.
    fn follow_job(&mut self, key: &Key, grace_expired: bool, now: Instant) {
        if self.follow_pass(key, grace_expired, false, now) == Pass::ReapAndRetry {
            self.follow_reap(now);
            self.follow_pass(key, grace_expired, true, now);
        }
    }

    fn follow_pass(&mut self, key: &Key, grace_expired: bool, retried: bool, now: Instant) -> Pass {
        let live = self.instances.get(key).is_some_and(|i| {
            i.job.goal == Goal::Start
                && i.job.main_pid.is_some()
                && matches!(
                    i.job.state,
                    State::Spawned | State::PostStart | State::Running
                )
        });
        let Some(f) = self.follow.jobs.get_mut(key) else {
            return Pass::Done;
        };
        if !live {
            return Pass::Done;
        }
        if f.main_alive && f.handle.as_ref().is_some_and(|h| h.has_exited()) {
            f.main_alive = false;
            f.handle = None;
        }
        let (path, main, main_alive) = (f.path.clone(), f.main, f.main_alive);
        let read = read_pidfile(&path);
        let verdict = read.as_ref().ok().map(|p| self.follow.verify(key, *p));
        if !retried && matches!(verdict, Some(Err(Refusal::NotInJob))) {
            return Pass::ReapAndRetry;
        }
        let ready = is_ready(&read, verdict.as_ref());
        let decision = decide(&FollowInput {
            main,
            main_alive,
            read,
            verdict,
            grace_expired,
        });
        match decision {
            Decision::Keep => {
                if main_alive {
                    self.follow_cancel_grace(key);
                    if ready {
                        self.follow_ready(key);
                    }
                }
            }
            Decision::Replace { from, to } => self.follow_replace(key, from, to, now),
            Decision::WaitGrace => self.follow_wait(key, now),
            Decision::Refused { pid, reason } => {
                let shown = pid.map_or(String::new(), |p| format!(" (pid {p})"));
                let job = label(key);
                warn!(job = %job, "{job}: pidfile {} refused{shown}: {reason}", path.display());
                self.follow_wait(key, now);
            }
            Decision::Gone => self.follow_gone(key),
        }
        Pass::Done
    }

    fn follow_replace(&mut self, key: &Key, from: Option<i32>, to: i32, now: Instant) {
        let Some(info) = self.follow.procs.info(to) else {
            return self.follow_wait(key, now);
        };
        self.follow.tree.add(key, to, info.start_time);
        let f = &self.follow;
        let other = |p: i32| f.tree.is_other_job(key, p);
        let handle = match f.tree.job(key) {
            Some(job) => MainHandle::open_verified(to, &job.view(f.me, &other), &f.procs),
            None => return,
        };
        let handle = match handle {
            Ok(h) => h,
            Err(e) => {
                debug!(job = %label(key), "new main {to}: {e:?}");
                if !self.follow.jobs.get(key).is_some_and(|f| f.main_alive) {
                    self.follow_wait(key, now);
                }
                return;
            }
        };
        let from = from.map_or("?".to_string(), |p| p.to_string());
        info!(job = %label(key), "main process {from} replaced by {to} (pidfile)");
        if let Some(f) = self.follow.jobs.get_mut(key) {
            f.main = Some(to);
            f.main_alive = true;
            f.last_exit = None;
            f.handle = Some(handle);
        }
        self.follow_cancel_grace(key);
        self.record_main(key, to);
        self.follow_ready(key);
    }

    fn follow_ready(&mut self, key: &Key) {
        let waits = self.instances.get(key).is_some_and(|i| {
            i.job.state == State::Spawned && !i.job.ready && i.job.policy.wait_ready
        });
        let pidfile_ready = self
            .defs
            .get(&key.0)
            .is_some_and(|d| d.unit.ready == crate::unit::Ready::Pidfile);
        if waits && pidfile_ready {
            self.queue.push_back((key.clone(), Input::Ready));
        }
    }

    fn follow_wait(&mut self, key: &Key, now: Instant) {
        let Some(f) = self.follow.jobs.get_mut(key) else {
            return;
        };
        if f.waiting {
            return;
        }
        f.waiting = true;
        info!(job = %label(key), "no live main process named by the pidfile; waiting up to {:?}", f.grace);
        if let Some(at) = now.checked_add(f.grace) {
            self.timers.set((key.clone(), TimerKind::PidfileGrace), at);
        }
    }

    /// The instance's run is over (it rests in `waiting` or `failed`, every
    /// process gone): forget its pidfile watch, follow state and process
    /// tree, so that transient instances leave nothing behind.
    pub(super) fn follow_forget(&mut self, key: &Key) {
        if !self.follow.enabled {
            return;
        }
        if self.follow.jobs.remove(key).is_some()
            && let Some(w) = self.follow.watcher.as_mut()
        {
            w.unwatch(key);
        }
        self.follow.tree.forget_job(key);
        self.timers.cancel(&(key.clone(), TimerKind::PidfileGrace));
    }

    fn follow_cancel_grace(&mut self, key: &Key) {
        if let Some(f) = self.follow.jobs.get_mut(key) {
            f.waiting = false;
        }
        self.timers.cancel(&(key.clone(), TimerKind::PidfileGrace));
    }

    /// No live main within the grace: the main's exit (its wait status when
    /// gsup reaped it, else "lost") goes to the machine.
    fn follow_gone(&mut self, key: &Key) {
        self.follow_cancel_grace(key);
        let Some(f) = self.follow.jobs.get_mut(key) else {
            return;
        };
        let input = match f.last_exit.take() {
            Some(exit) if !f.main_alive => Input::Exited {
                process: Process::Main,
                exit,
            },
            _ => Input::MainLost,
        };
        f.main_alive = false;
        f.handle = None;
        info!(job = %label(key), "no live main process within pidfile_grace: the main process has ended");
        self.queue.push_back((key.clone(), input));
    }
}
