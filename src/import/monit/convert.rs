//! A Monit `check process` as gsup keys: what it adds to any unit (pid file, cycle, checks,
//! dependencies) and, when no unit exists yet, the whole new unit. Pure.

use super::{Process, Program};
use crate::import::Note;
use crate::import::draft::Draft;
use crate::import::shell;

/// What a Monit process check contributes to its job's unit, new or existing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Additions {
    /// The line of `check process`.
    pub line: usize,
    /// `pidfile:` (a template: `$` written `$$`).
    pub pidfile: Option<String>,
    /// `cycle:`: Monit's cycle times `every N cycles`; only with checks.
    pub cycle_s: Option<u64>,
    pub checks: Vec<String>,
    /// The jobs of `depends on`.
    pub depends: Vec<String>,
}

/// The keys every unit of this check gets. `job_of` names the job of
/// another Monit check (`None`: that check is not a process); notes go to `notes`.
pub fn additions(
    p: &Process,
    monit_cycle_s: Option<u64>,
    job_of: &dyn Fn(&str) -> Option<String>,
    notes: &mut Vec<Note>,
) -> Additions {
    let mut cycle_s = None;
    if !p.checks.is_empty() {
        match (monit_cycle_s, p.every) {
            (Some(c), Some((_, n))) => cycle_s = Some(c * u64::from(n)),
            (Some(c), None) => cycle_s = Some(c),
            (None, Some((line, n))) => notes.push(Note::dropped(
                line,
                format!("`every {n} cycles`: without `set daemon` the cycle is the gsup daemon's `--cycle`"),
            )),
            (None, None) => {}
        }
    }
    let mut depends = Vec::new();
    for (line, dep) in &p.depends {
        match job_of(dep) {
            Some(job) => {
                if !depends.contains(&job) {
                    depends.push(job);
                }
            }
            None => notes.push(Note::dropped(
                *line,
                format!(
                    "`depends on {dep}`: `{dep}` is not a Monit process check, so not a gsup job"
                ),
            )),
        }
    }
    Additions {
        line: p.line,
        pidfile: p.pidfile.as_deref().map(shell::literal),
        cycle_s,
        checks: p.checks.clone(),
        depends,
    }
}

/// `started A and started B`, or `runlevel [2345]` (Monit starts every
/// active check when it starts).
pub fn start_on(depends: &[String]) -> String {
    if depends.is_empty() {
        return "runlevel [2345]".into();
    }
    let parts: Vec<String> = depends.iter().map(|d| format!("started {d}")).collect();
    parts.join(" and ")
}

/// `stopping A or stopping B` (Monit stops the checks that depend on a
/// service before the service), or `runlevel [016]`.
pub fn stop_on(depends: &[String]) -> String {
    if depends.is_empty() {
        return "runlevel [016]".into();
    }
    let parts: Vec<String> = depends.iter().map(|d| format!("stopping {d}")).collect();
    parts.join(" or ")
}

/// A new unit for a check that has no unit yet; `None` (with a note) when
/// the check has no `start program` to run.
pub fn new_unit(
    p: &Process,
    add: &Additions,
    source: &str,
    notes: &mut Vec<Note>,
) -> Option<Draft> {
    let Some(start) = &p.start else {
        notes.push(Note::dropped(
            p.line,
            format!(
                "`check process {}`: no `start program`, and no unit of that name in the out \
                 dir to add the checks to (import the job's Upstart file first)",
                p.name
            ),
        ));
        return None;
    };
    let mut d = Draft {
        header: vec![format!(
            "Imported from {source} (line {}: check process {}) by `gsup import monit`.",
            p.line, p.name
        )],
        exec: start.words.clone(),
        respawn: true,
        user: start.uid.clone(),
        group: start.gid.clone(),
        pidfile: add.pidfile.clone(),
        ready_pidfile: add.pidfile.is_some(),
        stop_on: Some(stop_on(&add.depends)),
        cycle_s: add.cycle_s,
        checks: add.checks.clone(),
        ..Draft::default()
    };
    if p.manual {
        d.header
            .push("Monit's manual mode: no start_on; start it with `gsup start`.".into());
    } else {
        d.start_on = Some(start_on(&add.depends));
    }
    if let Some(t) = start.timeout_s {
        if d.pidfile.is_some() {
            d.ready_timeout_s = Some(t);
        } else {
            notes.push(Note::dropped(
                start.line,
                "`with timeout` of the start program: without a pid file gsup counts the job \
                 started as soon as it is spawned",
            ));
        }
    }
    if let Some(stop) = &p.stop {
        stop_program(&mut d, start, stop, notes);
    }
    Some(d)
}

/// The stop program runs as the `pre_stop` hook, before gsup's own
/// `kill_signal` to whatever is left; its timeout is the `kill_timeout`.
fn stop_program(d: &mut Draft, start: &Program, stop: &Program, notes: &mut Vec<Note>) {
    if stop.uid != start.uid || stop.gid != start.gid {
        notes.push(Note::dropped(
            stop.line,
            "the stop program's `as uid`/`gid` differs from the start program's: gsup runs \
             every process of a job as the job's user",
        ));
    }
    d.pre_stop = Some(stop.words.clone());
    d.kill_timeout_s = stop.timeout_s;
}
