//! `gsup check` and `gsup graph`: load a config dir without a daemon, report
//! every problem as `FILE:LINE:COL: message`, print the start order or DOT.
//! It reads unit files (through `loader`, and to place messages); it starts nothing.

use crate::diag::Diagnostic;
use crate::graph::{DepGraph, Key, key_position};
use crate::loader::{self, LoadReport, LoadedJob};
use std::io::{self, Write};
use std::path::Path;

/// Everything `gsup check` learns about a config dir: the loader's report,
/// the dependency graph of the good jobs, and every diagnostic (the loader's
/// and the graph's), sorted. Public so that other front ends can reuse it.
#[derive(Debug, Clone)]
pub struct Checked {
    /// What the loader found (every good job, jobs on cycles included).
    pub report: LoadReport,
    /// The dependency graph of `report.jobs`.
    pub graph: DepGraph,
    /// The loader's and the graph's diagnostics, sorted.
    pub diagnostics: Vec<Diagnostic>,
}

impl Checked {
    /// Number of errors among the diagnostics.
    pub fn errors(&self) -> usize {
        self.diagnostics.iter().filter(|d| d.is_error()).count()
    }

    /// Number of warnings among the diagnostics.
    pub fn warnings(&self) -> usize {
        self.diagnostics.len() - self.errors()
    }
}

/// Where a job's `start_on`/`stop_on` is in its file, read back from the file
/// (line 1, column 1 when the file cannot be read or the key is not found).
pub fn key_position_in_file(job: &LoadedJob, key: Key) -> (usize, usize) {
    std::fs::read_to_string(&job.path)
        .ok()
        .and_then(|text| key_position(&text, key))
        .unwrap_or((1, 1))
}

/// The shell traps in a loaded job's commands (`unit::lint`), read back from
/// its file (none when the file cannot be read again).
fn lint_in_file(job: &LoadedJob) -> Vec<Diagnostic> {
    match std::fs::read_to_string(&job.path) {
        Ok(text) => crate::unit::lint(&job.path, &text, &job.unit),
        Err(_) => Vec::new(),
    }
}

/// Loads `config_dir`, builds the graph and gathers every diagnostic.
pub fn analyse(config_dir: &Path) -> Checked {
    let report = loader::load_dir(config_dir);
    let graph = DepGraph::from_jobs(&report.jobs);
    let mut diagnostics = report.diagnostics.clone();
    diagnostics.extend(graph.diagnostics(&report.jobs, &key_position_in_file));
    diagnostics.extend(report.jobs.iter().flat_map(lint_in_file));
    diagnostics.sort();
    diagnostics.dedup();
    Checked {
        report,
        graph,
        diagnostics,
    }
}

fn plural(n: usize, word: &str) -> String {
    if n == 1 {
        format!("{n} {word}")
    } else {
        format!("{n} {word}s")
    }
}

/// Writes the check report: every diagnostic, the start order (one wave per
/// line, numbered from 1), then `N jobs, E errors, W warnings`.
pub fn write_report(checked: &Checked, out: &mut dyn Write) -> io::Result<()> {
    for d in &checked.diagnostics {
        writeln!(out, "{d}")?;
    }
    let waves = checked.graph.start_waves();
    if waves.is_empty() {
        writeln!(out, "start order: (no jobs)")?;
    } else {
        writeln!(out, "start order:")?;
        for (i, wave) in waves.iter().enumerate() {
            writeln!(out, "  {}: {}", i + 1, wave.join(" "))?;
        }
    }
    let jobs: usize = waves.iter().map(Vec::len).sum();
    writeln!(
        out,
        "{}, {}, {}",
        plural(jobs, "job"),
        plural(checked.errors(), "error"),
        plural(checked.warnings(), "warning")
    )
}

fn missing_dir(config_dir: &Path, err: &mut dyn Write) -> bool {
    if config_dir.is_dir() {
        return false;
    }
    let _ = writeln!(
        err,
        "gsup: config dir {}: not a directory",
        config_dir.display()
    );
    true
}

/// `gsup check`: prints the report to `out` (diagnostics on stdout, so that
/// `gsup check | grep` works); exit 0 without errors, 1 with any error or
/// when `config_dir` is not a directory (said on `err`).
pub fn run_check(config_dir: &Path, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    if missing_dir(config_dir, err) {
        return 1;
    }
    let checked = analyse(config_dir);
    if let Err(e) = write_report(&checked, out) {
        let _ = writeln!(err, "gsup: check: {e}");
        return 1;
    }
    i32::from(checked.errors() > 0)
}

/// `gsup graph`: the dependency graph as DOT on `out`; diagnostics go to
/// `err` so that the output can be piped to `dot`. Exit 0 without errors.
pub fn run_graph(config_dir: &Path, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    if missing_dir(config_dir, err) {
        return 1;
    }
    let checked = analyse(config_dir);
    for d in &checked.diagnostics {
        let _ = writeln!(err, "{d}");
    }
    if let Err(e) = out.write_all(checked.graph.to_dot().as_bytes()) {
        let _ = writeln!(err, "gsup: graph: {e}");
        return 1;
    }
    i32::from(checked.errors() > 0)
}
