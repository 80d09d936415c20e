//! Detection and set-up of the daemon's cgroup domain: find its own cgroup,
//! check it may make groups there, move itself into a leaf, enable controllers. It must not touch a group outside its base.
//!
//! The base is the cgroup the daemon was started in (or, for a daemon that
//! re-exec'd itself, the one above `NAME/supervisor`). The daemon makes
//! `BASE/NAME/` and `BASE/NAME/supervisor/` and moves itself into the
//! latter: cgroup v2's "no internal processes" rule lets a group below the
//! root enable controllers for its children only while it holds no process
//! itself, so the daemon leaves the base (and the domain) to leaves, as
//! systemd moves itself into `init.scope`. Then it enables the wanted
//! controllers (when offered) in the base's and the domain's
//! `subtree_control`, one by one; a refusal only means fewer figures.

use super::mountinfo::{self, Located};
use super::naming::{self, SUPERVISOR};
use super::tree::Cgroups;
use super::{dir, files};
use nix::fcntl::OFlag;
use nix::sys::stat::Mode;
use std::os::fd::{AsFd, OwnedFd};
use std::path::PathBuf;
use std::sync::Arc;

/// The controllers gsup asks for: memory and CPU figures per job, and a
/// process count.
pub const CONTROLLERS: &[&str] = &["cpu", "memory", "pids"];

/// Where the daemon is, relative to its domain `name`: the base's
/// components below the mount, and whether the daemon already sits in
/// `BASE/name/supervisor` (a re-exec'd daemon keeps its cgroup).
pub fn split_own<'a>(own: &'a [String], name: &str) -> (&'a [String], bool) {
    match own {
        [base @ .., domain, leaf] if domain == name && leaf == SUPERVISOR => (base, true),
        _ => (own, false),
    }
}

/// The domain `name` as `/proc/PID/cgroup` names it: the daemon's own
/// cgroup there (`own`, `/` for the root) less the `strip` components below
/// the base (its domain and leaf, when it runs in them already), then `name`.
pub fn proc_path(own: &str, strip: usize, name: &str) -> String {
    let mut parts: Vec<&str> = own.split('/').filter(|p| !p.is_empty()).collect();
    parts.truncate(parts.len().saturating_sub(strip));
    parts.push(name);
    format!("/{}", parts.join("/"))
}

/// Whether the daemon may change the base's `subtree_control`: not when
/// the base is the host's root cgroup, unless the daemon is PID 1 (the
/// machine's init); the root belongs to the machine's init.
pub fn may_enable_at_base(base_is_host_root: bool, pid1: bool) -> bool {
    !base_is_host_root || pid1
}

impl Cgroups {
    /// Sets up the domain `name` with the memory, cpu and pids controllers
    /// where offered. `name` keeps daemons on one host apart and must stay
    /// the same across a daemon's restarts: [`super::domain_for`] of the
    /// runtime dir. The error says why cgroups cannot be used (no cgroup2,
    /// read-only, not root and not delegated, ...): the daemon logs it and
    /// falls back to containing jobs as their subreaper.
    pub fn detect(name: &str) -> Result<Cgroups, String> {
        Cgroups::detect_with(name, CONTROLLERS)
    }

    /// [`Cgroups::detect`] with another set of controllers to enable.
    pub fn detect_with(name: &str, controllers: &[&str]) -> Result<Cgroups, String> {
        if !naming::valid_domain(name) {
            return Err(format!("`{name}` is not a valid cgroup domain name"));
        }
        let read = |p: &str| std::fs::read_to_string(p).map_err(|e| format!("{p}: {e}"));
        let found = mountinfo::locate(&read("/proc/self/mountinfo")?, &read("/proc/self/cgroup")?)?;
        let (base_rel, inside) = split_own(&found.rel, name);
        let (base, base_path) = open_base(&found, base_rel)?;
        if !dir::writable(base.as_fd(), "cgroup.procs") || !dir::writable(base.as_fd(), ".") {
            return Err(format!(
                "{} is not writable by uid {} (neither root nor a delegated subtree)",
                base_path.display(),
                nix::unistd::geteuid()
            ));
        }
        let at = |what: &str, e: std::io::Error| format!("{what}: {e}");
        let path = base_path.join(name);
        let (domain, _) =
            dir::make_dir(base.as_fd(), name).map_err(|e| at(&path.to_string_lossy(), e))?;
        let leaf_path = path.join(SUPERVISOR);
        let (leaf, _) = dir::make_dir(domain.as_fd(), SUPERVISOR)
            .map_err(|e| at(&leaf_path.to_string_lossy(), e))?;
        if !inside {
            dir::write(leaf.as_fd(), "cgroup.procs", "0")
                .map_err(|e| format!("cannot move the daemon into {}: {e}", leaf_path.display()))?;
        }
        // The host's root cgroup has no cgroup.events.
        let host_root = !dir::exists(base.as_fd(), "cgroup.events");
        let enabled_at_base = if may_enable_at_base(host_root, std::process::id() == 1) {
            enable(&base, controllers)
        } else {
            Vec::new()
        };
        enable(&domain, controllers);
        let controllers = Cgroups::read_controllers(&domain);
        Ok(Cgroups {
            base,
            domain: Arc::new(domain),
            path,
            proc_path: proc_path(&found.cgroup, found.rel.len() - base_rel.len(), name),
            name: name.to_string(),
            controllers,
            enabled_at_base,
        })
    }
}

/// Opens the mount point (checking it is that cgroup2 mount), then walks
/// down to the base one component at a time with `O_NOFOLLOW`.
fn open_base(found: &Located, rel: &[String]) -> Result<(OwnedFd, PathBuf), String> {
    let point = &found.mount_point;
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = nix::fcntl::open(point, flags, Mode::empty())
        .map_err(|e| format!("{}: {e}", point.display()))?;
    let is_cgroup2 = nix::sys::statfs::fstatfs(&fd)
        .is_ok_and(|s| s.filesystem_type() == nix::sys::statfs::CGROUP2_SUPER_MAGIC);
    let dev = nix::sys::stat::fstat(&fd).map(|s| s.st_dev).unwrap_or(0);
    let (major, minor) = found.dev;
    if !is_cgroup2 || dev != libc::makedev(major, minor) {
        return Err(format!("{} is not the cgroup2 mount", point.display()));
    }
    let mut cur = fd;
    let mut path = point.clone();
    for comp in rel {
        path.push(comp);
        cur = dir::open_dir(cur.as_fd(), comp).map_err(|e| format!("{}: {e}", path.display()))?;
    }
    Ok((cur, path))
}

/// Enables each wanted controller the group is offered and has not yet
/// enabled for its children, one write each; returns those it enabled.
fn enable(group: &OwnedFd, wanted: &[&str]) -> Vec<String> {
    let list = |file: &str| {
        dir::read(group.as_fd(), file)
            .map(|b| files::controllers(&b))
            .unwrap_or_default()
    };
    let offered = list("cgroup.controllers");
    let already = list("cgroup.subtree_control");
    let mut done = Vec::new();
    for c in wanted {
        if offered.iter().any(|o| o == c) && !already.iter().any(|a| a == c) {
            let ok = dir::write(group.as_fd(), "cgroup.subtree_control", &format!("+{c}"));
            if ok.is_ok() {
                done.push((*c).to_string());
            }
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(parts: &[&str]) -> Vec<String> {
        parts.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_re_execd_daemon_finds_its_base_above_its_leaf() {
        let own = v(&["system.slice", "gsup.service", "gsup-1", "supervisor"]);
        let (base, inside) = split_own(&own, "gsup-1");
        assert_eq!(base, &own[..2]);
        assert!(inside);
        let (base, inside) = split_own(&own, "gsup-2");
        assert_eq!(base, &own[..]);
        assert!(!inside);
        let own = v(&["gsup-1", "supervisor"]);
        assert_eq!(split_own(&own, "gsup-1"), (&own[..0], true));
        assert_eq!(split_own(&[], "gsup-1"), (&[][..], false));
    }

    #[test]
    fn the_domain_is_named_as_proc_names_cgroups() {
        // Started in a service's group: the domain beside it.
        assert_eq!(
            proc_path("/system.slice/gsup.service", 0, "gsup-1"),
            "/system.slice/gsup.service/gsup-1"
        );
        // Re-executed from its own leaf: the same domain.
        assert_eq!(
            proc_path("/system.slice/gsup.service/gsup-1/supervisor", 2, "gsup-1"),
            "/system.slice/gsup.service/gsup-1"
        );
        // The root of the cgroup namespace (a container, a test).
        assert_eq!(proc_path("/", 0, "gsup-1"), "/gsup-1");
        assert_eq!(proc_path("/gsup-1/supervisor", 2, "gsup-1"), "/gsup-1");
    }

    #[test]
    fn the_host_root_is_changed_only_by_pid_1() {
        assert!(!may_enable_at_base(true, false));
        assert!(may_enable_at_base(true, true));
        assert!(may_enable_at_base(false, false));
    }
}
