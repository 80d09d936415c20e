//! `reload-config`: applies a fresh load of the config dir to the job table.
//! New jobs are added; a job that is not running gets its new definition; a
//! running job keeps its old one until it stops; a bad file changes nothing.

use super::core::{CONFIG_SETTLE, Supervisor};
use super::jobs::{Key, label};
use super::timers::TimerKey;
use crate::control::proto::Response;
use crate::diag::Diagnostic;
use crate::job::State;
use crate::loader::{LoadReport, LoadedJob};
use crate::sys::WatchId;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use tokio::sync::oneshot;
use tracing::{info, warn};

/// A load of the config dir, done off the loop: the unit files read and
/// parsed, users resolved, jobs on a dependency cycle named.
pub type Loaded = (LoadReport, Vec<String>);

/// An instance a `restart` stopped to start it on a new definition, with
/// the variables it was started with.
pub type Restarted = (Key, Vec<(String, String)>);

/// What `reload-config` keeps between reloads.
#[derive(Debug, Default)]
pub struct ReloadState {
    /// The config dir (None in tests that load by hand).
    pub config_dir: Option<PathBuf>,
    /// New definitions of running jobs, applied when they stop.
    pub deferred: BTreeMap<String, LoadedJob>,
    /// Jobs whose file is gone, removed when they stop.
    pub doomed: BTreeSet<String>,
    /// `restart` of a job with a deferred definition: the instances it
    /// stopped and the variables each was started with, started again on
    /// the new definition once the job has stopped.
    pub restart_after: BTreeMap<String, Vec<Restarted>>,
    /// A load to hand to the loop (`take_load`).
    pending: Option<PathBuf>,
    /// A load runs off the loop now.
    in_flight: bool,
    /// Another reload was asked for while one ran.
    again: bool,
    /// Clients waiting for the load in flight, and for the next one.
    current: Vec<oneshot::Sender<Response>>,
    next: Vec<oneshot::Sender<Response>>,
}

/// What a reload did, for the reply and the log.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct ReloadSummary {
    pub added: Vec<String>,
    pub replaced: Vec<String>,
    /// Changed while running: applied when the job next stops.
    pub deferred: Vec<String>,
    pub removed: Vec<String>,
    /// Every error found, as `FILE:LINE:COL: message`.
    pub errors: Vec<String>,
}

impl Supervisor {
    /// Applies `report` (already free of jobs on dependency cycles; `cycle`
    /// names those) loaded from `config_dir`.
    pub fn reload_config(
        &mut self,
        config_dir: &Path,
        report: LoadReport,
        cycle: &[String],
    ) -> ReloadSummary {
        let mut sum = ReloadSummary::default();
        // Jobs whose file is bad keep their loaded definition.
        let mut keep: BTreeSet<String> = cycle.iter().cloned().collect();
        for d in report.diagnostics.iter().filter(|d| d.is_error()) {
            sum.errors.push(d.to_string());
            if let Some(n) = name_of(config_dir, d) {
                keep.insert(n);
            }
        }
        let fresh: BTreeSet<String> = report.jobs.iter().map(|j| j.name.clone()).collect();
        self.watch_config_dirs(&report.dirs);
        for j in report.jobs {
            match self.jobs.def(&j.name) {
                None => {
                    sum.added.push(j.name.clone());
                    self.add_jobs(vec![j]);
                }
                Some(old) if old.unit == j.unit => {}
                Some(_) if self.is_stopped(&j.name) => {
                    sum.replaced.push(j.name.clone());
                    self.replace(j);
                }
                Some(_) => {
                    sum.deferred.push(j.name.clone());
                    self.reload.deferred.insert(j.name.clone(), j);
                }
            }
        }
        let gone: Vec<String> = self
            .jobs
            .names()
            .filter(|n| !fresh.contains(*n) && !keep.contains(*n))
            .cloned()
            .collect();
        for name in gone {
            if self.is_stopped(&name) {
                self.remove_job(&name);
                sum.removed.push(name);
            } else {
                warn!(job = %name, "unit file removed; the job is removed when it stops");
                self.reload.doomed.insert(name);
            }
        }
        info!(?sum, "config reloaded");
        sum
    }

    /// The definition state `status -v` shows for `name`: `changed` while a
    /// new definition waits for a restart, `deleted` while its file is gone.
    pub(super) fn definition_state(&self, name: &str) -> Option<&'static str> {
        if self.reload.doomed.contains(name) {
            Some("deleted")
        } else if self.reload.deferred.contains_key(name) {
            Some("changed")
        } else {
            None
        }
    }

    /// `restart` of `keys` of `job`: when a new definition waits and the
    /// restart stops every instance that runs, the restart is a stop now and
    /// a start on the new definition once the job has stopped
    /// (`apply_deferred`); then true, and the caller feeds only `Stop`.
    pub(super) fn restart_on_new_definition(&mut self, job: &str, keys: &[Key]) -> bool {
        let Some(def) = self.jobs.def(job) else {
            return false;
        };
        if !self.reload.deferred.contains_key(job) || self.shutdown.is_some() {
            return false;
        }
        let others_rest = self
            .jobs
            .keys_of(job)
            .iter()
            .filter(|k| !keys.contains(k))
            .all(|k| self.instance_rests(k));
        if !others_rest {
            return false;
        }
        let starts = keys
            .iter()
            .map(|k| {
                let env = self.jobs.get(k).map(|i| i.env.as_slice()).unwrap_or(&[]);
                (k.clone(), super::env::start_env_of(env, &def.unit))
            })
            .collect();
        self.reload.restart_after.insert(job.to_string(), starts);
        true
    }

    /// True while a `restart` of `key`'s job waits for the job to stop and
    /// start on its new definition (its waiter is not answered meanwhile).
    pub(super) fn restart_pending(&self, key: &Key) -> bool {
        self.reload.restart_after.contains_key(&key.0)
    }

    /// Applies deferred definitions and removals to jobs that have stopped,
    /// and starts the instances a `restart` stopped for a new definition;
    /// true when it queued inputs.
    pub(super) fn apply_deferred(&mut self) -> bool {
        let mut fed = false;
        let ready: Vec<String> = self
            .reload
            .deferred
            .keys()
            .filter(|n| self.is_stopped(n))
            .cloned()
            .collect();
        for n in ready {
            if let Some(j) = self.reload.deferred.remove(&n) {
                info!(job = %n, "new definition applied");
                self.replace(j);
            }
            for (old, env) in self.reload.restart_after.remove(&n).unwrap_or_default() {
                fed = true;
                match self.start_job(&n, &env) {
                    Ok(new) if new != old => {
                        // A new `instance` template names it anew.
                        for w in &mut self.waiters {
                            w.keys
                                .iter_mut()
                                .filter(|k| **k == old)
                                .for_each(|k| *k = new.clone());
                        }
                    }
                    Ok(_) => {}
                    Err(e) => warn!(job = %label(&old), "not restarted on its new definition: {e}"),
                }
            }
        }
        let doomed: Vec<String> = self
            .reload
            .doomed
            .iter()
            .filter(|n| self.is_stopped(n))
            .cloned()
            .collect();
        for n in doomed {
            info!(job = %n, "removed");
            self.reload.doomed.remove(&n);
            self.remove_job(&n);
        }
        fed
    }

    /// True when no instance of `name` is running: all rest at goal stop.
    fn is_stopped(&self, name: &str) -> bool {
        self.jobs
            .keys_of(name)
            .iter()
            .all(|k| self.instance_rests(k))
    }

    /// The instance has no process and rests (`waiting` or `failed`).
    fn instance_rests(&self, k: &Key) -> bool {
        !self.pids.has_any(k)
            && self
                .jobs
                .get(k)
                .is_none_or(|i| matches!(i.job.state, State::Waiting | State::Failed))
    }

    /// Forgets a stopped job: its definition and its resting instances.
    fn remove_job(&mut self, name: &str) {
        for k in self.jobs.keys_of(name) {
            self.pids.forget(&k);
        }
        self.jobs.remove(name);
        self.page_rebuild();
    }

    /// A new definition for `j.name`: its instances are dropped (the job is
    /// stopped, see `is_stopped`) and it is added afresh.
    fn replace(&mut self, j: LoadedJob) {
        for k in self.jobs.keys_of(&j.name) {
            self.pids.forget(&k);
        }
        self.add_jobs(vec![j]);
    }

    /// Watches every folder the last load of the config dir read (the
    /// dir itself, its subfolders, folders reached through symlinks).
    pub fn watch_config_dirs(&mut self, dirs: &[PathBuf]) {
        self.sys.unwatch(&WatchId::Config);
        for d in dirs {
            if let Err(e) = self.sys.watch_dir(WatchId::Config, d) {
                warn!(
                    "cannot watch {}: {e}; reload-config still works",
                    d.display()
                );
            }
        }
    }
}

/// The job a diagnostic's file would define (`DIR/a/b.yaml` is `a/b`).
fn name_of(config_dir: &Path, d: &Diagnostic) -> Option<String> {
    let rel = d.file.strip_prefix(config_dir).unwrap_or(&d.file);
    let ext = rel.extension()?;
    if ext != "yaml" && ext != "yml" {
        return None;
    }
    rel.with_extension("").to_str().map(str::to_string)
}

impl Supervisor {
    /// Asks for the config dir to be read again (`reload-config`, with the
    /// client to answer, or the dir changed). The reading and parsing run
    /// off the loop (`take_load`, then `on_loaded`), so a slow or huge
    /// config dir never delays reaping; a reload asked for while one runs
    /// is done once more after it.
    pub fn request_reload(&mut self, reply: Option<oneshot::Sender<Response>>) {
        let Some(dir) = self.reload.config_dir.clone() else {
            if let Some(r) = reply {
                let _ = r.send(Response::err(1, "no config dir to reload"));
            }
            return;
        };
        if self.reload.in_flight {
            self.reload.again = true;
            self.reload.next.extend(reply);
            return;
        }
        self.reload.current.extend(reply);
        self.reload.in_flight = true;
        self.reload.pending = Some(dir);
    }

    /// The load the loop must run off the loop (`load_checked`), if any.
    pub fn take_load(&mut self) -> Option<PathBuf> {
        self.reload.pending.take()
    }

    /// A load finished: it is applied in one step, its waiting clients are
    /// answered, and a reload asked for meanwhile starts.
    pub fn on_loaded(&mut self, loaded: Loaded, now: std::time::Instant) {
        self.reload.in_flight = false;
        let Some(dir) = self.reload.config_dir.clone() else {
            return;
        };
        let (report, cycle) = loaded;
        let sum = self.reload_config(&dir, report, &cycle);
        let r = match sum.errors.first() {
            None => Response::ok(Vec::new()),
            Some(first) => {
                let more = sum.errors.len() - 1;
                let tail = if more > 0 {
                    format!(" (and {more} more)")
                } else {
                    String::new()
                };
                Response::err(1, format!("{first}{tail}"))
            }
        };
        let replies = std::mem::take(&mut self.reload.current);
        if replies.is_empty()
            && let Some(e) = &r.error
        {
            warn!("config reload: {e}");
        }
        for reply in replies {
            let _ = reply.send(r.clone());
        }
        if std::mem::take(&mut self.reload.again) {
            let next = std::mem::take(&mut self.reload.next);
            self.reload.current = next;
            self.reload.in_flight = true;
            self.reload.pending = Some(dir);
        }
        self.drain(now);
    }

    /// Runs a requested load on this thread (tests that drive the
    /// supervisor by hand; the daemon runs it off the loop).
    pub fn run_loads(&mut self, now: std::time::Instant) {
        while let Some(dir) = self.take_load() {
            let loaded = super::load_checked(&dir);
            self.on_loaded(loaded, now);
        }
    }

    /// The dir `reload-config` reads.
    pub fn set_config_dir(&mut self, dir: PathBuf) {
        self.reload.config_dir = Some(dir);
    }

    /// The config dir changed: reload after `CONFIG_SETTLE` without changes.
    pub fn on_config_changed(&mut self, now: std::time::Instant) {
        self.timers.set(TimerKey::ConfigReload, now + CONFIG_SETTLE);
    }
}
