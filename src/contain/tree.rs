//! `Cgroups`: the daemon's domain (its subtree of the cgroup2 hierarchy) and
//! the job groups in it: create, find again after a restart, clean up, tear down. It must not signal a process.

use super::group::JobCgroup;
use super::naming::{self, SUPERVISOR};
use super::{dir, files};
use std::io;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The daemon's cgroup domain: `BASE/NAME/`, holding the daemon's own leaf
/// `supervisor/` and one group per job instance beside it. Made by
/// [`Cgroups::detect`]; without it, gsup contains jobs as their subreaper.
#[derive(Debug)]
pub struct Cgroups {
    pub(super) base: OwnedFd,
    pub(super) domain: Arc<OwnedFd>,
    pub(super) path: PathBuf,
    pub(super) name: String,
    /// The domain as `/proc/PID/cgroup` names it (`/gsup-…`, below the
    /// reader's cgroup root): how a process is seen to be in a job's group.
    pub(super) proc_path: String,
    /// Controllers enabled for the job groups (`subtree_control` of the domain).
    pub(super) controllers: Vec<String>,
    /// Controllers this daemon enabled in the base's `subtree_control`.
    pub(super) enabled_at_base: Vec<String>,
}

impl Cgroups {
    /// The domain's directory (`/sys/fs/cgroup/.../NAME`).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The domain's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The controllers every job group has (`memory`, `cpu`, `pids`, when
    /// the hierarchy offers them); empty on a hybrid host.
    pub fn controllers(&self) -> &[String] {
        &self.controllers
    }

    /// The job groups in the domain that hold processes now, each as
    /// (job, instance) with its pids: what a daemon that lost its saved state
    /// finds of the jobs a daemon before it ran. Names gsup would not write
    /// are skipped.
    pub fn populated_groups(&self) -> Vec<((String, String), Vec<i32>)> {
        let Ok(names) = dir::subdirs(self.domain.as_fd()) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for name in names {
            let Some(id) = naming::parse_group_name(&name) else {
                continue;
            };
            let Ok(fd) = dir::open_dir(self.domain.as_fd(), &name) else {
                continue;
            };
            let pids = dir::read(fd.as_fd(), "cgroup.procs")
                .map(|b| super::files::pids(&b))
                .unwrap_or_default();
            if !pids.is_empty() {
                out.push((id, pids));
            }
        }
        out
    }

    /// Makes (or takes over, when an empty one is left from before) the
    /// group of one job instance. Errors: ENAMETOOLONG when the escaped
    /// name exceeds 255 bytes, EBUSY when a group of that name still holds
    /// processes (adopt it with `open_existing`, or kill it first), ENOTDIR,
    /// ELOOP or EXDEV when something not made by the kernel sits at that
    /// name (a symlink, a file, a mount).
    pub fn create(&self, job: &str, instance: &str) -> io::Result<JobCgroup> {
        let Some(name) = naming::group_name(job, instance) else {
            return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
        };
        let (fd, made) = dir::make_dir(self.domain.as_fd(), &name)?;
        let group = self.group(job, instance, name, fd);
        if !made && group.populated()? {
            return Err(io::Error::from_raw_os_error(libc::EBUSY));
        }
        Ok(group)
    }

    /// The group of a job instance that already exists (a daemon restarted
    /// while its jobs ran), or `None`.
    pub fn open_existing(&self, job: &str, instance: &str) -> Option<JobCgroup> {
        let name = naming::group_name(job, instance)?;
        let fd = dir::open_dir(self.domain.as_fd(), &name).ok()?;
        Some(self.group(job, instance, name, fd))
    }

    /// Every (job, instance) with a group in the domain, running or not,
    /// from the directory names; directories that are not gsup's names are
    /// left out.
    pub fn list_existing(&self) -> Vec<(String, String)> {
        let mut out: Vec<(String, String)> = dir::subdirs(self.domain.as_fd())
            .unwrap_or_default()
            .iter()
            .filter_map(|n| naming::parse_group_name(n))
            .collect();
        out.sort();
        out
    }

    /// Removes every empty group in the domain (but the daemon's own leaf);
    /// returns the names removed. For start-up, after re-adoption: a group
    /// made but not yet given its process is empty too.
    pub fn remove_empty(&self) -> Vec<String> {
        let mut removed = Vec::new();
        for name in dir::subdirs(self.domain.as_fd()).unwrap_or_default() {
            if name == SUPERVISOR {
                continue;
            }
            let Ok(fd) = dir::open_dir(self.domain.as_fd(), &name) else {
                continue;
            };
            let (job, instance) = naming::parse_group_name(&name).unwrap_or_default();
            let group = self.group(&job, &instance, name.clone(), fd);
            if group.is_empty() && group.remove().is_ok() {
                removed.push(name);
            }
        }
        removed
    }

    /// At the daemon's exit: removes the empty job groups; when none is
    /// left, turns off the controllers it enabled, moves the daemon back to
    /// the group it started in and removes its leaf and the domain. Best
    /// effort; a group still running stays (its jobs outlive the daemon).
    pub fn release(self) {
        self.remove_empty();
        if !self.list_left().is_empty() {
            return;
        }
        for c in &self.controllers {
            let _ = dir::write(
                self.domain.as_fd(),
                "cgroup.subtree_control",
                &format!("-{c}"),
            );
        }
        for c in &self.enabled_at_base {
            let _ = dir::write(
                self.base.as_fd(),
                "cgroup.subtree_control",
                &format!("-{c}"),
            );
        }
        if dir::write(self.base.as_fd(), "cgroup.procs", "0").is_ok() {
            let _ = dir::remove_dir(self.domain.as_fd(), SUPERVISOR);
            let _ = dir::remove_dir(self.base.as_fd(), &self.name);
        }
    }

    /// The subdirectories of the domain other than the daemon's leaf.
    fn list_left(&self) -> Vec<String> {
        let mut left = dir::subdirs(self.domain.as_fd()).unwrap_or_default();
        left.retain(|n| n != SUPERVISOR);
        left
    }

    fn group(&self, job: &str, instance: &str, name: String, fd: OwnedFd) -> JobCgroup {
        JobCgroup {
            job: job.to_string(),
            instance: instance.to_string(),
            path: self.path.join(&name),
            proc_path: format!("{}/{name}", self.proc_path.trim_end_matches('/')),
            name,
            dir: fd,
            domain: Arc::clone(&self.domain),
            meter: std::sync::OnceLock::new(),
        }
    }

    /// The controllers listed in `subtree_control` of the domain.
    pub(super) fn read_controllers(domain: &OwnedFd) -> Vec<String> {
        dir::read(domain.as_fd(), "cgroup.subtree_control")
            .map(|b| files::controllers(&b))
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A `Cgroups` over a plain directory: only the name and directory
    /// handling can be tested there (no interface files).
    fn over(path: &Path) -> Cgroups {
        let open =
            |p: &Path| -> OwnedFd { OwnedFd::from(std::fs::File::open(p).expect("open dir")) };
        Cgroups {
            base: open(path.parent().expect("parent")),
            domain: Arc::new(open(path)),
            path: path.to_path_buf(),
            name: "d".into(),
            proc_path: "/d".into(),
            controllers: Vec::new(),
            enabled_at_base: Vec::new(),
        }
    }

    #[test]
    fn a_symlink_planted_at_a_group_name_is_refused() {
        let tmp = tempfile::tempdir().expect("tmp");
        let domain = tmp.path().join("d");
        let target = tmp.path().join("elsewhere");
        std::fs::create_dir(&domain).expect("mkdir");
        std::fs::create_dir(&target).expect("mkdir");
        symlink(&target, domain.join("web\\x2fnginx@")).expect("plant");
        let cg = over(&domain);
        // O_NOFOLLOW with O_DIRECTORY: ENOTDIR (or ELOOP) on a symlink.
        let err = cg.create("web/nginx", "").expect_err("refused");
        let errno = err.raw_os_error();
        assert!(
            errno == Some(libc::ENOTDIR) || errno == Some(libc::ELOOP),
            "{err}"
        );
        assert!(cg.open_existing("web/nginx", "").is_none());
        assert_eq!(std::fs::read_dir(&target).expect("ls").count(), 0);
        // A planted file is no group either.
        std::fs::write(domain.join("db@"), "x").expect("file");
        let err = cg.create("db", "").expect_err("refused");
        assert_eq!(err.raw_os_error(), Some(libc::ENOTDIR), "{err}");
    }

    #[test]
    fn names_list_back_and_odd_directories_are_skipped() {
        let tmp = tempfile::tempdir().expect("tmp");
        let domain = tmp.path().join("d");
        std::fs::create_dir(&domain).expect("mkdir");
        for name in [
            "web\\x2fnginx@",
            "resque@high",
            "supervisor",
            "junk",
            "x\\x41@",
        ] {
            std::fs::create_dir(domain.join(name)).expect("mkdir");
        }
        let cg = over(&domain);
        assert_eq!(
            cg.list_existing(),
            vec![
                ("resque".to_string(), "high".to_string()),
                ("web/nginx".to_string(), String::new())
            ]
        );
        let g = cg.open_existing("resque", "high").expect("found");
        assert_eq!(g.path(), domain.join("resque@high"));
        assert!(cg.open_existing("resque", "low").is_none());
        let long = "x".repeat(300);
        let err = cg.create("job", &long).expect_err("too long");
        assert_eq!(err.raw_os_error(), Some(libc::ENAMETOOLONG));
    }
}
