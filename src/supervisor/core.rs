//! The one owner of all job state: definitions, instances, pids, timers, and the
//! queue of inputs. Synchronous and clock-free (`now` is passed in); never awaits.

use super::env;
use super::readiness::ProbeCmd;
use super::timers::Timers;
use crate::expr::{Event, Expr, Matcher};
use crate::job::machine::{self, Effect, Input, Job, Process, Timer};
use crate::job::{Policy, State};
use crate::loader::LoadedJob;

use crate::sys::{KillTarget, Launch, Sys};
use crate::unit::Unit;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::path::PathBuf;
use std::time::Instant;
use tracing::{debug, info, warn};

/// How long the config dir must be quiet before a change is reloaded (an
/// editor writes a file in several steps).
pub const CONFIG_SETTLE: std::time::Duration = std::time::Duration::from_millis(300);

/// At most this many forked children wait for their exec report: each holds
/// a descriptor, and the soft `RLIMIT_NOFILE` is often 1024.
const MAX_LAUNCHING: usize = 256;

/// A job instance: `(job name, instance value)`; the value is empty for a
/// job without `instance`.
pub type Key = (String, String);

/// A loaded job definition with its event matchers.
#[derive(Debug)]
pub struct JobDef {
    pub name: String,
    pub path: PathBuf,
    pub unit: Unit,
    pub start_on: Option<Matcher>,
    pub stop_on: Option<Matcher>,
}

/// What a known pid is to its job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcKind {
    Job(Process),
    /// A `ready: {exec: ...}` probe run.
    Probe,
}

/// One running (or resting) instance of a job.
#[derive(Debug)]
pub struct Instance {
    pub job: Job,
    /// The environment the instance was started with (built by `env::job_env`).
    pub env: Vec<(String, String)>,
    /// Every live process gsup knows of this instance (spawned and adopted).
    pub pids: BTreeMap<i32, ProcKind>,
    /// Process groups this instance used that may still hold processes.
    pub groups: BTreeSet<i32>,
}

/// Which timers the loop can arm: the machine's, and readiness probe retries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TimerKind {
    Job(Timer),
    ProbeRetry,
    /// The config dir changed: reload once it has been quiet for a moment.
    ConfigReload,
    /// The current shutdown wave took too long.
    ShutdownWave,
    /// SIGKILL deadline of a watchdog `kill` of this child pid.
    ChildKill(i32),
    /// `pidfile_grace` passed with no live main process (supervisor::follow).
    PidfileGrace,
}

/// The supervisor state. The async loop in `mod.rs` feeds it; tests drive it
/// with a fake `Sys` and an injected clock.
pub struct Supervisor {
    pub sys: Box<dyn Sys>,
    pub log_dir: PathBuf,
    pub runtime_dir: PathBuf,
    /// Boxed: a `BTreeMap` node holds eleven values inline, so large values in
    /// half-full nodes would cost about twice their size (issue 3's memory).
    pub defs: BTreeMap<String, Box<JobDef>>,
    pub instances: BTreeMap<Key, Box<Instance>>,
    pub pids: HashMap<i32, (Key, ProcKind)>,
    pub timers: Timers<(Key, TimerKind)>,
    pub(super) queue: VecDeque<(Key, Input)>,
    /// Probe commands for the async loop (tcp connects, notify sockets).
    pub probe_out: Vec<ProbeCmd>,
    /// Instances an event started or stopped directly, while `emit` records them.
    pub touched: Option<BTreeSet<Key>>,
    pub(super) waiters: Vec<super::requests::Waiter>,
    pub(super) shutdown: Option<super::shutdown::Shutdown>,
    pub(super) finished: bool,
    /// While the shutdown's `runlevel` event is dispatched: `stop_on` matches
    /// are left to the stop waves, which keep the dependency order.
    pub(super) defer_stops: bool,
    /// The config dir `reload-config` reads (None in tests that load by hand).
    pub config_dir: Option<PathBuf>,
    /// New definitions of running jobs, applied when they stop.
    pub(super) deferred: BTreeMap<String, LoadedJob>,
    /// Jobs whose file is gone, removed when they stop.
    pub(super) doomed: BTreeSet<String>,
    /// The watchdog and its kills in progress (`supervisor::watch`).
    pub watch: super::watch::WatchState,
    /// Event name -> the jobs whose `start_on`/`stop_on` name it, so that an
    /// event is fed only to matchers it can change (a matcher fed an event
    /// it never names is left as it was). None: rebuild (definitions changed).
    pub(super) by_event: Option<HashMap<String, BTreeSet<String>>>,
    /// Forked processes whose exec report is not read yet, in fork order;
    /// always empty between two `drain_inner` calls.
    launching: Vec<(Key, Process, crate::spawn::Started)>,
    /// Pidfile following (issue 4): tree record, watcher, per-job state.
    pub follow: super::follow::Follower,
    /// The status page, when the daemon publishes one (`supervisor::page`).
    pub(super) page: Option<super::page::PageState>,
    /// Children reaped and spawns failed since start (`--http`'s figures).
    pub reaped_total: u64,
    pub spawn_failures_total: u64,
}

impl Supervisor {
    /// An empty supervisor over `sys`.
    pub fn new(sys: Box<dyn Sys>, log_dir: PathBuf, runtime_dir: PathBuf) -> Supervisor {
        Supervisor {
            sys,
            log_dir,
            runtime_dir,
            defs: BTreeMap::new(),
            instances: BTreeMap::new(),
            pids: HashMap::new(),
            timers: Timers::default(),
            queue: VecDeque::new(),
            probe_out: Vec::new(),
            touched: None,
            waiters: Vec::new(),
            shutdown: None,
            finished: false,
            defer_stops: false,
            config_dir: None,
            deferred: BTreeMap::new(),
            doomed: BTreeSet::new(),
            watch: Default::default(),
            by_event: None,
            launching: Vec::new(),
            follow: Default::default(),
            page: None,
            reaped_total: 0,
            spawn_failures_total: 0,
        }
    }

    /// Adds loaded jobs (already checked for cycles); a job without
    /// `instance` gets its one `stop/waiting` instance at once.
    pub fn add_jobs(&mut self, jobs: Vec<LoadedJob>) {
        self.by_event = None;
        self.page_rebuild();
        for j in jobs {
            let start_on = j.unit.start_on.clone().map(Matcher::new);
            let stop_on = j.unit.stop_on.clone().map(Matcher::new);
            if j.unit.instance.is_none() {
                let key = (j.name.clone(), String::new());
                self.instances.insert(key, new_instance(&j.unit));
            }
            let def = JobDef {
                name: j.name.clone(),
                path: j.path,
                unit: j.unit,
                start_on,
                stop_on,
            };
            self.defs.insert(j.name, Box::new(def));
        }
    }

    /// True once shutdown has stopped every job; the loop then exits 0.
    pub fn finished(&self) -> bool {
        self.finished
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

    /// Starts (creating if needed) the instance of `name` selected by `start_env`;
    /// returns its key. The instance keeps `start_env` for its processes.
    pub fn start_job(&mut self, name: &str, start_env: &[(String, String)]) -> Result<Key, String> {
        if self.shutdown.is_some() {
            return Err(format!("{name}: not started: the daemon is shutting down"));
        }
        let def = self
            .defs
            .get(name)
            .ok_or_else(|| format!("{name}: no such job"))?;
        let instance =
            env::instance_name(&def.unit, start_env).map_err(|e| format!("{name}: {e}"))?;
        let full = env::job_env(name, &instance, start_env, &def.unit);
        let key = (name.to_string(), instance);
        let unit = &def.unit;
        let inst = self
            .instances
            .entry(key.clone())
            .or_insert_with(|| new_instance(unit));
        if matches!(inst.job.state, State::Waiting | State::Failed) {
            inst.env = full;
        }
        self.queue.push_back((key.clone(), Input::Start));
        Ok(key)
    }

    /// Processes queued inputs until none is left, performing their effects.
    pub fn drain(&mut self, now: Instant) {
        self.drain_inner(now);
        self.after_drain(now);
        self.sync_watch(now);
    }

    /// The queue loop of `drain`, without the bookkeeping after it.
    pub(super) fn drain_inner(&mut self, now: Instant) {
        loop {
            self.drain_queue(now);
            if self.launching.is_empty() {
                return;
            }
            self.collect_launches();
        }
    }

    /// Steps queued inputs; an input for a job whose spawn is still in
    /// flight waits until the exec reports are read (the job learns its pid
    /// before anything else happens to it).
    fn drain_queue(&mut self, now: Instant) {
        while let Some((key, input)) = self.queue.pop_front() {
            if self.launching.iter().any(|(k, _, _)| *k == key) {
                self.queue.push_front((key, input));
                self.collect_launches();
                continue;
            }
            let Some(inst) = self.instances.get_mut(&key) else {
                debug!(job = %key.0, "input for a gone instance: {input:?}");
                continue;
            };
            let (goal_before, state_before) = (inst.job.goal, inst.job.state);
            let effects = machine::step(&mut inst.job, input, now);
            let state = inst.job.state;
            if (inst.job.goal, state) != (goal_before, state_before) {
                info!(job = %label(&key), "{}/{}", inst.job.goal, state);
            }
            if state != state_before && matches!(state, State::Waiting | State::Failed) {
                self.follow_forget(&key);
            }
            self.page_mark(&key.0);
            for e in effects {
                self.perform(&key, e, now);
            }
        }
    }

    fn perform(&mut self, key: &Key, effect: Effect, now: Instant) {
        match effect {
            Effect::Spawn(p) => self.spawn(key, p),
            Effect::Signal { target, sig } => {
                if let Err(errno) = self.sys.signal(target, sig)
                    && errno != libc::ESRCH
                {
                    warn!(job = %label(key), "kill {target:?} {}: errno {errno}", sig.0);
                }
                if let (KillTarget::Group(pg), Some(inst)) = (target, self.instances.get_mut(key)) {
                    inst.groups.insert(pg);
                }
                if let KillTarget::Group(pg) = target {
                    self.follow_signal_members(key, pg, sig);
                }
            }
            Effect::SignalStrays { sig } => {
                let Some(inst) = self.instances.get(key) else {
                    return;
                };
                let pg = inst.job.pgid;
                let strays: Vec<i32> = inst
                    .pids
                    .keys()
                    .copied()
                    .filter(|p| Some(*p) != pg)
                    .collect();
                for pid in strays {
                    let _ = self.sys.signal(KillTarget::Pid(pid), sig);
                }
            }
            Effect::SetTimer(t, d) => match now.checked_add(d) {
                Some(at) => self.timers.set((key.clone(), TimerKind::Job(t)), at),
                // Too far to represent: a timer that never fires.
                None => warn!(job = %label(key), "{t:?} of {d:?} is too long; not armed"),
            },

            Effect::CancelTimer(t) => self.timers.cancel(&(key.clone(), TimerKind::Job(t))),
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
        }
    }

    fn spawn(&mut self, key: &Key, p: Process) {
        let (Some(def), Some(inst)) = (self.defs.get(&key.0), self.instances.get(key)) else {
            return;
        };
        let u = &def.unit;
        let cmd = match p {
            Process::Main => Some(&u.exec),
            Process::PreStart => u.pre_start.as_ref(),
            Process::PostStart => u.post_start.as_ref(),
            Process::PreStop => u.pre_stop.as_ref(),
            Process::PostStop => u.post_stop.as_ref(),
        };
        let mut spec_env = inst.env.clone();
        let mut notify_failed = None;
        if p == Process::Main && u.ready == crate::unit::Ready::Notify {
            let owner = u.user.as_ref().and_then(super::follow::user_uid);
            match super::readiness::bind_notify(&self.runtime_dir, key, owner) {
                Ok((path, sock)) => {
                    env::set(&mut spec_env, "NOTIFY_SOCKET", &path.to_string_lossy());
                    self.probe_out.push(ProbeCmd::Notify {
                        key: key.clone(),
                        sock,
                    });
                }
                // Without its socket the job could never be ready: fail now.
                Err(e) => notify_failed = Some(format!("notify socket: {e}")),
            }
        }
        let spec = match (notify_failed, cmd) {
            (Some(reason), _) => Err(reason),
            (None, None) => Err("no such command".to_string()),
            (None, Some(c)) => {
                env::argv(c, &spec_env).map(|argv| env::spec(&self.log_dir, u, key, argv, spec_env))
            }
        };
        let result = match spec.map(|spec| self.sys.launch(&spec)) {
            Err(e) => Err(e),
            Ok(Launch::Done(r)) => r.map_err(|e| e.to_string()),
            Ok(Launch::Started(started)) => {
                self.launching.push((key.clone(), p, started));
                if self.launching.len() >= MAX_LAUNCHING {
                    self.collect_launches();
                }
                return;
            }
        };
        self.spawned(key, p, result);
    }

    /// Reads the exec report of every launched process, in fork order, and
    /// queues each outcome ahead of other inputs.
    fn collect_launches(&mut self) {
        let launched = std::mem::take(&mut self.launching);
        let mut results = Vec::with_capacity(launched.len());
        for (key, p, started) in launched {
            results.push((key, p, started.wait().map_err(|e| e.to_string())));
        }
        // Pushed to the front in reverse, so they are stepped in fork order.
        for (key, p, result) in results.into_iter().rev() {
            self.spawned(&key, p, result);
        }
    }

    /// Records a spawn's outcome and queues it at the front for its job.
    fn spawned(&mut self, key: &Key, p: Process, result: Result<i32, String>) {
        let input = match result {
            Ok(pid) => {
                self.pids.insert(pid, (key.clone(), ProcKind::Job(p)));
                if let Some(inst) = self.instances.get_mut(key) {
                    inst.pids.insert(pid, ProcKind::Job(p));
                    if p == Process::Main {
                        inst.groups.insert(pid);
                    }
                }
                self.follow_spawned(key, p, pid);
                Input::Spawned { process: p, pid }
            }
            Err(reason) => {
                self.spawn_failures_total += 1;
                warn!(job = %label(key), "{} could not start: {reason}", p.as_str());
                let logs_to_file = self
                    .defs
                    .get(&key.0)
                    .is_some_and(|d| d.unit.console == crate::unit::Console::Log);
                if logs_to_file {
                    let path = env::log_path(&self.log_dir, &key.0, &key.1);
                    crate::logs::note(
                        &path,
                        &format!("gsup: {} could not start: {reason}", p.as_str()),
                    );
                }
                Input::SpawnFailed { process: p, reason }
            }
        };
        self.queue.push_front((key.clone(), input));
    }
}

impl Supervisor {
    /// Feeds an event to every job's `stop_on`, then `start_on`, matcher.
    pub fn dispatch(&mut self, ev: &Event) {
        debug!(event = %ev.name, env = ?ev.env, "event");
        let mut stops = Vec::new();
        let mut starts = Vec::new();
        let Supervisor { by_event, defs, .. } = self;
        let index = by_event.get_or_insert_with(|| event_index(defs));
        let Some(names) = index.get(&ev.name) else {
            return;
        };
        for name in names {
            let Some(def) = defs.get_mut(name) else {
                continue;
            };
            if let Some(m) = def.stop_on.as_mut()
                && m.feed(ev).is_some()
            {
                stops.push(def.name.clone());
            }
            if let Some(m) = def.start_on.as_mut()
                && let Some(env) = m.feed(ev)
            {
                starts.push((def.name.clone(), env));
            }
        }
        if self.defer_stops || self.shutdown.is_some() {
            stops.clear();
        }
        for name in stops {
            let keys: Vec<Key> = self
                .instances
                .keys()
                .filter(|k| k.0 == name)
                .cloned()
                .collect();
            for k in keys {
                if let Some(t) = self.touched.as_mut() {
                    t.insert(k.clone());
                }
                self.queue.push_back((k, Input::Stop));
            }
        }
        for (name, env) in starts {
            if self.shutdown.is_some() {
                continue;
            }
            match self.start_job(&name, &env) {
                Ok(k) => {
                    if let Some(t) = self.touched.as_mut() {
                        t.insert(k);
                    }
                }
                Err(e) => warn!(job = %name, "not started by {}: {e}", ev.name),
            }
        }
    }

    /// Routes reaped children to their jobs; unknown pids were reaped silently.
    pub fn on_reaped(&mut self, reaped: Vec<(i32, crate::job::Exit)>, now: Instant) {
        self.reaped_total += reaped.len() as u64;
        self.follow_batch(&reaped);
        for (pid, exit) in reaped {
            let owner = self.pids.get(&pid).map(|(k, _)| k.clone());
            if owner.is_some_and(|k| self.follow_hold(&k, pid, exit)) {
                self.pids.remove(&pid);
                continue;
            }
            let Some((key, kind)) = self.pids.remove(&pid) else {
                debug!(
                    pid,
                    "reaped an unknown process ({})",
                    machine::exit_text(exit)
                );
                continue;
            };
            let Some(inst) = self.instances.get_mut(&key) else {
                continue;
            };
            inst.pids.remove(&pid);
            match kind {
                ProcKind::Probe => self.probe_exited(&key, exit, now),
                ProcKind::Job(Process::Main) if inst.job.main_pid != Some(pid) => {
                    info!(job = %label(&key), "former main process {pid} ended ({})", machine::exit_text(exit));
                }
                ProcKind::Job(p) => self
                    .queue
                    .push_back((key, Input::Exited { process: p, exit })),
            }
        }
        self.follow_pending(now);
        self.drain(now);
    }

    /// Feeds every expired timer to its job.
    pub fn on_timers(&mut self, now: Instant) {
        for (key, kind) in self.timers.expire(now) {
            match kind {
                TimerKind::Job(t) => self.queue.push_back((key, Input::Timer(t))),
                TimerKind::ProbeRetry => self.run_exec_probe(&key),
                TimerKind::ShutdownWave => self.wave_overdue(now),
                TimerKind::ChildKill(pid) => self.child_kill_due(key, pid),
                TimerKind::PidfileGrace => self.follow_grace(&key, now),
                TimerKind::ConfigReload => {
                    let r = self.reload_request();
                    if let Some(e) = r.error {
                        warn!("config reload: {e}");
                    }
                }
            }
        }
        self.watch_timers(now);
        self.drain(now);
    }
}

/// Event name -> the jobs whose `start_on` or `stop_on` names it.
fn event_index(defs: &BTreeMap<String, Box<JobDef>>) -> HashMap<String, BTreeSet<String>> {
    fn names(e: &Expr, job: &str, out: &mut HashMap<String, BTreeSet<String>>) {
        match e {
            Expr::Match(m) => {
                out.entry(m.event.clone())
                    .or_default()
                    .insert(job.to_string());
            }
            Expr::And(l, r) | Expr::Or(l, r) => {
                names(l, job, out);
                names(r, job, out);
            }
        }
    }
    let mut out = HashMap::new();
    for def in defs.values() {
        for m in [&def.start_on, &def.stop_on].into_iter().flatten() {
            names(m.expr(), &def.name, &mut out);
        }
    }
    out
}

/// A fresh `stop/waiting` instance of `unit`.
pub fn new_instance(unit: &Unit) -> Box<Instance> {
    Box::new(Instance {
        job: Job::new(Policy::from_unit(unit)),
        env: Vec::new(),
        pids: BTreeMap::new(),
        groups: BTreeSet::new(),
    })
}

/// `JOB` or `JOB (INSTANCE)`, as log lines and status lines name an instance.
pub fn label(key: &Key) -> String {
    if key.1.is_empty() {
        key.0.clone()
    } else {
        format!("{} ({})", key.0, key.1)
    }
}
