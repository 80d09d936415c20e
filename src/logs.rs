//! Job log files: where each job's output goes, and their rotation.
//! Opens files for the spawner; never reads a job's output in the daemon.
//!
//! The log file is opened `O_APPEND` and handed to the child as its stdout
//! and stderr: the job writes straight into the file. The daemon sits on no
//! pipe, holds no buffer and never blocks on a fast writer (SPEC 7); the
//! kernel's page cache is the only buffer. Rotation (later) renames files and
//! makes the next spawn open a fresh one.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Mode of a new log file: `gsup log` is open to every local user (SPEC 3),
/// and the client reads the file itself.
pub const LOG_FILE_MODE: u32 = 0o644;

/// Where a job's stdout and stderr go: `LOG_DIR/JOB.log`, or
/// `LOG_DIR/JOB-INSTANCE.log` for an instance (as Upstart names them).
/// `JOB` keeps its slashes as folders; a `.`/`..`/empty component becomes
/// `_`-prefixed, and `/` or NUL in the instance becomes `_`, so no path
/// leaves `log_dir`.
pub fn job_log_path(log_dir: &Path, job: &str, instance: &str) -> PathBuf {
    let mut parts: Vec<String> = job.split('/').map(component).collect();
    if !instance.is_empty() {
        let last = parts.pop().unwrap_or_default();
        let inst: String = instance
            .chars()
            .map(|c| if c == '/' || c == '\0' { '_' } else { c })
            .collect();
        parts.push(format!("{last}-{inst}"));
    }
    let mut path = log_dir.to_path_buf();
    let n = parts.len();
    for (i, part) in parts.into_iter().enumerate() {
        if i + 1 == n {
            path.push(format!("{part}.log"));
        } else {
            path.push(part);
        }
    }
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

/// SPEC 7's default: `/var/log/gsup` as root, else `$XDG_STATE_HOME/gsup/log`,
/// else `$HOME/.local/state/gsup/log`, else `/tmp/gsup-$UID/log`.
pub fn default_log_dir() -> PathBuf {
    // SAFETY: geteuid cannot fail.
    let euid = unsafe { libc::geteuid() };
    let var = |name: &str| {
        std::env::var_os(name)
            .map(PathBuf::from)
            .filter(|p| p.is_absolute())
    };
    default_log_dir_for(euid, var("XDG_STATE_HOME"), var("HOME"))
}

/// `default_log_dir` with its inputs given, so it can be tested.
pub fn default_log_dir_for(
    euid: u32,
    xdg_state: Option<PathBuf>,
    home: Option<PathBuf>,
) -> PathBuf {
    if euid == 0 {
        return PathBuf::from("/var/log/gsup");
    }
    if let Some(state) = xdg_state {
        return state.join("gsup/log");
    }
    if let Some(home) = home {
        return home.join(".local/state/gsup/log");
    }
    PathBuf::from(format!("/tmp/gsup-{euid}/log"))
}

/// Opens (creating it and its parent folders) a job's log file for
/// appending, close-on-exec: the spawner dup2s it onto the child's stdout
/// and stderr. Used before fork, never after.
pub fn open_log(path: &Path) -> io::Result<File> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    OpenOptions::new()
        .append(true)
        .create(true)
        .mode(LOG_FILE_MODE)
        .custom_flags(libc::O_CLOEXEC)
        .open(path)
}

/// Appends one line of gsup's own to a job's log (why a process could not
/// start), so `gsup log JOB` tells the operator. Best effort: a log that
/// cannot be written is no reason to fail anything else.
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
            PathBuf::from("/l/w-.._.._etc_passwd.log")
        );
        assert_eq!(job_log_path(dir, "../x", ""), PathBuf::from("/l/_../x.log"));
        assert_eq!(
            job_log_path(dir, "a//./b", "/"),
            PathBuf::from("/l/a/_/_./b-_.log")
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
    fn default_dir_follows_spec_7() {
        assert_eq!(
            default_log_dir_for(0, Some("/x".into()), Some("/h".into())),
            PathBuf::from("/var/log/gsup")
        );
        assert_eq!(
            default_log_dir_for(1000, Some("/x".into()), Some("/h".into())),
            PathBuf::from("/x/gsup/log")
        );
        assert_eq!(
            default_log_dir_for(1000, None, Some("/h".into())),
            PathBuf::from("/h/.local/state/gsup/log")
        );
        assert_eq!(
            default_log_dir_for(1000, None, None),
            PathBuf::from("/tmp/gsup-1000/log")
        );
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
        let mode = std::fs::metadata(&path2)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o600, 0o600, "owner reads and writes");
        assert_eq!(mode & 0o133, 0, "no exec bits, no group/other write");
    }
}
