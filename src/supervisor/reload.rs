//! `reload-config`: applies a fresh load of the config dir to the job table.
//! New jobs are added; a job that is not running gets its new definition; a
//! running job keeps its old one until it stops; a bad file changes nothing.

use super::core::Supervisor;
use crate::diag::Diagnostic;
use crate::job::State;
use crate::loader::{LoadReport, LoadedJob};
use std::collections::BTreeSet;
use std::path::Path;
use tracing::{info, warn};

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
        for j in report.jobs {
            match self.defs.get(&j.name) {
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
                    self.deferred.insert(j.name.clone(), j);
                }
            }
        }
        let gone: Vec<String> = self
            .defs
            .keys()
            .filter(|n| !fresh.contains(*n) && !keep.contains(*n))
            .cloned()
            .collect();
        for name in gone {
            if self.is_stopped(&name) {
                self.remove_job(&name);
                sum.removed.push(name);
            } else {
                warn!(job = %name, "unit file removed; the job is removed when it stops");
                self.doomed.insert(name);
            }
        }
        info!(?sum, "config reloaded");
        sum
    }

    /// Applies deferred definitions and removals to jobs that have stopped.
    pub(super) fn apply_deferred(&mut self) {
        let ready: Vec<String> = self
            .deferred
            .keys()
            .filter(|n| self.is_stopped(n))
            .cloned()
            .collect();
        for n in ready {
            if let Some(j) = self.deferred.remove(&n) {
                info!(job = %n, "new definition applied");
                self.replace(j);
            }
        }
        let doomed: Vec<String> = self
            .doomed
            .iter()
            .filter(|n| self.is_stopped(n))
            .cloned()
            .collect();
        for n in doomed {
            info!(job = %n, "removed");
            self.doomed.remove(&n);
            self.remove_job(&n);
        }
    }

    /// True when no instance of `name` is running: all rest at goal stop.
    fn is_stopped(&self, name: &str) -> bool {
        self.instances
            .iter()
            .filter(|(k, _)| k.0 == name)
            .all(|(_, i)| {
                i.pids.is_empty() && matches!(i.job.state, State::Waiting | State::Failed)
            })
    }

    /// Forgets a stopped job: its definition and its resting instances.
    fn remove_job(&mut self, name: &str) {
        self.defs.remove(name);
        self.by_event = None;
        self.page_rebuild();
        self.instances.retain(|k, _| k.0 != name);
    }

    /// A new definition for `j.name`: its instances are dropped (the job is
    /// stopped, see `is_stopped`) and it is added afresh.
    fn replace(&mut self, j: LoadedJob) {
        self.instances.retain(|k, _| k.0 != j.name);
        self.add_jobs(vec![j]);
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
    /// The config dir changed: reload after `CONFIG_SETTLE` without changes.
    pub fn on_config_changed(&mut self, now: std::time::Instant) {
        let key = (String::new(), String::new());
        let at = now + super::core::CONFIG_SETTLE;
        self.timers
            .set((key, super::core::TimerKind::ConfigReload), at);
    }
}

/// Watches `dir` (recursively) and sends `()` on every change but a read.
/// The watcher runs its own thread and only sends; `None` when the dir cannot
/// be watched (logged; `gsup reload-config` still works).
pub fn watch_config(
    dir: &Path,
    changed: tokio::sync::mpsc::UnboundedSender<()>,
) -> Option<notify::RecommendedWatcher> {
    use notify::{EventKind, RecursiveMode, Watcher};
    let handler = move |res: notify::Result<notify::Event>| {
        if let Ok(ev) = res
            && !matches!(ev.kind, EventKind::Access(_))
        {
            let _ = changed.send(());
        }
    };
    let mut w = match notify::recommended_watcher(handler) {
        Ok(w) => w,
        Err(e) => {
            warn!("cannot watch the config dir: {e}");
            return None;
        }
    };
    if let Err(e) = w.watch(dir, RecursiveMode::Recursive) {
        warn!("cannot watch {}: {e}", dir.display());
        return None;
    }
    Some(w)
}
