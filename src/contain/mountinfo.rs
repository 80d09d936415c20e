//! Finding the daemon's own cgroup v2 directory: the cgroup2 mount in
//! `/proc/self/mountinfo` and the `0::PATH` line of `/proc/self/cgroup`. Pure: it parses text it is given and reads nothing.

use std::path::PathBuf;

/// Where the daemon's cgroup v2 directory is: the cgroup2 mount and the
/// components of the daemon's cgroup below that mount's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Located {
    /// The mount point (`/sys/fs/cgroup`, or `/sys/fs/cgroup/unified` on a
    /// hybrid host), unescaped.
    pub mount_point: PathBuf,
    /// `major:minor` of the mount, to check the directory opened is that file system.
    pub dev: (u32, u32),
    /// The daemon's cgroup as `/proc/self/cgroup` names it (`/` for the root
    /// of the reader's cgroup namespace).
    pub cgroup: String,
    /// The components of that cgroup below the mount point.
    pub rel: Vec<String>,
}

/// One line of `/proc/self/mountinfo`, the fields detection needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mount {
    pub dev: (u32, u32),
    /// The path of the mounted file system's directory that is mounted here.
    pub root: String,
    pub mount_point: String,
    pub fstype: String,
    /// Mounted read-only (per-mount or super-block option `ro`).
    pub read_only: bool,
}

/// Parses one mountinfo line (`ID PARENT MAJ:MIN ROOT POINT OPTS [TAGS...] - TYPE SOURCE SUPEROPTS`);
/// `None` for a line that does not have that shape.
pub fn parse_mount(line: &str) -> Option<Mount> {
    let (left, right) = line.split_once(" - ")?;
    let mut l = left.split(' ');
    let _id = l.next()?;
    let _parent = l.next()?;
    let (major, minor) = l.next()?.split_once(':')?;
    let dev = (major.parse().ok()?, minor.parse().ok()?);
    let root = unescape(l.next()?)?;
    let mount_point = unescape(l.next()?)?;
    let mount_opts = l.next()?;
    let mut r = right.split(' ');
    let fstype = r.next()?.to_string();
    let _source = r.next()?;
    let super_opts = r.next().unwrap_or("");
    let ro = |opts: &str| opts.split(',').any(|o| o == "ro");
    Some(Mount {
        dev,
        root,
        mount_point,
        fstype,
        read_only: ro(mount_opts) || ro(super_opts),
    })
}

/// Undoes the kernel's octal escapes in mountinfo paths (`\040` space,
/// `\011` tab, `\012` newline, `\134` backslash). `None` on a malformed escape.
fn unescape(field: &str) -> Option<String> {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' {
            let digits = bytes.get(i + 1..i + 4)?;
            let mut value: u32 = 0;
            for &d in digits {
                if !(b'0'..=b'7').contains(&d) {
                    return None;
                }
                value = value * 8 + u32::from(d - b'0');
            }
            out.push(u8::try_from(value).ok()?);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// The cgroup v2 path in `/proc/self/cgroup` text (the `0::PATH` line).
/// `None` when there is none (cgroup v1 only) or the group was removed.
pub fn own_cgroup(proc_cgroup: &str) -> Option<String> {
    let path = proc_cgroup
        .lines()
        .find_map(|line| line.strip_prefix("0::"))?;
    if !path.starts_with('/') || path.ends_with(" (deleted)") {
        return None;
    }
    Some(path.to_string())
}

/// The components of `path` below `root` (both absolute cgroup paths);
/// `None` when `path` is not at or below `root`, or has an empty, `.` or `..` component.
fn below(root: &str, path: &str) -> Option<Vec<String>> {
    // `rest` is what follows `root`: empty, or "/a/b".
    let rest = if root == "/" {
        path
    } else {
        let rest = path.strip_prefix(root)?;
        if !rest.is_empty() && !rest.starts_with('/') {
            return None;
        }
        rest
    };
    let mut parts = Vec::new();
    if rest == "/" || rest.is_empty() {
        return Some(parts);
    }
    for comp in rest.split('/').skip(1) {
        if comp.is_empty() || comp == "." || comp == ".." {
            return None;
        }
        parts.push(comp.to_string());
    }
    Some(parts)
}

/// Finds the cgroup2 mount through which the daemon's own cgroup is
/// reachable. Among several, a read-write one is preferred, and a later
/// mount on the same mount point hides an earlier one. The error says why
/// there is none, in words for the daemon's log.
pub fn locate(mountinfo: &str, proc_cgroup: &str) -> Result<Located, String> {
    let Some(cgroup) = own_cgroup(proc_cgroup) else {
        return Err("no cgroup v2 membership in /proc/self/cgroup (cgroup v1 only?)".into());
    };
    let mounts: Vec<Mount> = mountinfo.lines().filter_map(parse_mount).collect();
    let visible = |i: usize, m: &Mount| {
        !mounts[i + 1..]
            .iter()
            .any(|n| n.mount_point == m.mount_point)
    };
    let mut saw_cgroup2 = false;
    let mut read_only = None;
    for (i, m) in mounts.iter().enumerate() {
        if m.fstype != "cgroup2" || !visible(i, m) {
            continue;
        }
        saw_cgroup2 = true;
        let Some(rel) = below(&m.root, &cgroup) else {
            continue;
        };
        let found = Located {
            mount_point: PathBuf::from(&m.mount_point),
            dev: m.dev,
            cgroup: cgroup.clone(),
            rel,
        };
        if !m.read_only {
            return Ok(found);
        }
        read_only.get_or_insert(found);
    }
    match (read_only, saw_cgroup2) {
        (Some(found), _) => Err(format!(
            "the cgroup2 file system at {} is mounted read-only",
            found.mount_point.display()
        )),
        (None, true) => Err(format!(
            "the daemon's cgroup {cgroup} is not reachable through any cgroup2 mount"
        )),
        (None, false) => Err("no cgroup2 file system is mounted".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PURE_V2: &str = "\
22 1 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw
26 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
";

    const HYBRID: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
";

    const V1_ONLY: &str = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
";

    #[test]
    fn pure_v2_at_sys_fs_cgroup() {
        let found = locate(PURE_V2, "0::/system.slice/gsup.service\n").expect("found");
        assert_eq!(found.mount_point, PathBuf::from("/sys/fs/cgroup"));
        assert_eq!(found.dev, (0, 23));
        assert_eq!(found.rel, vec!["system.slice", "gsup.service"]);
        assert_eq!(found.cgroup, "/system.slice/gsup.service");
    }

    #[test]
    fn hybrid_at_unified_picks_the_0_line() {
        let cg = "9:name=systemd:/user.slice\n4:memory:/x\n0::/\n";
        let found = locate(HYBRID, cg).expect("found");
        assert_eq!(found.mount_point, PathBuf::from("/sys/fs/cgroup/unified"));
        assert!(found.rel.is_empty());
    }

    #[test]
    fn none_and_v1_only_say_why() {
        let err = locate("", "0::/\n").expect_err("no mount");
        assert!(err.contains("no cgroup2"), "{err}");
        let err = locate(V1_ONLY, "0::/\n").expect_err("v1 only");
        assert!(err.contains("no cgroup2"), "{err}");
        let err = locate(V1_ONLY, "4:cpu:/\n").expect_err("no 0:: line");
        assert!(err.contains("cgroup v1 only"), "{err}");
    }

    #[test]
    fn octal_escapes_in_mount_points_are_undone() {
        let text = "50 1 0:40 / /mnt/my\\040cgroups\\134x rw - cgroup2 none rw\n";
        let found = locate(text, "0::/a b\n").expect("found");
        assert_eq!(found.mount_point, PathBuf::from("/mnt/my cgroups\\x"));
        assert_eq!(found.rel, vec!["a b"]);
        assert_eq!(parse_mount("1 1 0:1 / /bad\\09 rw - cgroup2 none rw"), None);
        assert_eq!(parse_mount("1 1 0:1 / /short\\04"), None);
    }

    #[test]
    fn read_only_mounts_are_refused_but_a_read_write_one_wins() {
        let ro = "26 22 0:23 / /sys/fs/cgroup ro,nosuid - cgroup2 cgroup2 rw\n";
        let err = locate(ro, "0::/\n").expect_err("ro");
        assert!(err.contains("read-only"), "{err}");
        let ro_super = "26 22 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 ro,nsdelegate\n";
        assert!(locate(ro_super, "0::/\n").is_err());
        let both = format!("{ro}27 22 0:23 / /mnt/cg rw - cgroup2 cgroup2 rw\n");
        let found = locate(&both, "0::/\n").expect("rw one");
        assert_eq!(found.mount_point, PathBuf::from("/mnt/cg"));
    }

    #[test]
    fn a_mount_of_a_subtree_maps_paths_below_its_root() {
        let text = "60 1 0:23 /kubepods/pod1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n";
        let found = locate(text, "0::/kubepods/pod1/ctr\n").expect("found");
        assert_eq!(found.rel, vec!["ctr"]);
        let at_root = locate(text, "0::/kubepods/pod1\n").expect("at root");
        assert!(at_root.rel.is_empty());
        let err = locate(text, "0::/kubepods/pod10\n").expect_err("a sibling, not below");
        assert!(err.contains("not reachable"), "{err}");
    }

    #[test]
    fn a_later_mount_on_the_same_point_hides_the_earlier() {
        let text = "\
26 22 0:23 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw
70 26 0:50 / /sys/fs/cgroup rw - tmpfs tmpfs rw
";
        let err = locate(text, "0::/\n").expect_err("hidden");
        assert!(err.contains("no cgroup2"), "{err}");
    }

    #[test]
    fn removed_or_odd_own_cgroups_are_refused() {
        assert_eq!(own_cgroup("0::/a (deleted)\n"), None);
        assert_eq!(own_cgroup("0::relative\n"), None);
        assert_eq!(own_cgroup("0::/a:b\n"), Some("/a:b".into()));
        assert!(locate(PURE_V2, "0::/a/../b\n").is_err());
        assert!(locate(PURE_V2, "0::/a//b\n").is_err());
    }
}
