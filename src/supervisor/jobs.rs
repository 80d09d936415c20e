//! The job table: every loaded definition and every instance's state machine,
//! by name and by key, and which jobs an event can concern. No I/O, no pids.

use super::env;
use crate::expr::{Event, Expr, Matcher};
use crate::job::machine::{self, Effect, Input, Job};
use crate::job::{Goal, Policy, State};
use crate::loader::LoadedJob;
use crate::unit::Unit;
use crate::users::Creds;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::time::Instant;

/// A job instance: `(job name, instance value)`; the value is empty for a
/// job without `instance`.
pub type Key = (String, String);

/// A loaded job definition with its event matchers.
#[derive(Debug)]
pub struct JobDef {
    pub name: String,
    pub path: PathBuf,
    pub unit: Unit,
    /// `user`/`group` resolved at load time (`LoadedJob::creds`).
    pub creds: Result<Option<Creds>, String>,
    pub start_on: Option<Matcher>,
    pub stop_on: Option<Matcher>,
}

impl JobDef {
    /// The uid of the job's processes when it is not root's (pidfile checks).
    pub fn job_uid(&self) -> Option<u32> {
        self.creds.as_ref().ok()?.as_ref()?.job_uid()
    }
}

/// One running (or resting) instance of a job.
#[derive(Debug)]
pub struct Instance {
    pub job: Job,
    /// The environment the instance was started with (built by `env::job_env`).
    pub env: Vec<(String, String)>,
}

impl Instance {
    /// A fresh `stop/waiting` instance of `unit`.
    pub fn new(unit: &Unit) -> Box<Instance> {
        Box::new(Instance {
            job: Job::new(Policy::from_unit(unit)),
            env: Vec::new(),
        })
    }

    /// Goal start and a main process that should be running: the states in
    /// which a pidfile is followed.
    pub fn is_live(&self) -> bool {
        self.job.goal == Goal::Start
            && self.job.main_pid.is_some()
            && matches!(
                self.job.state,
                State::Spawned | State::PostStart | State::Running
            )
    }
}

/// What one `step` did to an instance.
pub struct Stepped {
    pub before: (Goal, State),
    pub after: (Goal, State),
    pub effects: Vec<Effect>,
}

/// The jobs an event changes: stopped by `stop_on`, started by `start_on`
/// (with the event's variables).
#[derive(Debug, Default)]
pub struct Matches {
    pub stops: Vec<String>,
    pub starts: Vec<(String, Vec<(String, String)>)>,
}

/// Definitions and instances. Boxed: a `BTreeMap` node holds eleven values
/// inline, so large values in half-full nodes would cost about twice their size.
#[derive(Debug, Default)]
pub struct JobTable {
    defs: BTreeMap<String, Box<JobDef>>,
    instances: BTreeMap<Key, Box<Instance>>,
    /// Event name -> the jobs whose `start_on`/`stop_on` name it, so that an
    /// event is fed only to matchers it can change. None: rebuild.
    by_event: Option<HashMap<String, BTreeSet<String>>>,
    /// The stop order of the definitions, built when first asked after a
    /// change (`--http` shows it with every snapshot).
    waves: std::cell::OnceCell<Vec<Vec<String>>>,
}

impl JobTable {
    /// Adds a loaded job, already checked for cycles; a job without
    /// `instance` gets its one `stop/waiting` instance at once. A job of the
    /// same name is replaced with its instances: the caller replaces only a
    /// job that has stopped.
    pub fn add(&mut self, j: LoadedJob) {
        self.by_event = None;
        self.waves.take();
        let start_on = j.unit.start_on.clone().map(Matcher::new);
        let stop_on = j.unit.stop_on.clone().map(Matcher::new);
        self.instances.retain(|k, _| k.0 != j.name);
        if j.unit.instance.is_none() {
            let key = (j.name.clone(), String::new());
            self.instances.insert(key, Instance::new(&j.unit));
        }
        let def = JobDef {
            name: j.name.clone(),
            path: j.path,
            unit: j.unit,
            creds: j.creds,
            start_on,
            stop_on,
        };
        self.defs.insert(j.name, Box::new(def));
    }

    /// Forgets a job: its definition and its instances.
    pub fn remove(&mut self, name: &str) {
        self.defs.remove(name);
        self.by_event = None;
        self.waves.take();
        self.instances.retain(|k, _| k.0 != name);
    }

    /// The stop waves of the definitions, from `build` when they changed
    /// since it last ran.
    pub fn waves(&self, build: impl FnOnce() -> Vec<Vec<String>>) -> &[Vec<String>] {
        self.waves.get_or_init(build)
    }

    /// The definition of `name`.
    pub fn def(&self, name: &str) -> Option<&JobDef> {
        self.defs.get(name).map(|d| &**d)
    }

    /// Every definition, by name.
    pub fn defs(&self) -> impl Iterator<Item = &JobDef> {
        self.defs.values().map(|d| &**d)
    }

    /// Every job name, sorted.
    pub fn names(&self) -> impl Iterator<Item = &String> {
        self.defs.keys()
    }

    /// How many jobs are defined.
    pub fn len(&self) -> usize {
        self.defs.len()
    }

    /// True when no job is defined.
    pub fn is_empty(&self) -> bool {
        self.defs.is_empty()
    }

    /// One instance.
    pub fn get(&self, key: &Key) -> Option<&Instance> {
        self.instances.get(key).map(|i| &**i)
    }

    /// One instance, to change outside the machine (its env when it starts).
    pub fn get_mut(&mut self, key: &Key) -> Option<&mut Instance> {
        self.instances.get_mut(key).map(|i| &mut **i)
    }

    /// Every instance, by key.
    pub fn instances(&self) -> impl Iterator<Item = (&Key, &Instance)> {
        self.instances.iter().map(|(k, i)| (k, &**i))
    }

    /// The keys of `name`'s instances, in order (a range, not a scan).
    pub fn keys_of(&self, name: &str) -> Vec<Key> {
        self.instances
            .range((name.to_string(), String::new())..)
            .map(|(k, _)| k)
            .take_while(|k| k.0 == name)
            .cloned()
            .collect()
    }

    /// Puts back an instance of `name` (taken back from a saved state) with
    /// its environment and machine; `None` when the job is not defined.
    pub fn restore(&mut self, key: &Key, env: Vec<(String, String)>, job: Job) -> Option<()> {
        self.defs.get(&key.0)?;
        self.instances
            .insert(key.clone(), Box::new(Instance { job, env }));
        Some(())
    }

    /// Forgets one instance.
    pub fn forget(&mut self, key: &Key) {
        self.instances.remove(key);
    }

    /// The instance of `name` that `start_env` selects, created if needed;
    /// an instance that rests gets `start_env` for its next run.
    pub fn instance_for_start(
        &mut self,
        name: &str,
        start_env: &[(String, String)],
    ) -> Result<Key, String> {
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
            .or_insert_with(|| Instance::new(unit));
        if matches!(inst.job.state, State::Waiting | State::Failed) {
            inst.env = full;
        }
        Ok(key)
    }

    /// The instances `JOB [K=V]...` names: the one its variables select, or
    /// every instance when none is given. `Err((exit code, message))`.
    pub fn select(&self, job: &str, env: &[(String, String)]) -> Result<Vec<Key>, (u8, String)> {
        let def = self
            .defs
            .get(job)
            .ok_or_else(|| (4, format!("{job}: no such job")))?;
        let all = self.keys_of(job);
        if def.unit.instance.is_none() || env.is_empty() {
            return Ok(all);
        }
        let inst = env::instance_name(&def.unit, env).map_err(|e| (1, format!("{job}: {e}")))?;
        let key = (job.to_string(), inst);
        if all.contains(&key) {
            Ok(vec![key])
        } else {
            Err((1, format!("{}: no such instance", label(&key))))
        }
    }

    /// Feeds one input to an instance's machine.
    pub fn step(&mut self, key: &Key, input: Input, now: Instant) -> Option<Stepped> {
        let inst = self.instances.get_mut(key)?;
        let before = (inst.job.goal, inst.job.state);
        let effects = machine::step(&mut inst.job, input, now);
        Some(Stepped {
            before,
            after: (inst.job.goal, inst.job.state),
            effects,
        })
    }

    /// Feeds an event to the `stop_on`, then `start_on`, matchers of the jobs
    /// that name it, and says which jobs it stops and starts.
    pub fn feed_event(&mut self, ev: &Event) -> Matches {
        let mut out = Matches::default();
        let JobTable { by_event, defs, .. } = self;
        let index = by_event.get_or_insert_with(|| event_index(defs));
        let Some(names) = index.get(&ev.name) else {
            return out;
        };
        for name in names {
            let Some(def) = defs.get_mut(name) else {
                continue;
            };
            if let Some(m) = def.stop_on.as_mut()
                && m.feed(ev).is_some()
            {
                out.stops.push(def.name.clone());
            }
            if let Some(m) = def.start_on.as_mut()
                && let Some(env) = m.feed(ev)
            {
                out.starts.push((def.name.clone(), env));
            }
        }
        out
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

/// `JOB` or `JOB (INSTANCE)`, as log lines and status lines name an instance.
pub fn label(key: &Key) -> String {
    if key.1.is_empty() {
        key.0.clone()
    } else {
        format!("{} ({})", key.0, key.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(name: &str) -> LoadedJob {
        let path = std::path::PathBuf::from(format!("{name}.yaml"));
        let unit = crate::unit::parse(&path, "exec: [\"true\"]\n").expect("unit");
        LoadedJob::new(name.into(), path, unit)
    }

    #[test]
    fn waves_are_built_once_until_the_definitions_change() {
        let mut t = JobTable::default();
        t.add(job("a"));
        let builds = std::cell::Cell::new(0);
        let build = || {
            builds.set(builds.get() + 1);
            vec![vec![format!("{}", builds.get())]]
        };
        assert_eq!(t.waves(build), [vec!["1".to_string()]]);
        assert_eq!(t.waves(build), [vec!["1".to_string()]], "kept");
        t.add(job("b"));
        assert_eq!(t.waves(build), [vec!["2".to_string()]], "an add rebuilds");
        t.remove("a");
        assert_eq!(t.waves(build), [vec!["3".to_string()]], "a remove rebuilds");
    }
}
