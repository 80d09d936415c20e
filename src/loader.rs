//! The config-dir loader: finds unit files under a directory and parses each.
//! The one module of the model side that reads files; it never starts anything.

use crate::diag::Diagnostic;
use crate::unit::Unit;
use std::collections::{BTreeMap, HashSet};
use std::fs::{self, File};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The largest unit file read; a bigger one is an error, never read whole.
pub const MAX_UNIT_BYTES: u64 = 1024 * 1024;

/// How many folders deep a unit file may be under the config dir
/// (`a/b/c/d/e/f/g/h/job.yaml`); deeper folders are not read. With the two
/// budgets below it bounds a walk that a symlink leads out of the config
/// dir (to `/`, say) to a few milliseconds.
pub const MAX_FOLDER_DEPTH: usize = 8;
/// How many folders one load reads at most.
pub const MAX_FOLDERS: usize = 1024;
/// How many directory entries one load looks at most.
pub const MAX_ENTRIES: usize = 100_000;

/// A unit file that parsed.
#[derive(Debug, Clone)]
pub struct LoadedJob {
    /// Job name: relative path without extension (`gitorious/unicorn`).
    pub name: String,
    pub path: PathBuf,
    pub unit: Unit,
    /// `user`/`group` resolved when the file was loaded (`users::resolve`):
    /// the lookup may block, so it is done here, never at spawn time. An
    /// error fails every start of the job with that reason.
    pub creds: Result<Option<crate::users::Creds>, String>,
}

impl LoadedJob {
    /// A job from an already parsed unit, its user and group resolved now.
    pub fn new(name: String, path: PathBuf, unit: Unit) -> LoadedJob {
        let creds = crate::users::resolve(unit.user.as_ref(), unit.group.as_ref());
        LoadedJob {
            name,
            path,
            unit,
            creds,
        }
    }
}

/// Everything found in a config dir: the good jobs (sorted by name) and every
/// error and warning, so that good files load beside bad ones.
#[derive(Debug, Clone, Default)]
pub struct LoadReport {
    pub jobs: Vec<LoadedJob>,
    pub diagnostics: Vec<Diagnostic>,
    /// Every directory read (the config dir first), to watch for changes.
    pub dirs: Vec<PathBuf>,
}

/// The job name of `rel` (a path relative to the config dir) if it is a unit
/// file by its name: `.yaml`/`.yml`, no hidden component.
fn job_name(rel: &Path) -> Option<Result<String, String>> {
    let ext = rel.extension()?;
    if ext != "yaml" && ext != "yml" {
        return None;
    }
    let stem = rel.with_extension("");
    let mut parts = Vec::new();
    for c in stem.components() {
        let std::path::Component::Normal(c) = c else {
            return None;
        };
        let Some(s) = c.to_str() else {
            return Some(Err("file name is not valid UTF-8".into()));
        };
        if s.starts_with('.') || s.is_empty() {
            return None;
        }
        parts.push(s);
    }
    if parts.is_empty() {
        return None;
    }
    let name = parts.join("/");
    if name.contains(|c: char| c.is_whitespace() || c.is_control() || c == '=') {
        return Some(Err(format!(
            "bad job name `{}`: a job name may not hold blanks, control characters or `=`",
            name.escape_debug()
        )));
    }
    Some(Ok(name))
}

/// Reads a unit file: only a regular file, at most `MAX_UNIT_BYTES`, UTF-8.
/// Public for `gsup import`, which reads the files it converts the same way.
pub fn read_unit(path: &Path) -> Result<String, Diagnostic> {
    let whole = |msg: String| Diagnostic::error(path, 0, 0, msg);
    // O_NONBLOCK: opening a FIFO that was put in place of the file must not hang.
    let mut f = fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| whole(format!("cannot read unit file: {e}")))?;
    let meta = f
        .metadata()
        .map_err(|e| whole(format!("cannot read unit file: {e}")))?;
    if !meta.is_file() {
        return Err(whole("not a regular file; unit files must be".into()));
    }
    if meta.len() > MAX_UNIT_BYTES {
        return Err(whole(format!(
            "unit file too large: {} bytes, the limit is {MAX_UNIT_BYTES}",
            meta.len()
        )));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    (&mut f as &mut File)
        .take(MAX_UNIT_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| whole(format!("cannot read unit file: {e}")))?;
    if bytes.len() as u64 > MAX_UNIT_BYTES {
        return Err(whole(format!(
            "unit file too large: over {MAX_UNIT_BYTES} bytes"
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let bad = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let prefix = &bytes[..bad];
        let line = prefix.iter().filter(|&&b| b == b'\n').count() + 1;
        let line_start = prefix
            .iter()
            .rposition(|&b| b == b'\n')
            .map_or(0, |p| p + 1);
        let col = String::from_utf8_lossy(&prefix[line_start..])
            .chars()
            .count()
            + 1;
        Diagnostic::error(
            path,
            line,
            col,
            format!(
                "unit file is not valid UTF-8 (byte 0x{:02X})",
                bytes.get(bad).copied().unwrap_or(0)
            ),
        )
    })
}

fn parse_file(name: String, path: &Path) -> Result<LoadedJob, Vec<Diagnostic>> {
    let text = read_unit(path).map_err(|d| vec![d])?;
    let unit = crate::unit::parse(path, &text)?;
    Ok(LoadedJob::new(name, path.to_owned(), unit))
}

/// Loads every `.yaml`/`.yml` file under `dir`, recursively (following
/// symlinks, each directory once). Hidden files and directories are skipped.
/// Two files with the same job name (`a.yaml`, `a.yml`) are both errors.
pub fn load_dir(dir: &Path) -> LoadReport {
    let mut report = LoadReport::default();
    // Job name -> the files that claim it.
    let mut found: BTreeMap<String, Vec<PathBuf>> = BTreeMap::new();
    let mut visited: HashSet<(u64, u64)> = HashSet::new();
    let mut stack = vec![PathBuf::new()];
    let (mut folders, mut entries_seen) = (0usize, 0usize);
    while let Some(rel) = stack.pop() {
        let path = dir.join(&rel);
        folders += 1;
        if folders > MAX_FOLDERS || entries_seen > MAX_ENTRIES {
            report.diagnostics.push(Diagnostic::warning(
                dir,
                0,
                0,
                format!(
                    "more than {MAX_FOLDERS} folders or {MAX_ENTRIES} entries under the config dir \
                     (a symlink to a big tree?); the rest is not read"
                ),
            ));
            break;
        }
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) => {
                let what = if rel.as_os_str().is_empty() {
                    "config dir"
                } else {
                    "directory"
                };
                report.diagnostics.push(Diagnostic::error(
                    &path,
                    0,
                    0,
                    format!("cannot read {what}: {e}"),
                ));
                continue;
            }
        };
        if !visited.insert((meta.dev(), meta.ino())) {
            report.diagnostics.push(Diagnostic::warning(
                &path,
                0,
                0,
                "directory already loaded through another path (symlink loop?); skipped",
            ));
            continue;
        }
        report.dirs.push(path.clone());
        let entries = match fs::read_dir(&path) {
            Ok(e) => e,
            Err(e) => {
                report.diagnostics.push(Diagnostic::error(
                    &path,
                    0,
                    0,
                    format!("cannot read directory: {e}"),
                ));
                continue;
            }
        };
        for entry in entries {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    report.diagnostics.push(Diagnostic::error(
                        &path,
                        0,
                        0,
                        format!("cannot read directory: {e}"),
                    ));
                    break;
                }
            };
            entries_seen += 1;
            let child_rel = rel.join(entry.file_name());
            let child = dir.join(&child_rel);
            let hidden = entry.file_name().as_encoded_bytes().starts_with(b".");
            // Follows symlinks; a dangling one is an error only if it looks like a unit.
            match fs::metadata(&child) {
                Ok(m) if m.is_dir() => {
                    if hidden {
                    } else if child_rel.components().count() > MAX_FOLDER_DEPTH {
                        report.diagnostics.push(Diagnostic::warning(
                            &child,
                            0,
                            0,
                            format!(
                                "more than {MAX_FOLDER_DEPTH} folders deep under the config dir; not read"
                            ),
                        ));
                    } else {
                        stack.push(child_rel);
                    }
                }
                Ok(_) | Err(_) => match job_name(&child_rel) {
                    Some(Ok(name)) => found.entry(name).or_default().push(child),
                    Some(Err(msg)) => report
                        .diagnostics
                        .push(Diagnostic::error(&child, 0, 0, msg)),
                    None => {}
                },
            }
        }
    }
    for (name, paths) in found {
        if let [path] = paths.as_slice() {
            match parse_file(name, path) {
                Ok(job) => report.jobs.push(job),
                Err(mut d) => report.diagnostics.append(&mut d),
            }
            continue;
        }
        for path in &paths {
            let others: Vec<String> = paths
                .iter()
                .filter(|p| p != &path)
                .map(|p| p.display().to_string())
                .collect();
            report.diagnostics.push(Diagnostic::error(
                path,
                0,
                0,
                format!(
                    "job `{name}` is also defined by {}; rename or remove one (neither is loaded)",
                    others.join(", ")
                ),
            ));
        }
    }
    report.jobs.sort_by(|a, b| a.name.cmp(&b.name));
    report.diagnostics.sort();
    report
}

/// Loads one unit file of config dir `dir` (for a reload after the file
/// changed). `path` is `dir` joined with the file's relative path. A twin
/// with the other extension (`a.yml` beside `a.yaml`) is an error, as in `load_dir`.
pub fn load_file(dir: &Path, path: &Path) -> Result<LoadedJob, Vec<Diagnostic>> {
    let whole = |msg: String| vec![Diagnostic::error(path, 0, 0, msg)];
    let rel = path
        .strip_prefix(dir)
        .map_err(|_| whole(format!("not under the config dir {}", dir.display())))?;
    let name = match job_name(rel) {
        Some(Ok(name)) => name,
        Some(Err(msg)) => return Err(whole(msg)),
        None => {
            return Err(whole(
                "not a unit file (expected a `.yaml` or `.yml` file)".into(),
            ));
        }
    };
    let twin_ext = if rel.extension().is_some_and(|e| e == "yaml") {
        "yml"
    } else {
        "yaml"
    };
    let twin = path.with_extension(twin_ext);
    if fs::metadata(&twin).is_ok_and(|m| !m.is_dir()) {
        return Err(whole(format!(
            "job `{name}` is also defined by {}; rename or remove one (neither is loaded)",
            twin.display()
        )));
    }
    parse_file(name, path)
}
