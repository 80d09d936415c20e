//! The watchdog's /proc reader for every cycle: keeps `/proc/PID/stat` and
//! `/proc/PID/task/PID/children` open between cycles and re-reads them with `pread`, so
//! a cycle costs one read per file instead of open+read+close (see docs/watchdog.md for
//! the figures). Reads watched trees only; never signals; never holds more descriptors
//! than its budget (half the soft `RLIMIT_NOFILE` by default).

use super::measure::{MAX_TREE, ProcReader, boot_time, parse_stat};
use super::sample::{MeasureError, ProcStat, Sampler, TreeSample};
use std::collections::{HashMap, HashSet};
use std::fs::File;
use std::os::unix::fs::FileExt;

/// Descriptors kept open for one process. A descriptor names the process it was opened
/// on: once that process is gone, reads fail (ESRCH) even when the pid is reused.
#[derive(Debug)]
struct Entry {
    stat: File,
    children: Option<File>,
}

/// A `Sampler` that keeps descriptors open across cycles (see the module doc).
#[derive(Debug)]
pub struct CachedReader {
    reader: ProcReader,
    entries: HashMap<i32, Entry>,
    /// The pids of each root's last sample, to close what left the tree.
    trees: HashMap<i32, Vec<i32>>,
    open_fds: usize,
    budget: usize,
    buf: Vec<u8>,
}

impl Default for CachedReader {
    fn default() -> Self {
        CachedReader::new()
    }
}

/// Half of the soft `RLIMIT_NOFILE` (the daemon needs the rest for its own work).
fn default_budget() -> usize {
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit fills the struct we own.
    let rc = unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    if rc != 0 {
        return 256;
    }
    usize::try_from(lim.rlim_cur / 2)
        .unwrap_or(256)
        .min(1 << 20)
}

/// Reads all of `f` from offset 0 into `buf` (a fresh generation of a /proc file) and
/// returns its length: the text is `buf[..n]`. A short read is the end: asking again at
/// an offset would make the kernel generate the file a second time just to say so,
/// doubling the cost of a cycle. `buf` only grows (zeroed once), so a cycle's reads
/// neither clear nor copy memory.
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

fn parse_pids(bytes: &[u8]) -> Vec<i32> {
    std::str::from_utf8(bytes)
        .unwrap_or("")
        .split_ascii_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

impl CachedReader {
    /// A reader whose descriptor budget is half the soft `RLIMIT_NOFILE`.
    pub fn new() -> CachedReader {
        CachedReader::with_budget(default_budget())
    }

    /// A reader that keeps at most `budget` descriptors open (0: none, like `ProcReader`).
    pub fn with_budget(budget: usize) -> CachedReader {
        CachedReader {
            reader: ProcReader::new(),
            entries: HashMap::new(),
            trees: HashMap::new(),
            open_fds: 0,
            budget,
            buf: Vec::with_capacity(4096),
        }
    }

    /// How many descriptors are open now.
    pub fn open_fds(&self) -> usize {
        self.open_fds
    }

    fn drop_entry(&mut self, pid: i32) {
        if let Some(e) = self.entries.remove(&pid) {
            self.open_fds -= 1 + usize::from(e.children.is_some());
        }
    }

    fn stat(&mut self, pid: i32) -> Option<ProcStat> {
        if let Some(e) = self.entries.get(&pid) {
            let n = read_all_at(&e.stat, &mut self.buf).unwrap_or(0);
            let parsed = parse_stat(&self.buf[..n], self.reader.page_size());
            if parsed.is_some() {
                return parsed;
            }
            // That process is gone; the pid may now name another one: open afresh.
            self.drop_entry(pid);
        }
        let f = File::open(format!("/proc/{pid}/stat")).ok()?;
        let n = read_all_at(&f, &mut self.buf).ok()?;
        let st = parse_stat(&self.buf[..n], self.reader.page_size())?;
        if self.open_fds < self.budget {
            self.entries.insert(
                pid,
                Entry {
                    stat: f,
                    children: None,
                },
            );
            self.open_fds += 1;
        }
        Some(st)
    }

    fn children(&mut self, pid: i32, threads: u64) -> Vec<i32> {
        if threads > 1 {
            let mut s = String::new();
            return self.reader.direct_children(pid, threads, &mut s);
        }
        if self.entries.get(&pid).is_some_and(|e| e.children.is_none())
            && self.open_fds < self.budget
            && let Ok(f) = File::open(format!("/proc/{pid}/task/{pid}/children"))
            && let Some(e) = self.entries.get_mut(&pid)
        {
            e.children = Some(f);
            self.open_fds += 1;
        }
        if let Some(f) = self.entries.get(&pid).and_then(|e| e.children.as_ref()) {
            return match read_all_at(f, &mut self.buf) {
                Ok(n) => parse_pids(&self.buf[..n]),
                Err(_) => Vec::new(),
            };
        }
        let mut s = String::new();
        self.reader.direct_children(pid, threads, &mut s)
    }

    /// Measures `main_pid` and its descendants (the same walk as
    /// `ProcReader::sample_tree`), then closes the descriptors of processes that left
    /// this tree since its last sample.
    pub fn sample_tree(&mut self, main_pid: i32) -> Result<TreeSample, MeasureError> {
        let Some(root) = self.stat(main_pid) else {
            self.forget_tree(main_pid);
            return Err(MeasureError {
                pid: main_pid,
                message: "no such process".into(),
            });
        };
        let mut procs = vec![root];
        // Small trees (the usual case) are searched linearly; a set only for big ones.
        let mut seen: Option<HashSet<i32>> = None;
        let mut i = 0;
        while i < procs.len() && procs.len() < MAX_TREE {
            let (pid, threads) = (procs[i].pid, procs[i].threads);
            for child in self.children(pid, threads) {
                let known = match seen.as_mut() {
                    Some(set) => !set.insert(child),
                    None => procs.iter().any(|p| p.pid == child),
                };
                if known {
                    continue;
                }
                if let Some(st) = self.stat(child).filter(|s| s.ppid == pid) {
                    procs.push(st);
                }
                if seen.is_none() && procs.len() > 16 {
                    seen = Some(procs.iter().map(|p| p.pid).collect());
                }
            }
            i += 1;
        }
        // Close the descriptors of processes that left this tree; keep the list's buffer.
        let mut list = self.trees.remove(&main_pid).unwrap_or_default();
        let same = list.len() == procs.len() && list.iter().zip(&procs).all(|(a, p)| *a == p.pid);
        if !same {
            let now: HashSet<i32> = procs.iter().map(|p| p.pid).collect();
            for &pid in list.iter().filter(|pid| !now.contains(pid)) {
                self.drop_entry(pid);
            }
            list.clear();
            list.extend(procs.iter().map(|p| p.pid));
        }
        self.trees.insert(main_pid, list);
        Ok(TreeSample::new(
            main_pid,
            procs,
            boot_time(),
            self.reader.hz(),
        ))
    }

    /// Closes every descriptor of the tree last sampled from `root`.
    pub fn forget_tree(&mut self, root: i32) {
        for pid in self.trees.remove(&root).unwrap_or_default() {
            self.drop_entry(pid);
        }
        self.drop_entry(root);
    }
}

impl Sampler for CachedReader {
    fn sample(&mut self, main_pid: i32) -> Result<TreeSample, MeasureError> {
        self.sample_tree(main_pid)
    }

    fn forget(&mut self, main_pid: i32) {
        self.forget_tree(main_pid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_process_through_kept_descriptors() {
        let me = i32::try_from(std::process::id()).expect("pid");
        let mut r = CachedReader::with_budget(8);
        let a = r.sample_tree(me).expect("first");
        // The test harness is multi-threaded: its children are read per thread, uncached.
        assert_eq!(r.open_fds(), 1, "stat kept open");
        // Burn some CPU so the re-read must show new ticks.
        let t = std::time::Instant::now();
        let mut x = 0u64;
        while t.elapsed() < std::time::Duration::from_millis(50) {
            x = x.wrapping_add(std::hint::black_box(1));
        }
        let b = r.sample_tree(me).expect("second");
        assert!(x > 0);
        assert!(
            b.procs[0].cpu_ticks > a.procs[0].cpu_ticks,
            "pread re-generates"
        );
        assert_eq!(b.procs[0].start_ticks, a.procs[0].start_ticks);
        r.forget_tree(me);
        assert_eq!(r.open_fds(), 0);
        // A single-threaded child of this test: stat and children stay open until it
        // is gone, then the failed read releases them.
        let mut sleeper = std::process::Command::new("sleep")
            .arg("60")
            .spawn()
            .expect("sleep");
        let pid = i32::try_from(sleeper.id()).expect("pid");
        let mut watched = CachedReader::with_budget(8);
        let wait_single = std::time::Instant::now();
        // Right after spawn the child may still be the (multi-threaded) harness's fork.
        while watched.sample_tree(pid).expect("sleep").procs[0].threads != 1 {
            assert!(wait_single.elapsed() < std::time::Duration::from_secs(5));
        }
        watched.sample_tree(pid).expect("sleep");
        assert_eq!(watched.open_fds(), 2, "stat and children kept open");
        sleeper.kill().expect("kill our own sleep");
        sleeper.wait().expect("reap our own sleep");
        assert!(watched.sample_tree(pid).is_err());
        assert_eq!(watched.open_fds(), 0);
        let mut none = CachedReader::with_budget(0);
        assert!(none.sample_tree(me).is_ok());
        assert_eq!(none.open_fds(), 0);
        assert!(none.sample_tree(-5).is_err());
    }
}
