//! The one inotify descriptor of the daemon: the directories of every job's
//! pidfile and the config dir's folders, turned into "K may have changed". It reads no file.

use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use std::ffi::OsString;
use std::io;
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::path::Path;

/// What happened to a watched name (for a watched folder: to anything in it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// Written and closed, created, or renamed into place.
    Written,
    /// Deleted or renamed away (Unicorn's `.oldbin`).
    Removed,
    /// The directory's watch is gone (directory removed) or events were lost
    /// (queue overflow): read the file again; call `watch` again to rewatch.
    Lost,
}

/// The events of interest on a watched directory.
fn dir_mask() -> AddWatchFlags {
    AddWatchFlags::IN_CLOSE_WRITE
        | AddWatchFlags::IN_MOVED_TO
        | AddWatchFlags::IN_CREATE
        | AddWatchFlags::IN_DELETE
        | AddWatchFlags::IN_MOVED_FROM
        | AddWatchFlags::IN_MODIFY
        | AddWatchFlags::IN_DELETE_SELF
        | AddWatchFlags::IN_MOVE_SELF
}

/// The inotify fd as a plain `AsRawFd`, for `tokio::io::unix::AsyncFd`.
struct Fd(Inotify);

impl AsRawFd for Fd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// One watched name in one directory (or, `None`, the whole directory).
struct Entry<K> {
    wd: WatchDescriptor,
    name: Option<OsString>,
    key: K,
}

/// Watches files by their directories (programs replace pidfiles by
/// rename, so the file's own inode is useless to watch) and whole
/// directories. One inotify fd for everything; no thread: the fd is
/// registered in the runtime with `AsyncFd`.
pub struct Watcher<K> {
    fd: tokio::io::unix::AsyncFd<Fd>,
    entries: Vec<Entry<K>>,
}

impl<K: Clone + PartialEq> Watcher<K> {
    /// A watcher with no watches. Must be called inside a tokio runtime.
    pub fn new() -> io::Result<Self> {
        let ino = Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC)
            .map_err(io::Error::from)?;
        // SAFETY: `Fd` owns the inotify descriptor for as long as the
        // `AsyncFd` lives and always returns that same descriptor.
        let fd = unsafe {
            tokio::io::unix::AsyncFd::register_with_interest(Fd(ino), tokio::io::Interest::READABLE)
        }?;
        Ok(Watcher {
            fd,
            entries: Vec::new(),
        })
    }

    /// Watches the file `path` for `key` (replacing any earlier watch of
    /// that key). The directory must exist; the file need not.
    pub fn watch(&mut self, path: &Path, key: K) -> io::Result<()> {
        self.unwatch(&key);
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?
            .to_owned();
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        self.add(dir, Some(name), key)
    }

    /// Watches everything in the directory `dir` for `key`, beside any
    /// other directory watched for it (a config dir and its folders).
    pub fn watch_dir(&mut self, dir: &Path, key: K) -> io::Result<()> {
        self.add(dir, None, key)
    }

    fn add(&mut self, dir: &Path, name: Option<OsString>, key: K) -> io::Result<()> {
        // Same directory, same inode: inotify returns the same descriptor.
        let wd = self
            .fd
            .get_ref()
            .0
            .add_watch(dir, dir_mask())
            .map_err(io::Error::from)?;
        self.entries.push(Entry { wd, name, key });
        Ok(())
    }

    /// Stops every watch for `key`; a directory's watch goes when no key needs it.
    pub fn unwatch(&mut self, key: &K) {
        let mut gone = Vec::new();
        self.entries.retain(|e| {
            let keep = &e.key != key;
            if !keep {
                gone.push(e.wd);
            }
            keep
        });
        for wd in gone {
            if !self.entries.iter().any(|e| e.wd == wd) {
                // The watch may be gone already (directory removed): ignore.
                let _ = self.fd.get_ref().0.rm_watch(wd);
            }
        }
    }

    /// Reads everything pending without waiting: each key at most once, with
    /// its last change. Returns an empty list when nothing is pending.
    pub fn read_pending(&self) -> io::Result<Vec<(K, Change)>> {
        let mut out = Vec::new();
        while let Some(batch) = self.read_once()? {
            for (key, change) in batch {
                merge(&mut out, &key, change);
            }
        }
        Ok(out)
    }

    /// One `read(2)` of the inotify fd; `None` when nothing was pending.
    fn read_once(&self) -> io::Result<Option<Vec<(K, Change)>>> {
        let events = match self.fd.get_ref().0.read_events() {
            Ok(ev) => ev,
            Err(nix::errno::Errno::EAGAIN) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let mut out: Vec<(K, Change)> = Vec::new();
        for ev in events {
            let m = ev.mask;
            if m.contains(AddWatchFlags::IN_Q_OVERFLOW) {
                for e in &self.entries {
                    merge(&mut out, &e.key, Change::Lost);
                }
                continue;
            }
            let lost = m.intersects(
                AddWatchFlags::IN_IGNORED
                    | AddWatchFlags::IN_DELETE_SELF
                    | AddWatchFlags::IN_MOVE_SELF,
            );
            let removed = m.intersects(AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVED_FROM);
            for e in self.entries.iter().filter(|e| e.wd == ev.wd) {
                if lost {
                    merge(&mut out, &e.key, Change::Lost);
                } else if e.name.is_none() || ev.name.as_deref() == e.name.as_deref() {
                    let change = if removed {
                        Change::Removed
                    } else {
                        Change::Written
                    };
                    merge(&mut out, &e.key, change);
                }
            }
        }
        Ok(Some(out))
    }

    /// Waits until some watched pidfile may have changed; for the
    /// supervisor's `select!`. Never returns an empty list.
    pub async fn next(&mut self) -> io::Result<Vec<(K, Change)>> {
        loop {
            let mut guard = self.fd.readable().await?;
            loop {
                match self.read_once()? {
                    None => {
                        guard.clear_ready();
                        break;
                    }
                    Some(batch) if batch.is_empty() => continue,
                    Some(batch) => return Ok(batch),
                }
            }
        }
    }
}

/// Records `change` for `key`, keeping one entry per key (the last change).
fn merge<K: Clone + PartialEq>(out: &mut Vec<(K, Change)>, key: &K, change: Change) {
    if let Some(slot) = out.iter_mut().find(|(k, _)| k == key) {
        slot.1 = change;
    } else {
        out.push((key.clone(), change));
    }
}
