//! `reload-config`: applies a fresh load of the config dir to the job table.
//! New jobs are added; a job that is not running gets its new definition; a
//! running job keeps its old one until it stops; a bad file changes nothing.

use super::core::{CONFIG_SETTLE, Supervisor};
use super::timers::TimerKey;
use crate::diag::Diagnostic;
use crate::job::State;
use crate::loader::{LoadReport, LoadedJob};
use crate::sys::WatchId;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use tracing::{info, warn};

/// What `reload-config` keeps between reloads.
#[derive(Debug, Default)]
pub struct ReloadState {
    /// The config dir (None in tests that load by hand).
    pub config_dir: Option<PathBuf>,
    /// New definitions of running jobs, applied when they stop.
    pub deferred: BTreeMap<String, LoadedJob>,
    /// Jobs whose file is gone, removed when they stop.
    pub doomed: BTreeSet<String>,
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

    /// Applies deferred definitions and removals to jobs that have stopped.
    pub(super) fn apply_deferred(&mut self) {
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
    }

    /// True when no instance of `name` is running: all rest at goal stop.
    fn is_stopped(&self, name: &str) -> bool {
        self.jobs.keys_of(name).iter().all(|k| {
            !self.pids.has_any(k)
                && self
                    .jobs
                    .get(k)
                    .is_none_or(|i| matches!(i.job.state, State::Waiting | State::Failed))
        })
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
    /// The dir `reload-config` reads.
    pub fn set_config_dir(&mut self, dir: PathBuf) {
        self.reload.config_dir = Some(dir);
    }

    /// The config dir changed: reload after `CONFIG_SETTLE` without changes.
    pub fn on_config_changed(&mut self, now: std::time::Instant) {
        self.timers.set(TimerKey::ConfigReload, now + CONFIG_SETTLE);
    }
}
