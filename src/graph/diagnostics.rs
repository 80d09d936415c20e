//! Turns what the dependency graph found (cycles, missing and rejected jobs)
//! into `FILE:LINE:COL` diagnostics. Pure: the caller supplies key positions.

use super::{DepGraph, Key, Reference};
use crate::diag::Diagnostic;
use crate::loader::LoadedJob;

/// The 1-based `(line, col)` of a top-level `key:` in a unit file's text, for
/// messages about `start_on`/`stop_on` (the unit model keeps no positions).
pub fn key_position(text: &str, key: Key) -> Option<(usize, usize)> {
    let key = key.as_str();
    text.lines().enumerate().find_map(|(i, line)| {
        let rest = line
            .strip_prefix(key)
            .or_else(|| line.strip_prefix(&format!("\"{key}\"")))
            .or_else(|| line.strip_prefix(&format!("'{key}'")))?;
        rest.trim_start().starts_with(':').then_some((i + 1, 1))
    })
}

impl DepGraph {
    /// Errors for every job on a cycle (one per job, each naming the whole
    /// cycle) and warnings for references to jobs that do not exist or are
    /// rejected, sorted. `position` says where a job's `start_on`/`stop_on`
    /// is in its file; jobs of the graph missing from `jobs` get no message.
    pub fn diagnostics(
        &self,
        jobs: &[LoadedJob],
        position: &dyn Fn(&LoadedJob, Key) -> (usize, usize),
    ) -> Vec<Diagnostic> {
        let mut out = Vec::new();
        for job in jobs {
            let name = job.name.as_str();
            if !self.contains(name) {
                continue;
            }
            if let Some(cycle) = self.cycles.iter().find(|c| c.contains(&job.name)) {
                let key = self.cycle_key(name, cycle);
                let (line, col) = position(job, key);
                let text = self.cycle_text(name, cycle);
                let message = format!("dependency cycle: {text}; {name} is not loaded");
                out.push(Diagnostic::error(&job.path, line, col, message));
                continue;
            }
            for r in self.references_of(name) {
                let why = if !self.contains(&r.target) {
                    "no such job".to_string()
                } else if self.on_cycle(&r.target) {
                    format!("{} is on a dependency cycle and not loaded", r.target)
                } else {
                    continue;
                };
                let (line, col) = position(job, r.key);
                let message = format!("{}: {} {}: {why}", r.key.as_str(), r.event, r.target);
                out.push(Diagnostic::warning(&job.path, line, col, message));
            }
        }
        out.sort();
        out.dedup();
        out
    }

    /// The key (`start_on` first) holding the reference by which `job` waits
    /// for another job of its cycle.
    fn cycle_key(&self, job: &str, cycle: &[String]) -> Key {
        self.dependencies_of(job)
            .iter()
            .filter(|d| cycle.contains(d))
            .flat_map(|d| self.edge_references(d, job))
            .map(|r: &Reference| r.key)
            .min()
            .unwrap_or(Key::StartOn)
    }

    /// A cycle in words, from `job`'s point of view: `a -> c -> b -> a (each
    /// waits for the next)` for a simple cycle, a list for a tangle.
    fn cycle_text(&self, job: &str, cycle: &[String]) -> String {
        if cycle.len() == 1 {
            return format!("{job} waits for itself");
        }
        let simple = cycle.iter().all(|n| {
            self.dependencies_of(n)
                .iter()
                .filter(|d| cycle.contains(d))
                .count()
                == 1
        });
        if !simple {
            return format!("{} wait for each other", cycle.join(", "));
        }
        let start = cycle.iter().position(|n| n == job).unwrap_or(0);
        let mut path: Vec<&str> = cycle[start..]
            .iter()
            .chain(&cycle[..start])
            .map(String::as_str)
            .collect();
        path.push(job);
        format!("{} (each waits for the next)", path.join(" -> "))
    }
}
