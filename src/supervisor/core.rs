//! The supervisor: the one owner of all job state, composed of narrow parts
//! (job table, pid table, launcher, follower, timers, watchdog) that each own
//! their data. It steps the machines and performs their effects through
//! `Sys`; synchronous and clock-free (`now` is passed in); never awaits.

use super::follow::Follower;
use super::jobs::{JobTable, Key, label};
use super::launch::Launcher;
use super::pids::{PidTable, ProcKind};
use super::readiness::ProbeCmd;
use super::timers::{TimerKey, Timers};
use crate::expr::Event;
use crate::job::State;
use crate::job::machine::{self, Effect, Input, Process};
use crate::loader::LoadedJob;
use crate::sys::{KillTarget, Sys, SysEvent, WatchId};
use std::collections::VecDeque;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tracing::{debug, info, warn};

/// The first back-off of a spawn put off by a shortage; it doubles each time.
const SPAWN_RETRY_FIRST: Duration = Duration::from_millis(100);
/// The longest back-off between two tries of a put-off spawn.
const SPAWN_RETRY_MAX: Duration = Duration::from_secs(10);

/// How long the config dir must be quiet before a change is reloaded (an
/// editor writes a file in several steps).
pub const CONFIG_SETTLE: Duration = Duration::from_millis(300);

/// The supervisor state. The async loop in `mod.rs` feeds it; tests drive it
/// with a fake `Sys` and an injected clock.
pub struct Supervisor {
    /// Every effect on the kernel.
    pub sys: Box<dyn Sys>,
    /// Definitions and instances (each instance's machine).
    pub jobs: JobTable,
    /// pid -> instance.
    pub pids: PidTable,
    /// Builds and spawns processes.
    pub launcher: Launcher,
    /// Pidfile following.
    pub follow: Follower,
    /// Every armed deadline.
    pub timers: Timers<TimerKey>,
    /// The watchdog and its kills in progress (`supervisor::watch`).
    pub watch: super::watch::WatchState,
    /// Inputs waiting to be stepped, in order.
    queue: VecDeque<(Key, Input)>,
    /// Probe commands for the async loop (tcp connects, notify sockets).
    pub probe_out: Vec<ProbeCmd>,
    /// Instances an event started (true) or stopped (false) directly, while
    /// `emit` records them.
    pub(super) touched: Option<std::collections::BTreeMap<Key, bool>>,
    pub(super) waiters: Vec<super::requests::Waiter>,
    pub(super) shutdown: Option<super::shutdown::Shutdown>,
    /// While the shutdown's `runlevel` event is dispatched: `stop_on` matches
    /// are left to the stop waves, which keep the dependency order.
    pub(super) defer_stops: bool,
    /// `reload-config`'s state: the dir, and changes waiting for jobs to stop.
    pub(super) reload: super::reload::ReloadState,
    /// The status page, when the daemon publishes one (`supervisor::page`).
    pub(super) page: Option<super::page::PageState>,
    /// `gsup reexec` was asked for: the loop replaces the daemon after this turn.
    pub reexec: bool,
    /// The jobs changed since the state was last saved (`save_state`).
    pub(super) state_dirty: bool,
    /// The previous CPU sample of each instance's tree (`supervisor::usage`).
    pub(super) usage: super::usage::Usage,
    /// Children reaped and spawns failed since start (`--http`'s figures).
    pub reaped_total: u64,
    pub spawn_failures_total: u64,
    /// The runtime dir, held open, where the state is saved (none: not saved).
    pub state_dir: Option<std::os::fd::OwnedFd>,
    /// The start time (clock ticks after boot) of each main process, by pid,
    /// with the `spawned_at` of the run it was read for: saving the state
    /// then reads `/proc` only for mains it has not seen (`saved::Saved::of`).
    pub(super) main_starts:
        std::cell::RefCell<std::collections::HashMap<i32, (Option<Instant>, u64)>>,
    /// Check counters taken back with their instances, put into the
    /// watchdog when it watches them again (`sync_watch`).
    pub(super) pending_counters: std::collections::HashMap<Key, crate::watchdog::Counters>,
    /// Spawns put off by a shortage, with how often each was tried.
    pub(super) spawn_retries: std::collections::HashMap<(Key, Process), u32>,
    /// The log thread every `console: log` job writes through (`joblog`);
    /// `None` in tests with a fake kernel, whose jobs get their file's path.
    pub logs: Option<crate::logs::LogHub>,
    /// Log pipes handed over for a re-exec that has not happened yet.
    pub(super) handed: Vec<crate::logs::Handover>,
}

impl Supervisor {
    /// An empty supervisor over `sys`.
    pub fn new(sys: Box<dyn Sys>, log_dir: PathBuf, runtime_dir: PathBuf) -> Supervisor {
        Supervisor {
            sys,
            jobs: JobTable::default(),
            pids: PidTable::default(),
            launcher: Launcher {
                log_dir,
                runtime_dir,
            },
            follow: Follower::default(),
            timers: Timers::default(),
            watch: Default::default(),
            queue: VecDeque::new(),
            probe_out: Vec::new(),
            touched: None,
            waiters: Vec::new(),
            shutdown: None,
            defer_stops: false,
            reload: Default::default(),
            page: None,
            reexec: false,
            state_dirty: true,
            usage: Default::default(),
            reaped_total: 0,
            spawn_failures_total: 0,
            state_dir: None,
            main_starts: Default::default(),
            spawn_retries: std::collections::HashMap::new(),
            pending_counters: std::collections::HashMap::new(),
            logs: None,
            handed: Vec::new(),
        }
    }

    /// Adds loaded jobs (already checked for cycles).
    pub fn add_jobs(&mut self, jobs: Vec<LoadedJob>) {
        self.page_rebuild();
        for j in jobs {
            self.jobs.add(j);
        }
    }

    /// True once shutdown has stopped every job; the loop then exits 0.
    pub fn finished(&self) -> bool {
        self.shutdown.as_ref().is_some_and(|s| s.finished)
    }

    /// The earliest armed deadline: the loop sleeps until then, or forever.
    pub fn next_deadline(&self) -> Option<Instant> {
        let w = self.watch_due();
        self.timers.next().into_iter().chain(w).min()
    }

    /// Queues `input` for `key` (processed by `drain`).
    pub fn feed(&mut self, key: Key, input: Input) {
        self.queue.push_back((key, input));
    }

    /// Starts (creating if needed) the instance of `name` selected by
    /// `start_env`; returns its key. The instance keeps `start_env` for its processes.
    pub fn start_job(&mut self, name: &str, start_env: &[(String, String)]) -> Result<Key, String> {
        if self.shutdown.is_some() {
            return Err(format!("{name}: not started: the daemon is shutting down"));
        }
        let key = self.jobs.instance_for_start(name, start_env)?;
        self.feed(key.clone(), Input::Start);
        Ok(key)
    }

    /// Processes queued inputs until none is left, performing their effects,
    /// then answers waiters and moves shutdown on.
    pub fn drain(&mut self, now: Instant) {
        self.drain_inner(now);
        self.after_drain(now);
        self.sync_watch(now);
    }

    /// Steps queued inputs until none is left, without the bookkeeping after.
    pub(super) fn drain_inner(&mut self, now: Instant) {
        while let Some((key, input)) = self.queue.pop_front() {
            let Some(stepped) = self.jobs.step(&key, input, now) else {
                debug!(job = %key.0, "input for a gone instance");
                continue;
            };
            self.state_dirty = true;
            let (goal, state) = stepped.after;
            if stepped.after != stepped.before {
                info!(job = %label(&key), "{goal}/{state}");
            }
            self.page_mark(&key.0);
            for e in stepped.effects {
                self.perform(&key, e, now);
            }
            // After the effects: the last sweep of the run still needs to
            // know the run's processes.
            if state != stepped.before.1 && matches!(state, State::Waiting | State::Failed) {
                self.log_close(&key);
                self.follow_forget(&key);
                if !self.sys.group_close(&key) {
                    self.pids.close_later(&key);
                }
            }
        }
    }

    fn perform(&mut self, key: &Key, effect: Effect, now: Instant) {
        match effect {
            Effect::Spawn(p) => self.spawn(key, p, now),
            Effect::Signal { target, sig } => {
                if let Err(errno) = self.sys.signal(target, sig)
                    && errno != libc::ESRCH
                {
                    warn!(job = %label(key), "kill {target:?} {}: errno {errno}", sig.0);
                }
                if let KillTarget::Group(pg) = target {
                    self.pids.add_group(key, pg);
                    self.signal_rest_of_job(key, pg, sig);
                }
            }
            Effect::SignalStrays { sig } => {
                let pg = self.jobs.get(key).and_then(|i| i.job.pgid);
                for (pid, _) in self.pids.of(key) {
                    if Some(pid) != pg {
                        let _ = self.sys.signal(KillTarget::Pid(pid), sig);
                    }
                }
            }
            Effect::SetTimer(t, d) => match now.checked_add(d) {
                Some(at) => self.timers.set(TimerKey::Job(key.clone(), t), at),
                // Too far to represent: a timer that never fires.
                None => warn!(job = %label(key), "{t:?} of {d:?} is too long; not armed"),
            },
            Effect::CancelTimer(t) => self.timers.cancel(&TimerKey::Job(key.clone(), t)),
            Effect::Emit { name, env } => {
                let mut full = vec![
                    ("JOB".to_string(), key.0.clone()),
                    ("INSTANCE".to_string(), key.1.clone()),
                ];
                full.extend(env);
                self.dispatch(&Event {
                    name: name.to_string(),
                    env: full,
                });
            }
            Effect::StartReadiness => self.start_probe(key),
            Effect::StopReadiness => self.stop_probe(key),
            Effect::Log(m) => info!(job = %label(key), "{m}"),
            Effect::Ignored(m) => warn!(job = %label(key), "{m}"),
            Effect::Note(m) => self.note(key, &format!("gsup: {m}")),
        }
    }

    /// Spawns process `p` of `key` and puts the outcome at the front of the
    /// queue: the job learns its pid before anything else happens to it.
    fn spawn(&mut self, key: &Key, p: Process, now: Instant) {
        let (Some(def), Some(inst)) = (self.jobs.def(&key.0), self.jobs.get(key)) else {
            return;
        };
        if p == Process::Main {
            self.follow.before_spawn(self.sys.as_mut(), key, def, inst);
        }
        if self.sys.short_of_descriptors() {
            // Launching now could leave the daemon without a descriptor to
            // answer a client with: wait for some to be freed.
            let reason = "put off: the daemon is short of file descriptors";
            self.retry_spawn_later(key, p, reason, now);
            return;
        }
        let launched =
            self.launcher
                .launch(self.sys.as_mut(), self.logs.as_mut(), key, def, inst, p);
        if let Some(probe) = launched.probe {
            self.probe_out.push(probe);
        }
        let input = match launched.result {
            Ok(pid) => {
                self.spawn_retries.remove(&(key.clone(), p));
                self.pids.insert(pid, key, ProcKind::Job(p));
                if p == Process::Main {
                    self.pids.add_group(key, pid);
                }
                if let (Some(def), Some(inst)) = (self.jobs.def(&key.0), self.jobs.get(key)) {
                    let outs = self
                        .follow
                        .spawned(self.sys.as_mut(), key, p, pid, def, inst);
                    self.apply_follow(key, outs, now);
                }
                Input::Spawned { process: p, pid }
            }
            Err(reason) => {
                self.spawn_failures_total += 1;
                if launched.transient {
                    self.retry_spawn_later(key, p, &format!("could not start: {reason}"), now);
                    return;
                }
                self.spawn_retries.remove(&(key.clone(), p));
                Input::SpawnFailed { process: p, reason }
            }
        };
        self.queue.push_front((key.clone(), input));
    }

    /// Writes the saved state (`supervisor::saved`) under `dir` when the jobs
    /// changed since the last write: at most once per loop turn.
    /// Saves the state now, changed or not (before a re-exec).
    pub fn force_save_state(&mut self, now: Instant) {
        self.state_dirty = true;
        self.save_state(now);
    }

    /// Writes the saved state (`supervisor::saved`) in the runtime dir when
    /// the jobs changed since the last write: at most once per loop turn.
    pub fn save_state(&mut self, now: Instant) {
        if !std::mem::take(&mut self.state_dirty) {
            return;
        }
        let Some(dir) = self.state_dir.as_ref() else {
            return;
        };
        let saved = super::saved::Saved::of(self, now);
        if let Err(e) = saved.write_at(std::os::fd::AsFd::as_fd(dir)) {
            warn!("cannot save the state in the runtime dir: {e}");
        }
    }

    /// Feeds an event to every job's `stop_on`, then `start_on`, matcher.
    pub fn dispatch(&mut self, ev: &Event) {
        debug!(event = %ev.name, env = ?ev.env, "event");
        let mut m = self.jobs.feed_event(ev);
        if self.defer_stops || self.shutdown.is_some() {
            m.stops.clear();
        }
        for name in m.stops {
            for k in self.jobs.keys_of(&name) {
                if let Some(t) = self.touched.as_mut() {
                    t.entry(k.clone()).or_insert(false);
                }
                self.feed(k, Input::Stop);
            }
        }
        if self.shutdown.is_some() {
            return;
        }
        for (name, env) in m.starts {
            match self.start_job(&name, &env) {
                Ok(k) => {
                    if let Some(t) = self.touched.as_mut() {
                        t.insert(k, true);
                    }
                }
                Err(e) => warn!(job = %name, "not started by {}: {e}", ev.name),
            }
        }
    }

    /// Routes reaped children to their jobs; unknown pids were reaped silently.
    pub fn on_reaped(&mut self, reaped: Vec<(i32, crate::job::Exit)>, now: Instant) {
        self.reaped_total += reaped.len() as u64;
        self.follow.batch(self.sys.as_ref(), &reaped);
        for (pid, exit) in reaped {
            let Some((key, kind)) = self.pids.owner(pid).cloned() else {
                debug!(
                    pid,
                    "reaped an unknown process ({})",
                    machine::exit_text(exit)
                );
                continue;
            };
            if let Some(inst) = self.jobs.get(&key)
                && self.follow.hold(self.sys.as_mut(), &key, pid, exit, inst)
            {
                self.pids.remove(pid);
                continue;
            }
            self.pids.remove(pid);
            let Some(inst) = self.jobs.get(&key) else {
                continue;
            };
            match kind {
                ProcKind::Probe => self.probe_exited(&key, exit, now),
                ProcKind::Job(Process::Main) if inst.job.main_pid != Some(pid) => {
                    info!(job = %label(&key), "former main process {pid} ended ({})", machine::exit_text(exit));
                }
                ProcKind::Job(p) => self.feed(key, Input::Exited { process: p, exit }),
            }
        }
        for key in self.follow.take_pending() {
            self.follow_job(&key, false, now);
        }
        self.drain(now);
    }

    /// A spawn failed for a shortage that passes: the job keeps waiting
    /// for its outcome and the spawn is tried again after a back-off
    /// (0.1 s, doubling up to 10 s, for as long as the job still wants it).
    fn retry_spawn_later(&mut self, key: &Key, p: Process, reason: &str, now: Instant) {
        let tries = self.spawn_retries.entry((key.clone(), p)).or_insert(0);
        *tries = tries.saturating_add(1);
        let delay = SPAWN_RETRY_FIRST
            .saturating_mul(1u32 << (*tries - 1).min(7))
            .min(SPAWN_RETRY_MAX);
        warn!(
            job = %label(key),
            "{} {reason}; trying again in {delay:?} (attempt {tries})",
            p.as_str()
        );
        if let Some(at) = now.checked_add(delay) {
            self.timers.set(TimerKey::SpawnRetry(key.clone(), p), at);
        }
    }

    /// The back-off of a put-off spawn is over: spawn again if the job
    /// still waits for it (a stop meanwhile has moved it on).
    fn spawn_retry_due(&mut self, key: Key, p: Process, now: Instant) {
        if self.jobs.get(&key).is_some_and(|i| i.job.awaits_spawn(p)) {
            self.spawn(&key, p, now);
        } else {
            self.spawn_retries.remove(&(key, p));
        }
    }

    /// Feeds every expired timer to its owner.
    pub fn on_timers(&mut self, now: Instant) {
        for t in self.timers.expire(now) {
            match t {
                TimerKey::Job(key, t) => self.feed(key, Input::Timer(t)),
                TimerKey::ProbeRetry(key) => self.run_exec_probe(&key),
                TimerKey::ShutdownWave => self.wave_overdue(now),
                TimerKey::ChildKill(key, pid) => self.child_kill_due(key, pid),
                TimerKey::PidfileGrace(key) => self.follow_grace(&key, now),
                TimerKey::ConfigReload => self.request_reload(None),
                TimerKey::SpawnRetry(key, p) => self.spawn_retry_due(key, p, now),
            }
        }
        self.watch_timers(now);
        self.drain(now);
    }

    /// Something the kernel told through `Sys::next_event`.
    pub fn on_sys_event(&mut self, ev: SysEvent, now: Instant) {
        match ev {
            SysEvent::PidExited(pid) => self.on_pid_exited(pid, now),
            SysEvent::Changed(changes) => {
                let mut pidfiles = Vec::new();
                for (id, change) in changes {
                    match id {
                        WatchId::Pidfile(job, instance) => pidfiles.push(((job, instance), change)),
                        WatchId::Config => self.on_config_changed(now),
                    }
                }
                if !pidfiles.is_empty() {
                    self.on_pidfile_changes(pidfiles, now);
                }
            }
            SysEvent::WatchFailed(e) => {
                warn!(
                    "file watch failed: {e}; pidfiles are read when a main process exits, the config on reload-config"
                )
            }
        }
    }
}
