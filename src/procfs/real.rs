//! `/proc` read afresh on every call (or a `/proc` mounted elsewhere), and the
//! machine constants `/proc` figures are in. Reads only; never signals or waits.

use super::{Proc, ProcSource, parse_cgroup_v2, parse_pids, parse_stat, parse_status_uid};
use std::path::{Path, PathBuf};
use std::time::Duration;

/// The real `/proc`: one small read per question.
#[derive(Debug, Clone)]
pub struct RealProc {
    root: PathBuf,
}

impl Default for RealProc {
    fn default() -> Self {
        RealProc::at(Path::new("/proc"))
    }
}

impl RealProc {
    /// `/proc` at `root`.
    pub fn at(root: &Path) -> Self {
        RealProc {
            root: root.to_path_buf(),
        }
    }

    fn file(&self, pid: i32, name: &str) -> PathBuf {
        self.root.join(pid.to_string()).join(name)
    }

    /// Every pid under the root (a scan of the whole host: only where a
    /// kernel has no `children` files).
    pub fn all_pids(&self) -> Vec<i32> {
        let Ok(rd) = std::fs::read_dir(&self.root) else {
            return Vec::new();
        };
        rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
            .collect()
    }
}

impl ProcSource for RealProc {
    fn stat(&self, pid: i32) -> Option<Proc> {
        if pid <= 0 {
            return None;
        }
        parse_stat(&std::fs::read(self.file(pid, "stat")).ok()?)
    }

    /// The union of `/proc/PID/task/TID/children` over its threads (a child
    /// belongs to the thread that forked it; one thread: one read). Without
    /// `CONFIG_PROC_CHILDREN`, a scan of every process for its parent. The
    /// kernel documents the list as exact only for a stopped tree: a child
    /// forked or re-parented during the read may be missed.
    fn children(&self, pid: i32, threads: u64) -> Vec<i32> {
        if pid <= 0 {
            return Vec::new();
        }
        if threads <= 1
            && let Ok(bytes) = std::fs::read(self.file(pid, &format!("task/{pid}/children")))
        {
            return parse_pids(&bytes);
        }
        let mut out = Vec::new();
        let mut have_file = false;
        if let Ok(rd) = std::fs::read_dir(self.file(pid, "task")) {
            for t in rd.flatten() {
                if let Ok(bytes) = std::fs::read(t.path().join("children")) {
                    have_file = true;
                    out.extend(parse_pids(&bytes));
                }
            }
        }
        if !have_file {
            out = self
                .all_pids()
                .into_iter()
                .filter(|&p| p != pid && self.stat(p).is_some_and(|s| s.ppid == pid))
                .collect();
        }
        out.sort_unstable();
        out.dedup();
        out
    }

    fn uid(&self, pid: i32) -> Option<u32> {
        if pid <= 0 {
            return None;
        }
        parse_status_uid(&std::fs::read_to_string(self.file(pid, "status")).ok()?)
    }

    fn cgroup(&self, pid: i32) -> Option<String> {
        if pid <= 0 {
            return None;
        }
        parse_cgroup_v2(&std::fs::read_to_string(self.file(pid, "cgroup")).ok()?)
    }

    fn resident_pages(&self, pid: i32) -> Option<u64> {
        if pid <= 0 {
            return None;
        }
        super::parse_statm_resident(&std::fs::read(self.file(pid, "statm")).ok()?)
    }
}

fn sysconf(name: libc::c_int, fallback: u64) -> u64 {
    // SAFETY: sysconf has no memory-safety preconditions.
    let v = unsafe { libc::sysconf(name) };
    u64::try_from(v).ok().filter(|&v| v > 0).unwrap_or(fallback)
}

/// Bytes per memory page, the unit of `Proc::rss_pages` (4096 if the kernel will not say).
pub fn page_bytes() -> u64 {
    sysconf(libc::_SC_PAGESIZE, 4096)
}

/// Clock ticks per second, the unit of `cpu_ticks` and `start_ticks` (100 if unknown).
pub fn clock_ticks() -> u64 {
    sysconf(libc::_SC_CLK_TCK, 100)
}

/// `CLOCK_BOOTTIME`, the clock `start_ticks` counts on.
pub fn boot_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: ts is a valid, writable timespec.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_BOOTTIME, &mut ts) };
    if rc != 0 {
        return Duration::ZERO;
    }
    let secs = u64::try_from(ts.tv_sec).unwrap_or(0);
    let nanos = u32::try_from(ts.tv_nsec).unwrap_or(0);
    Duration::new(secs, nanos)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process() {
        let me = std::process::id() as i32;
        let r = RealProc::default();
        let s = r.stat(me).expect("own stat");
        assert_eq!(s.pid, me);
        assert!(s.threads >= 1 && s.rss_pages > 0);
        // SAFETY: getuid cannot fail.
        assert_eq!(r.uid(me), Some(unsafe { libc::getuid() }));
        assert!(r.cgroup(me).is_some());
        assert_eq!(r.stat(-3), None);
        assert!(page_bytes() >= 4096 && clock_ticks() > 0);
        assert!(boot_time() > Duration::ZERO);
    }
}
