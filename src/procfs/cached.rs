//! `/proc` for the watchdog's cycles: keeps `/proc/PID/stat` and
//! `/proc/PID/task/PID/children` open between cycles and re-reads them with
//! `pread`, so a cycle costs one read per file instead of open+read+close (see
//! docs/watchdog.md). Never holds more descriptors than its budget (half the
//! soft `RLIMIT_NOFILE` by default); reads only, never signals.

use super::{Proc, ProcSource, RealProc, parse_pids, parse_stat};
use std::cell::RefCell;
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::FileExt;

/// Descriptors kept open for one process. A descriptor names the process it
/// was opened on: once that process is gone, reads fail (ESRCH) even when
/// the pid is reused.
#[derive(Debug)]
struct Entry {
    stat: File,
    children: Option<File>,
}

#[derive(Debug)]
struct Inner {
    entries: HashMap<i32, Entry>,
    /// The pids of each root's last tree, to close what left it.
    trees: HashMap<i32, Vec<i32>>,
    open_fds: usize,
    budget: usize,
    buf: Vec<u8>,
}

/// A `ProcSource` that keeps descriptors open across cycles (see the module doc).
#[derive(Debug)]
pub struct CachedProc {
    real: RealProc,
    inner: RefCell<Inner>,
}

impl Default for CachedProc {
    fn default() -> Self {
        CachedProc::new()
    }
}

/// Half of the soft `RLIMIT_NOFILE` (the daemon needs the rest for its own work).
fn default_budget() -> usize {
    match nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE) {
        Ok((soft, _)) => usize::try_from(soft / 2).unwrap_or(256).min(1 << 20),
        Err(_) => 256,
    }
}

/// Reads all of `f` from offset 0 into `buf` (a fresh generation of a /proc
/// file) and returns its length. A short read is the end: asking again at an
/// offset would make the kernel generate the file a second time just to say
/// so. `buf` only grows (zeroed once), so reads neither clear nor copy memory.
fn read_all_at(f: &File, buf: &mut Vec<u8>) -> std::io::Result<usize> {
    const CHUNK: usize = 4096;
    let mut len = 0;
    loop {
        if buf.len() < len + CHUNK {
            buf.resize(len + CHUNK, 0);
        }
        let n = f.read_at(&mut buf[len..len + CHUNK], len as u64)?;
        len += n;
        if n < CHUNK {
            return Ok(len);
        }
    }
}

impl Inner {
    fn drop_entry(&mut self, pid: i32) {
        if let Some(e) = self.entries.remove(&pid) {
            self.open_fds -= 1 + usize::from(e.children.is_some());
        }
    }
}

impl CachedProc {
    /// A reader whose descriptor budget is half the soft `RLIMIT_NOFILE`.
    pub fn new() -> CachedProc {
        CachedProc::with_budget(default_budget())
    }

    /// A reader that keeps at most `budget` descriptors open (0: none).
    pub fn with_budget(budget: usize) -> CachedProc {
        CachedProc {
            real: RealProc::default(),
            inner: RefCell::new(Inner {
                entries: HashMap::new(),
                trees: HashMap::new(),
                open_fds: 0,
                budget,
                buf: Vec::with_capacity(4096),
            }),
        }
    }

    /// How many descriptors are open now.
    pub fn open_fds(&self) -> usize {
        self.inner.borrow().open_fds
    }

    /// The tree read from `root` is now `pids`: the descriptors of processes
    /// that left it since its last read are closed.
    pub fn keep_tree(&self, root: i32, pids: &[i32]) {
        let mut inner = self.inner.borrow_mut();
        let mut list = inner.trees.remove(&root).unwrap_or_default();
        if list.as_slice() != pids {
            let now: HashSet<i32> = pids.iter().copied().collect();
            for &pid in list.iter().filter(|pid| !now.contains(pid)) {
                inner.drop_entry(pid);
            }
            list.clear();
            list.extend_from_slice(pids);
        }
        inner.trees.insert(root, list);
    }

    /// Closes every descriptor of the trees whose root `keep` refuses.
    pub fn retain_trees(&self, keep: impl Fn(i32) -> bool) {
        let gone: Vec<i32> = self
            .inner
            .borrow()
            .trees
            .keys()
            .copied()
            .filter(|&root| !keep(root))
            .collect();
        for root in gone {
            self.forget_tree(root);
        }
    }

    /// Closes every descriptor of the tree last read from `root`.
    pub fn forget_tree(&self, root: i32) {
        let mut inner = self.inner.borrow_mut();
        for pid in inner.trees.remove(&root).unwrap_or_default() {
            inner.drop_entry(pid);
        }
        inner.drop_entry(root);
    }
}

impl ProcSource for CachedProc {
    fn stat(&self, pid: i32) -> Option<Proc> {
        if pid <= 0 {
            return None;
        }
        let mut inner = self.inner.borrow_mut();
        let inner = &mut *inner;
        if let Some(e) = inner.entries.get(&pid) {
            let n = read_all_at(&e.stat, &mut inner.buf).unwrap_or(0);
            if let Some(p) = parse_stat(&inner.buf[..n]) {
                return Some(p);
            }
            // That process is gone; the pid may now name another: open afresh.
            inner.drop_entry(pid);
        }
        let f = File::open(format!("/proc/{pid}/stat")).ok()?;
        let n = read_all_at(&f, &mut inner.buf).ok()?;
        let p = parse_stat(&inner.buf[..n])?;
        if inner.open_fds < inner.budget {
            inner.entries.insert(
                pid,
                Entry {
                    stat: f,
                    children: None,
                },
            );
            inner.open_fds += 1;
        }
        Some(p)
    }

    fn children(&self, pid: i32, threads: u64) -> Vec<i32> {
        if threads > 1 {
            return self.real.children(pid, threads);
        }
        let mut inner = self.inner.borrow_mut();
        let inner = &mut *inner;
        if inner
            .entries
            .get(&pid)
            .is_some_and(|e| e.children.is_none())
            && inner.open_fds < inner.budget
            && let Ok(f) = File::open(format!("/proc/{pid}/task/{pid}/children"))
            && let Some(e) = inner.entries.get_mut(&pid)
        {
            e.children = Some(f);
            inner.open_fds += 1;
        }
        if let Some(f) = inner.entries.get(&pid).and_then(|e| e.children.as_ref()) {
            return match read_all_at(f, &mut inner.buf) {
                Ok(n) => parse_pids(&inner.buf[..n]),
                Err(_) => Vec::new(),
            };
        }
        self.real.children(pid, threads)
    }

    fn uid(&self, pid: i32) -> Option<u32> {
        self.real.uid(pid)
    }

    fn cgroup(&self, pid: i32) -> Option<String> {
        self.real.cgroup(pid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::procfs::walk;

    fn pids(v: &[Proc]) -> Vec<i32> {
        v.iter().map(|p| p.pid).collect()
    }

    #[test]
    fn own_process_through_kept_descriptors() {
        let me = i32::try_from(std::process::id()).expect("pid");
        let r = CachedProc::with_budget(8);
        let a = walk(&r, me);
        r.keep_tree(me, &pids(&a));
        // The test harness is multi-threaded: its children are read per thread, uncached.
        assert_eq!(r.open_fds(), 1, "stat kept open");
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        let b = walk(&r, me);
        assert!(x > 0);
        assert!(b[0].cpu_ticks > a[0].cpu_ticks, "pread re-generates");
        assert_eq!(b[0].start_ticks, a[0].start_ticks);
        r.forget_tree(me);
        assert_eq!(r.open_fds(), 0);
        // A single-threaded child: stat and children stay open until it is
        // gone, then the failed read releases them.
        let mut sleeper = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("sleep");
        let pid = i32::try_from(sleeper.id()).expect("pid");
        let watched = CachedProc::with_budget(8);
        let wait_single = std::time::Instant::now();
        // Right after spawn the child may still be the (multi-threaded) harness's fork.
        while walk(&watched, pid)[0].threads != 1 {
            assert!(wait_single.elapsed() < std::time::Duration::from_secs(5));
        }
        let tree = walk(&watched, pid);
        watched.keep_tree(pid, &pids(&tree));
        assert_eq!(watched.open_fds(), 2, "stat and children kept open");
        sleeper.kill().expect("kill our own sleep");
        sleeper.wait().expect("reap our own sleep");
        assert!(walk(&watched, pid).is_empty());
        watched.forget_tree(pid);
        assert_eq!(watched.open_fds(), 0);
        let none = CachedProc::with_budget(0);
        assert!(!walk(&none, me).is_empty());
        assert_eq!(none.open_fds(), 0);
        assert!(walk(&none, -5).is_empty());
    }
}
