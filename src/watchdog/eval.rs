//! Monit's semantics for one check over successive cycles: counters, sliding windows,
//! the restarts rule, firing and resetting. Pure: no I/O, no clock, no nix.

use crate::rule::{Action, Check, Condition, Op, Resource, Value, Window};
use std::collections::VecDeque;
use std::time::Duration;

/// The measured values of one subtree at one cycle (a job's main process, or one child).
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Values {
    /// RSS of the process itself, bytes.
    pub mem: u64,
    /// RSS of the process and all its descendants, bytes.
    pub totalmem: u64,
    /// Percent of one core since the previous cycle; None on the first cycle.
    pub cpu: Option<f64>,
    /// The same for the process and all its descendants.
    pub totalcpu: Option<f64>,
    /// Number of live descendants (all generations, as Monit counts).
    pub children: u64,
    /// Time since the process started.
    pub uptime: Duration,
}

impl Values {
    /// The measured value of `resource` as a number in the unit of its threshold
    /// (bytes, percent, count, seconds); None when not measured yet.
    pub fn get(&self, resource: Resource) -> Option<f64> {
        match resource {
            Resource::Mem => Some(self.mem as f64),
            Resource::TotalMem => Some(self.totalmem as f64),
            Resource::Cpu => self.cpu,
            Resource::TotalCpu => self.totalcpu,
            Resource::Children => Some(self.children as f64),
            Resource::Uptime => Some(self.uptime.as_secs_f64()),
        }
    }
}

/// The restarts of one job, by the cycle number in which the watchdog saw them.
/// Fed by the supervisor's restart counter; read by `N restarts within M cycles`.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RestartLog {
    cycles: VecDeque<u64>,
}

impl RestartLog {
    /// Records `n` restarts seen at cycle `cycle`.
    pub fn record(&mut self, cycle: u64, n: u32) {
        for _ in 0..n {
            self.cycles.push_back(cycle);
        }
    }

    /// Restarts within the last `window` cycles up to `cycle` (cycles `cycle-window+1 ..=
    /// cycle`), ignoring those at or before `after`.
    pub fn count(&self, cycle: u64, window: u32, after: u64) -> u32 {
        let first = (cycle + 1).saturating_sub(u64::from(window));
        let n = self
            .cycles
            .iter()
            .filter(|&&c| c >= first && c <= cycle && c > after)
            .count();
        u32::try_from(n).unwrap_or(u32::MAX)
    }

    /// Forgets restarts older than `keep` cycles before `cycle` (no rule looks further back).
    pub fn prune(&mut self, cycle: u64, keep: u32) {
        let first = (cycle + 1).saturating_sub(u64::from(keep));
        while self.cycles.front().is_some_and(|&c| c < first) {
            self.cycles.pop_front();
        }
    }
}

/// The counters of one check on one subtree, carried from cycle to cycle.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct CheckState {
    /// Consecutive cycles the condition has held (`for N cycles`).
    consecutive: u32,
    /// The results of the last M cycles, newest last (`N times within M cycles`).
    ring: VecDeque<bool>,
    /// An alert/exec/signal fired and the condition has not cleared since.
    latched: bool,
    /// Restarts at or before this cycle were already acted on.
    restarts_after: u64,
}

/// The outcome of one check at one cycle.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    /// The condition does not hold.
    Ok,
    /// Not measurable this cycle (CPU on the first cycle): counters untouched.
    Unknown,
    /// The condition holds, `count` of the `of` needed to fire.
    Failing { count: u32, of: u32 },
    /// The window is full: do this. Counters were reset.
    Fire(Action),
    /// A check whose alert/exec/signal fired has cleared (Monit's "succeeded" event).
    Recovered,
}

/// What `evaluate` looks at: the values, the job's restarts, and the cycle number.
#[derive(Debug, Clone, Copy)]
pub struct Observation<'a> {
    pub values: &'a Values,
    pub restarts: &'a RestartLog,
    pub cycle: u64,
}

/// The threshold as a number in the unit `Values::get` uses.
pub fn threshold(value: Value) -> f64 {
    match value {
        Value::Bytes(b) => b as f64,
        Value::Percent(p) => p,
        Value::Count(c) => c as f64,
        Value::Duration(d) => d.as_secs_f64(),
    }
}

/// Applies `op`.
pub fn compare(measured: f64, op: Op, limit: f64) -> bool {
    match op {
        Op::Gt => measured > limit,
        Op::Lt => measured < limit,
        Op::Ge => measured >= limit,
        Op::Le => measured <= limit,
        Op::Eq => measured == limit,
        Op::Ne => measured != limit,
    }
}

/// Alerts, execs and signals fire once per failure episode (Monit without `repeat`);
/// restart, stop and kill replace the process, so they may fire again.
fn latches(action: &Action) -> bool {
    matches!(action, Action::Alert | Action::Exec(_) | Action::Signal(_))
}

/// Whether the condition holds this cycle; None when it cannot be measured.
fn holds(check: &Check, state: &CheckState, obs: &Observation) -> Option<bool> {
    match &check.condition {
        Condition::Resource {
            resource,
            op,
            value,
        } => {
            let measured = obs.values.get(*resource)?;
            Some(compare(measured, *op, threshold(*value)))
        }
        Condition::Restarts { count, cycles } => {
            let n = obs.restarts.count(obs.cycle, *cycles, state.restarts_after);
            Some(n >= *count)
        }
    }
}

/// How many cycles the window needs before firing (`of` in `Verdict::Failing`).
pub fn needed(window: Window) -> u32 {
    match window {
        Window::Once => 1,
        Window::Consecutive(n) => n.max(1),
        Window::Within { times, .. } => times.max(1),
    }
}

/// Evaluates `check` for one cycle, updating `state`: Monit's `for N cycles`
/// (consecutive; a clear resets the count), `N times within M cycles` (a sliding
/// window of the last M results), and one cycle. Firing resets the counters.
pub fn evaluate(check: &Check, state: &mut CheckState, obs: &Observation) -> Verdict {
    let Some(now) = holds(check, state, obs) else {
        return Verdict::Unknown;
    };
    let count = match check.window {
        Window::Once => u32::from(now),
        Window::Consecutive(_) => {
            state.consecutive = if now { state.consecutive + 1 } else { 0 };
            state.consecutive
        }
        Window::Within { cycles, .. } => {
            state.ring.push_back(now);
            while state.ring.len() > cycles.max(1) as usize {
                state.ring.pop_front();
            }
            u32::try_from(state.ring.iter().filter(|&&b| b).count()).unwrap_or(u32::MAX)
        }
    };
    let of = needed(check.window);
    if !now {
        if state.latched {
            state.latched = false;
            return Verdict::Recovered;
        }
        return Verdict::Ok;
    }
    if count < of {
        return Verdict::Failing { count, of };
    }
    // The window is full: reset the counters, as Monit does after the action.
    state.consecutive = 0;
    state.ring.clear();
    if matches!(check.condition, Condition::Restarts { .. }) {
        state.restarts_after = obs.cycle;
    }
    if latches(&check.action) {
        if state.latched {
            return Verdict::Failing { count: of, of };
        }
        state.latched = true;
    }
    Verdict::Fire(check.action.clone())
}

/// `412 MB`, `1.5 GB`, `900 B`: powers of 1024, as Monit prints them.
pub fn format_bytes(bytes: u64) -> String {
    const UNITS: [&str; 4] = ["KB", "MB", "GB", "TB"];
    if bytes < 1024 {
        return format!("{bytes} B");
    }
    let mut v = bytes as f64 / 1024.0;
    let mut unit = UNITS[0];
    for u in &UNITS[1..] {
        if v < 1024.0 {
            break;
        }
        v /= 1024.0;
        unit = u;
    }
    let text = format!("{v:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text);
    format!("{text} {unit}")
}

/// `1h 2m 3s`, `45s`: whole seconds.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    let (h, m, sec) = (s / 3600, s / 60 % 60, s % 60);
    let mut parts = Vec::new();
    if h > 0 {
        parts.push(format!("{h}h"));
    }
    if m > 0 {
        parts.push(format!("{m}m"));
    }
    if sec > 0 || parts.is_empty() {
        parts.push(format!("{sec}s"));
    }
    parts.join(" ")
}

fn format_percent(p: f64) -> String {
    let text = format!("{p:.1}");
    let text = text.strip_suffix(".0").unwrap_or(&text).to_string();
    format!("{text}%")
}

/// A number printed in the style of `value` (bytes, percent, count, duration).
fn format_as(measured: f64, value: Value) -> String {
    match value {
        Value::Bytes(_) => format_bytes(measured as u64),
        Value::Percent(_) => format_percent(measured),
        Value::Count(_) => format!("{}", measured as u64),
        Value::Duration(_) => format_duration(Duration::from_secs_f64(measured.max(0.0))),
    }
}

fn format_value(value: Value) -> String {
    format_as(threshold(value), value)
}

/// What was measured against the limit: `totalmem 412 MB > 300 MB`, `3 restarts within
/// 5 cycles`. Used in status lines, log lines and `GSUP_VALUE`.
pub fn value_text(check: &Check, obs: &Observation, state: &CheckState) -> String {
    match &check.condition {
        Condition::Resource {
            resource,
            op,
            value,
        } => {
            let measured = match obs.values.get(*resource) {
                Some(m) => format_as(m, *value),
                None => "unknown".to_string(),
            };
            format!("{resource} {measured} {op} {}", format_value(*value))
        }
        Condition::Restarts { cycles, .. } => {
            let n = obs.restarts.count(obs.cycle, *cycles, state.restarts_after);
            format!("{n} restarts within {cycles} cycles")
        }
    }
}

/// What was measured alone, without the limit: `totalmem 412 MB`, `3
/// restarts within 5 cycles`. Used where the check's rule is printed beside
/// it (`check 'RULE': VALUE` in `status`, the job's log).
pub fn measured_text(check: &Check, obs: &Observation, state: &CheckState) -> String {
    match &check.condition {
        Condition::Resource {
            resource, value, ..
        } => match obs.values.get(*resource) {
            Some(m) => format!("{resource} {}", format_as(m, *value)),
            None => format!("{resource} unknown"),
        },
        Condition::Restarts { .. } => value_text(check, obs, state),
    }
}

/// A failing check for `status -v`: `totalmem 412 MB > 300 MB, 2 of 3 cycles`.
pub fn describe_failing(check: &Check, value_text: &str, count: u32, of: u32) -> String {
    match check.window {
        Window::Once => value_text.to_string(),
        Window::Consecutive(_) => format!("{value_text}, {count} of {of} cycles"),
        Window::Within { cycles, .. } => {
            format!("{value_text}, {count} of {of} times within {cycles} cycles")
        }
    }
}

#[cfg(test)]
#[path = "eval_tests.rs"]
mod tests;
