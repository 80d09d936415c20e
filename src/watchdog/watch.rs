//! The `Watchdog`: per-job watch state (checks, counters, previous samples, next due
//! time) and the cycle that turns samples into actions. It decides; it never signals,
//! spawns or restarts anything: the supervisor carries out the `WatchAction`s.

use super::eval::{
    self, CheckState, Observation, RestartLog, Verdict, describe_failing, measured_text, value_text,
};
use super::sample::{Sampler, TreeSample};
use crate::rule::{Action, Check, Condition};
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// A job or one instance of it (`instance` is empty for a job without instances).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct JobKey {
    pub name: String,
    pub instance: String,
}

/// What the unit file asks the watchdog to do for one job.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WatchSpec {
    /// The unit's `cycle:`; None: the daemon's `--cycle`.
    pub cycle: Option<Duration>,
    pub checks: Vec<Check>,
    pub child_checks: Vec<Check>,
}

/// Whom an action is for: the whole job, or one child of its main process.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    JobWide,
    /// A direct child of the main process (from `child_checks`), by pid, with the
    /// start time that identifies it against pid reuse.
    Child {
        pid: i32,
        start_ticks: u64,
    },
}

/// Whether a check started failing (its action fired) or recovered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchEvent {
    Failed,
    Recovered,
}

/// One thing the supervisor must do because a check fired (or recovered).
#[derive(Debug, Clone, PartialEq)]
pub struct WatchAction {
    pub job: JobKey,
    /// The check as written in the unit file.
    pub check_source: String,
    pub action: Action,
    pub target: Target,
    /// The main process the check was measured on.
    pub main_pid: i32,
    /// What was measured: `totalmem 412 MB > 300 MB`.
    pub value_text: String,
    /// The same without the limit: `totalmem 412 MB`.
    pub measured: String,
    pub event: WatchEvent,
}

/// `status -v` / `--json` figures of one watched job at its last cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct WatchStatus {
    /// RSS of the whole tree (`totalmem`).
    pub memory_bytes: u64,
    /// CPU of the whole tree (`totalcpu`); None before the second cycle.
    pub cpu_percent: Option<f64>,
    /// Each failing check: `totalmem 412 MB > 300 MB, 2 of 3 cycles`.
    pub failing: Vec<String>,
}

#[derive(Debug, Clone)]
struct Subject {
    start_ticks: u64,
    states: Vec<CheckState>,
}

#[derive(Debug)]
struct JobWatch {
    spec: WatchSpec,
    cycle: Duration,
    next_due: Instant,
    cycle_no: u64,
    main: Option<(i32, u64)>,
    main_states: Vec<CheckState>,
    children: HashMap<i32, Subject>,
    prev: Option<TreeSample>,
    restarts: RestartLog,
    last_restart_count: Option<u32>,
    status: Option<WatchStatus>,
}

/// The counters of one watched job that outlive the daemon's process (the
/// saved state): the cycle number, each job-wide check's counters and the
/// restarts seen. Children's counters are not kept (their pids may be gone).
#[derive(Debug, Clone, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct Counters {
    pub cycle_no: u64,
    /// The main process the counters are about (pid, start ticks): a
    /// different one starts the resource counters afresh.
    pub main: Option<(i32, u64)>,
    pub checks: Vec<CheckState>,
    pub restarts: RestartLog,
    pub last_restart_count: Option<u32>,
}

/// Owns the watch state of every watched job. The supervisor registers a job when it
/// is running (`watch`), forgets it when it leaves `running` (`unwatch`), sleeps until
/// `due()`, and then calls `run_cycle`.
pub struct Watchdog {
    default_cycle: Duration,
    jobs: HashMap<JobKey, JobWatch>,
    sampler: Box<dyn Sampler + Send>,
}

impl std::fmt::Debug for Watchdog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watchdog")
            .field("default_cycle", &self.default_cycle)
            .field("jobs", &self.jobs.len())
            .finish()
    }
}

impl Watchdog {
    /// A watchdog measuring through `sampler` (`ProcReader` in the daemon, a fake in tests).
    pub fn with_sampler(default_cycle: Duration, sampler: Box<dyn Sampler + Send>) -> Watchdog {
        Watchdog {
            default_cycle: default_cycle.max(Duration::from_millis(10)),
            jobs: HashMap::new(),
            sampler,
        }
    }

    /// Starts (or updates) watching `job`; its first cycle is one cycle from `now`.
    /// A job with no checks at all is not watched. Re-registering the same spec keeps
    /// the counters; a changed spec starts them afresh.
    pub fn watch(&mut self, job: JobKey, spec: WatchSpec, now: Instant) {
        if spec.checks.is_empty() && spec.child_checks.is_empty() {
            self.jobs.remove(&job);
            return;
        }
        if self.jobs.get(&job).is_some_and(|w| w.spec == spec) {
            return;
        }
        let cycle = spec
            .cycle
            .unwrap_or(self.default_cycle)
            .max(Duration::from_millis(10));
        let main_states = vec![CheckState::default(); spec.checks.len()];
        self.jobs.insert(
            job,
            JobWatch {
                spec,
                cycle,
                next_due: now + cycle,
                cycle_no: 0,
                main: None,
                main_states,
                children: HashMap::new(),
                prev: None,
                restarts: RestartLog::default(),
                last_restart_count: None,
                status: None,
            },
        );
    }

    /// The counters of `job`, if it is watched.
    pub fn counters(&self, job: &JobKey) -> Option<Counters> {
        self.jobs.get(job).map(|w| Counters {
            cycle_no: w.cycle_no,
            main: w.main,
            checks: w.main_states.clone(),
            restarts: w.restarts.clone(),
            last_restart_count: w.last_restart_count,
        })
    }

    /// Puts back the counters of a watched `job` (a daemon that took its jobs
    /// back); ignored when the job has another number of checks now.
    pub fn restore(&mut self, job: &JobKey, c: Counters) {
        if let Some(w) = self.jobs.get_mut(job)
            && w.main_states.len() == c.checks.len()
        {
            w.cycle_no = c.cycle_no;
            w.main = c.main;
            w.main_states = c.checks;
            w.restarts = c.restarts;
            w.last_restart_count = c.last_restart_count;
        }
    }

    /// Stops watching `job` (it stopped, failed, or was removed from the config).
    pub fn unwatch(&mut self, job: &JobKey) {
        if let Some((pid, _)) = self.jobs.remove(job).and_then(|w| w.main) {
            self.sampler.forget(pid);
        }
    }

    /// The watched jobs (the supervisor unwatches those it no longer has).
    pub fn watched(&self) -> Vec<JobKey> {
        self.jobs.keys().cloned().collect()
    }

    /// Whether `job` is watched.
    pub fn is_watched(&self, job: &JobKey) -> bool {
        self.jobs.contains_key(job)
    }

    /// When `run_cycle` next has work: the earliest due time of any watched job, or
    /// None when nothing is watched (then the supervisor sets no timer at all).
    pub fn due(&self) -> Option<Instant> {
        self.jobs.values().map(|w| w.next_due).min()
    }

    /// The last figures and failing checks of `job`, when it is watched and measured.
    /// True when no job is watched.
    pub fn is_empty(&self) -> bool {
        self.jobs.is_empty()
    }

    pub fn status(&self, job: &JobKey) -> Option<WatchStatus> {
        self.jobs.get(job).and_then(|w| w.status.clone())
    }

    /// Runs the cycle of every watched job that is due at `now`. `jobs` lists the running
    /// jobs: key, main pid, and the job's restart counter (all restarts so far; the
    /// watchdog sees the increase). A due job missing from `jobs` is only rescheduled.
    pub fn run_cycle(&mut self, now: Instant, jobs: &[(JobKey, i32, u32)]) -> Vec<WatchAction> {
        let mut actions = Vec::new();
        // Running jobs, in the supervisor's order.
        for (key, pid, restarts) in jobs {
            let Some(w) = self.jobs.get_mut(key) else {
                continue;
            };
            if w.next_due > now {
                continue;
            }
            w.reschedule(now);
            if let Some((old, _)) = w.main.filter(|&(old, _)| old != *pid) {
                // The tree of a main process that was replaced is released.
                self.sampler.forget(old);
            }
            match self.sampler.sample(*pid) {
                Ok(sample) => w.cycle(key, *pid, *restarts, sample, &mut actions),
                Err(_) => w.prev = None,
            }
        }
        // Due but not running: only rescheduled (never a busy loop), its tree released.
        for w in self.jobs.values_mut().filter(|w| w.next_due <= now) {
            w.reschedule(now);
            // A cycle passes for the restarts rule too while the job is down.
            w.cycle_no += 1;
            if let Some((old, _)) = w.main.take() {
                self.sampler.forget(old);
            }
            w.prev = None;
            w.status = None;
        }
        actions
    }
}

impl JobWatch {
    /// The next due time: one cycle on, or one cycle from `now` when running late.
    fn reschedule(&mut self, now: Instant) {
        let mut next = self.next_due + self.cycle;
        if next <= now {
            next = now + self.cycle;
        }
        self.next_due = next;
    }

    fn cycle(
        &mut self,
        key: &JobKey,
        pid: i32,
        restarts: u32,
        sample: TreeSample,
        out: &mut Vec<WatchAction>,
    ) {
        self.cycle_no += 1;
        let cycle = self.cycle_no;
        if let Some(last) = self.last_restart_count {
            self.restarts.record(cycle, restarts.saturating_sub(last));
        }
        self.last_restart_count = Some(restarts);
        let longest = self
            .spec
            .checks
            .iter()
            .map(window_cycles)
            .max()
            .unwrap_or(1);
        self.restarts.prune(cycle, longest);
        let start = sample.get(pid).map_or(0, |p| p.start_ticks);
        if self.main != Some((pid, start)) {
            // A new main process (restart, or a pidfile handover): resource counters
            // start afresh; the restarts rule keeps its counts.
            for (state, check) in self.main_states.iter_mut().zip(&self.spec.checks) {
                if matches!(check.condition, Condition::Resource { .. }) {
                    *state = CheckState::default();
                }
            }
            self.prev = None;
            self.main = Some((pid, start));
        }
        let prev = self.prev.take();
        let mut failing = Vec::new();
        let empty = RestartLog::default();
        if let Some(values) = sample.values(prev.as_ref(), pid) {
            let obs = Observation {
                values: &values,
                restarts: &self.restarts,
                cycle,
            };
            let subject = (Target::JobWide, pid);
            let first = out.len();
            run_checks(
                &self.spec.checks,
                &mut self.main_states,
                &obs,
                key,
                subject,
                "",
                &mut failing,
                out,
            );
            stop_wins(out, first);
            self.status = Some(WatchStatus {
                memory_bytes: values.totalmem,
                cpu_percent: values.totalcpu,
                failing: Vec::new(),
            });
        }
        if !self.spec.child_checks.is_empty() {
            let mut alive = HashMap::new();
            for child in sample.direct_children(pid) {
                let Some(st) = sample.get(child).filter(|s| !s.is_exited()) else {
                    continue;
                };
                let Some(values) = sample.values(prev.as_ref(), child) else {
                    continue;
                };
                let mut subj = self
                    .children
                    .remove(&child)
                    .filter(|s| s.start_ticks == st.start_ticks)
                    .unwrap_or(Subject {
                        start_ticks: st.start_ticks,
                        states: vec![CheckState::default(); self.spec.child_checks.len()],
                    });
                let obs = Observation {
                    values: &values,
                    restarts: &empty,
                    cycle,
                };
                let target = Target::Child {
                    pid: child,
                    start_ticks: st.start_ticks,
                };
                let label = format!("child {child}: ");
                run_checks(
                    &self.spec.child_checks,
                    &mut subj.states,
                    &obs,
                    key,
                    (target, pid),
                    &label,
                    &mut failing,
                    out,
                );
                alive.insert(child, subj);
            }
            // Children that are gone take their counters with them.
            self.children = alive;
        }
        if let Some(status) = self.status.as_mut() {
            status.failing = failing;
        }
        self.prev = Some(sample);
    }
}

/// A job-wide `stop` fired in the same cycle as a `restart` (the restarts rule
/// catching a check that restarts the job every cycle) is what happens: the
/// restart would reach the job first, and the stop would then find it restarting
/// and be ignored, so the job would be restarted for ever.
fn stop_wins(out: &mut Vec<WatchAction>, first: usize) {
    let stops = out[first..].iter().any(|a| {
        a.action == Action::Stop && a.target == Target::JobWide && a.event == WatchEvent::Failed
    });
    if !stops {
        return;
    }
    let mut i = first;
    while i < out.len() {
        let a = &out[i];
        if a.action == Action::Restart && a.target == Target::JobWide {
            out.remove(i);
        } else {
            i += 1;
        }
    }
}

fn window_cycles(check: &Check) -> u32 {
    match check.condition {
        Condition::Restarts { cycles, .. } => cycles,
        Condition::Resource { .. } => 1,
    }
}

#[allow(clippy::too_many_arguments)]
fn run_checks(
    checks: &[Check],
    states: &mut [CheckState],
    obs: &Observation,
    key: &JobKey,
    (target, main_pid): (Target, i32),
    label: &str,
    failing: &mut Vec<String>,
    out: &mut Vec<WatchAction>,
) {
    for (check, state) in checks.iter().zip(states.iter_mut()) {
        // The restarts rule's text needs the counts from before firing resets them.
        let before = matches!(check.condition, Condition::Restarts { .. }).then(|| state.clone());
        let verdict = eval::evaluate(check, state, obs);
        if matches!(verdict, Verdict::Ok | Verdict::Unknown) {
            continue;
        }
        let text = value_text(check, obs, before.as_ref().unwrap_or(state));
        let measured = measured_text(check, obs, before.as_ref().unwrap_or(state));
        let event = match verdict {
            Verdict::Ok | Verdict::Unknown => continue,
            Verdict::Failing { count, of } => {
                failing.push(format!(
                    "{label}{}",
                    describe_failing(check, &text, count, of)
                ));
                continue;
            }
            Verdict::Fire(_) => WatchEvent::Failed,
            Verdict::Recovered => WatchEvent::Recovered,
        };
        out.push(WatchAction {
            job: key.clone(),
            check_source: check.source.clone(),
            action: check.action.clone(),
            target,
            main_pid,
            value_text: text,
            measured,
            event,
        });
    }
}

#[cfg(test)]
#[path = "watch_tests.rs"]
mod tests;
