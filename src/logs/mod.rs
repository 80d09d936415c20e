//! Job logs and the daemon's own log: file names, safe files, the log thread
//! (`LogHub`), rotation, and the rate-limited daemon log. Never decides a job's fate.
//!
//! * [`safe`]: opening `LOG_DIR` and everything below it without following a
//!   path another user could change.
//! * [`hub`]: [`LogHub`], the one thread that owns every job's pipe and log file.
//! * [`rotate`]: the pure line and rotation rules the log thread follows;
//!   `file` carries them out on a real file (renames in its folder).
//! * [`stamp`]: RFC 3339 time prefixes (pure).
//! * [`daemon`], [`ratelimit`]: the daemon's own `tracing` log, its ring of recent
//!   events for `gsup log --daemon`, and its rate limit per source.

pub mod daemon;
mod file;
pub mod hub;
pub mod ratelimit;
pub mod rotate;
pub mod safe;
pub mod stamp;
pub mod tail;
mod thread;

pub use daemon::{DaemonLog, DaemonLogHandle};
pub use hub::{Handover, LogHub};

use serde::{Deserialize, Serialize};
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

/// Mode of every job log file: the daemon writes, its group reads.
pub const LOG_FILE_MODE: u32 = 0o640;

/// Mode of a folder the daemon creates for logs.
pub const LOG_DIR_MODE: u32 = 0o755;

/// Which log: one instance of one job (`instance` empty for a job without
/// instances). Hooks and respawns of one instance share its log and its pipe.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct LogId {
    pub job: String,
    pub instance: String,
}

impl LogId {
    /// The log of `job`'s instance `instance` (`""`: the job's only one).
    pub fn new(job: &str, instance: &str) -> LogId {
        LogId {
            job: job.to_string(),
            instance: instance.to_string(),
        }
    }

    /// The folders below `LOG_DIR` and the file name of this log, each one
    /// path component (see [`log_name`]).
    pub fn parts(&self) -> (Vec<String>, String) {
        log_name(&self.job, &self.instance)
    }

    /// `LOG_DIR/JOB.log` or `LOG_DIR/JOB-INSTANCE.log`.
    pub fn path(&self, log_dir: &Path) -> PathBuf {
        job_log_path(log_dir, &self.job, &self.instance)
    }
}

impl std::fmt::Display for LogId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.instance.is_empty() {
            f.write_str(&self.job)
        } else {
            write!(f, "{} ({})", self.job, self.instance)
        }
    }
}

/// How one log is kept: the unit's `log:` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogSpec {
    /// Rotate before a line would take the file past this size; `None`: never.
    pub max_size: Option<u64>,
    /// Rotated files kept (`JOB.log.1` ... `JOB.log.KEEP`); 0: none.
    pub keep: u32,
    /// Prefix each line with the time it was read.
    pub timestamps: bool,
}

impl Default for LogSpec {
    fn default() -> Self {
        LogSpec::from(&crate::unit::LogRotation::default())
    }
}

impl From<&crate::unit::LogRotation> for LogSpec {
    fn from(r: &crate::unit::LogRotation) -> Self {
        LogSpec {
            max_size: r.max_size,
            keep: r.keep,
            timestamps: r.timestamps,
        }
    }
}

/// The folders and file name of a log below `LOG_DIR`, each a single path
/// component that cannot leave `LOG_DIR`:
///
/// * `JOB` keeps its slashes as folders; an empty, `.` or `..` component
///   becomes `_`, `_.`, `_..`, and NUL becomes `_`.
/// * An instance is appended to the last component as `-INSTANCE` with every
///   `/`, `%`, control character (below 0x20, and 0x7f) written as `%XX`
///   (two upper-case hex digits), so two instances never share a file and a
///   name never spans folders or terminal lines.
pub fn log_name(job: &str, instance: &str) -> (Vec<String>, String) {
    let mut parts: Vec<String> = job.split('/').map(component).collect();
    let mut last = parts.pop().unwrap_or_default();
    if !instance.is_empty() {
        last.push('-');
        last.push_str(&escape_instance(instance));
    }
    last.push_str(".log");
    (parts, last)
}

/// An instance value made into part of one file name (see [`log_name`]).
pub fn escape_instance(instance: &str) -> String {
    let mut out = String::with_capacity(instance.len());
    for c in instance.chars() {
        if c == '/' || c == '%' || c == '\0' || c.is_ascii_control() {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Where a job's stdout and stderr go: `LOG_DIR/JOB.log`, or
/// `LOG_DIR/JOB-INSTANCE.log` for an instance (as Upstart names them); see
/// [`log_name`] for the rule that keeps every name inside `log_dir`.
pub fn job_log_path(log_dir: &Path, job: &str, instance: &str) -> PathBuf {
    let (folders, file) = log_name(job, instance);
    let mut path = log_dir.to_path_buf();
    path.extend(folders);
    path.push(file);
    path
}

/// One folder or file name of a job name, made safe to join under the log dir.
fn component(part: &str) -> String {
    let clean: String = part
        .chars()
        .map(|c| if c == '\0' { '_' } else { c })
        .collect();
    match clean.as_str() {
        "" | "." | ".." => format!("_{clean}"),
        _ => clean,
    }
}

/// Opens (creating it and its missing folders) a log file by its whole path
/// for appending, close-on-exec, through [`safe`]'s walk from `/`. The
/// daemon hands jobs a [`LogHub`] pipe; a spawn without a hub (a test's fake
/// kernel, `Stdio::File`) gets this file on its stdout and stderr.
pub fn open_log(path: &Path) -> io::Result<File> {
    safe::open_path(path).map_err(|e| io::Error::new(io::ErrorKind::PermissionDenied, e))
}

/// Appends one line of gsup's own to a log file by its path (why a process
/// could not start). Best effort: a log that cannot be written is no reason
/// to fail anything else. The daemon uses [`LogHub::note`]; this is for a
/// supervisor without a hub.
pub fn note(path: &Path, line: &str) {
    use std::io::Write;
    if let Ok(mut f) = open_log(path) {
        let _ = writeln!(f, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_name_keeps_its_folders() {
        let dir = Path::new("/var/log/gsup");
        assert_eq!(
            job_log_path(dir, "gitorious/unicorn", ""),
            PathBuf::from("/var/log/gsup/gitorious/unicorn.log")
        );
        assert_eq!(
            job_log_path(dir, "sphinx", ""),
            PathBuf::from("/var/log/gsup/sphinx.log")
        );
    }

    #[test]
    fn instance_is_a_suffix() {
        let dir = Path::new("/l");
        assert_eq!(
            job_log_path(dir, "gitorious/resque-worker", "high"),
            PathBuf::from("/l/gitorious/resque-worker-high.log")
        );
        assert_eq!(job_log_path(dir, "w", "*"), PathBuf::from("/l/w-*.log"));
    }

    #[test]
    fn nothing_escapes_the_log_dir() {
        let dir = Path::new("/l");
        assert_eq!(
            job_log_path(dir, "w", "../../etc/passwd"),
            PathBuf::from("/l/w-..%2F..%2Fetc%2Fpasswd.log")
        );
        assert_eq!(job_log_path(dir, "../x", ""), PathBuf::from("/l/_../x.log"));
        assert_eq!(
            job_log_path(dir, "a//./b", "/"),
            PathBuf::from("/l/a/_/_./b-%2F.log")
        );
        assert_eq!(job_log_path(dir, "..", ""), PathBuf::from("/l/_...log"));
        for (job, inst) in [("../../x", ".."), ("/abs", "/.."), ("a/..", "")] {
            let p = job_log_path(dir, job, inst);
            assert!(p.starts_with(dir), "{p:?}");
            assert!(
                p.components().all(|c| c != std::path::Component::ParentDir),
                "{p:?}"
            );
        }
    }

    #[test]
    fn instances_never_share_a_file() {
        let names: Vec<String> = ["a/b", "a%2Fb", "a_b", "a\nb", "a%0Ab", "a\u{7f}"]
            .iter()
            .map(|i| log_name("w", i).1)
            .collect();
        let mut unique = names.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), names.len(), "{names:?}");
        assert_eq!(names[0], "w-a%2Fb.log");
        assert_eq!(names[1], "w-a%252Fb.log");
        assert_eq!(names[3], "w-a%0Ab.log");
        assert_eq!(names[5], "w-a%7F.log");
        assert_eq!(log_name("w", "héllo").1, "w-héllo.log");
    }

    #[test]
    fn open_log_creates_folders_and_appends() {
        let tmp = tempfile::tempdir().expect("tempdir");
        let path = tmp.path().join("a/b/c.log");
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(&path, "old\n").expect("write");
        let path2 = tmp.path().join("x/y/z.log");
        for p in [&path, &path2] {
            let mut f = open_log(p).expect("open");
            io::Write::write_all(&mut f, b"new\n").expect("write");
        }
        assert_eq!(std::fs::read_to_string(&path).expect("read"), "old\nnew\n");
        assert_eq!(std::fs::read_to_string(&path2).expect("read"), "new\n");
        use std::os::unix::fs::PermissionsExt;
        for p in [&path, &path2] {
            let mode = std::fs::metadata(p).expect("meta").permissions().mode();
            assert_eq!(mode & 0o7777, LOG_FILE_MODE, "{p:?}");
        }
    }
}
