//! The import's only contact with the disk: reading the files it converts, finding the
//! units already in the out dir, writing unit files whole (temp file, then rename). No deciding.

use crate::loader::{self, LoadedJob};
use std::fs;
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Reads an input file (an Upstart job, a Monit control file, a unit to
/// merge into) as the loader reads unit files: a regular file of at most
/// 1 MiB, UTF-8. The error is one line naming the file.
pub fn read(path: &Path) -> Result<String, String> {
    loader::read_unit(path).map_err(|d| {
        let msg = d.message.replace("unit file", "file");
        format!("{}: {msg}", path.display())
    })
}

/// Where the unit of `job` is written: `OUT/JOB.yaml`.
pub fn unit_path(out: &Path, job: &str) -> PathBuf {
    out.join(format!("{job}.yaml"))
}

/// The unit file of `job` already in `out` (`.yaml` or `.yml`, whatever it
/// is: a file that does not load counts too), if any.
pub fn existing_unit(out: &Path, job: &str) -> Option<PathBuf> {
    ["yaml", "yml"]
        .iter()
        .map(|ext| out.join(format!("{job}.{ext}")))
        .find(|p| fs::symlink_metadata(p).is_ok())
}

/// The units of `out` that load (none when it does not exist yet).
pub fn units_in(out: &Path) -> Vec<LoadedJob> {
    if !out.is_dir() {
        return Vec::new();
    }
    loader::load_dir(out).jobs
}

/// Upstart's `NAME.override` beside `NAME.conf`, when there is one: the
/// import says it was not read.
pub fn override_beside(conf: &Path) -> Option<PathBuf> {
    let o = conf.with_extension("override");
    fs::symlink_metadata(&o).is_ok().then_some(o)
}

/// Writes `text` to `path` whole: its directories are created, the text goes
/// to a new hidden file beside it (never through a symlink), then is renamed
/// over `path`, so that a daemon watching the dir never reads half a unit.
pub fn write(path: &Path, text: &str) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("{}: {e}", path.display());
    let dir = path.parent().unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(fail)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.gsup-import-{}", std::process::id()));
    let written = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o644)
        .custom_flags(libc::O_NOFOLLOW)
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(text.as_bytes())?;
            f.sync_all()
        })
        .and_then(|()| fs::rename(&tmp, path));
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(fail(e));
    }
    Ok(())
}

/// The number of CPUs of this machine (1 when unknown): the default for
/// Monit's `cpu` percentages, which are of all CPUs.
pub fn cpu_count() -> u32 {
    std::thread::available_parallelism()
        .map(|n| u32::try_from(n.get()).unwrap_or(u32::MAX))
        .unwrap_or(1)
}
