//! Opening `LOG_DIR` and the folders and files below it (and, with the same
//! walk, the control socket's folder and the runtime dir), as root, never
//! through a path component another user could replace. Never chmods or chowns by path.
//!
//! `LOG_DIR` is opened once, walking its path from `/` one component at a
//! time with `openat(O_NOFOLLOW|O_DIRECTORY)`. An ancestor must be owned by
//! root or by the daemon's user and not writable by group or others unless
//! it has the sticky bit (`/tmp`); `LOG_DIR` and every folder below it must
//! not be writable by group or others at all. Missing folders are created
//! mode 0755. Below `LOG_DIR` every folder and file is opened relative to its
//! parent's descriptor, one component at a time, with `O_NOFOLLOW` (and
//! `openat2(RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH)` where the kernel has it);
//! a log file must be a regular file with one link, owned by root or the
//! daemon, and is set to mode 0640 through its descriptor.

use super::{LOG_DIR_MODE, LOG_FILE_MODE, LogId};
use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag};
use nix::sys::stat::{FileStat, Mode, SFlag};
use std::ffi::{CString, OsStr};
use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};
use std::sync::atomic::{AtomicU8, Ordering};

/// An open `LOG_DIR`: every log is opened below this descriptor, so a later
/// change to the path above it changes nothing.
#[derive(Debug)]
pub struct LogDir {
    fd: OwnedFd,
    path: PathBuf,
    euid: u32,
}

/// One job's log file, opened for appending, with the folder it lives in
/// (rotation renames inside that folder).
#[derive(Debug)]
pub struct OpenLog {
    pub folder: OwnedFd,
    /// The file's name inside `folder` (`unicorn.log`).
    pub name: String,
    pub file: File,
    /// Its size when opened.
    pub size: u64,
    /// The whole path, for messages and `gsup log`.
    pub path: PathBuf,
}

impl LogDir {
    /// Opens `path` (relative: to the current directory), creating its missing
    /// trailing folders; refuses a component that is a symlink, owned by
    /// another user, or writable by others (see the module doc).
    pub fn open(path: &Path) -> Result<LogDir, String> {
        let (fd, path) = open_dir_path(path, true)?;
        let euid = nix::unistd::geteuid().as_raw();
        Ok(LogDir { fd, path, euid })
    }

    /// The path `LOG_DIR` was opened by.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens (creating them) the folders `folders` below `LOG_DIR`.
    pub fn folder(&self, folders: &[String]) -> Result<OwnedFd, String> {
        let mut fd = dup(self.fd.as_fd(), &self.path)?;
        let mut shown = self.path.clone();
        for name in folders {
            shown.push(name);
            fd = step(fd.as_fd(), OsStr::new(name), &shown, self.euid, true)?;
        }
        Ok(fd)
    }

    /// Opens (creating it) the log file of `id`, and its folder.
    pub fn open_log(&self, id: &LogId) -> Result<OpenLog, String> {
        let (folders, name) = id.parts();
        let folder = self.folder(&folders)?;
        let path = id.path(&self.path);
        let (file, size) = open_file(folder.as_fd(), &name, &path, self.euid, true)?;
        Ok(OpenLog {
            folder,
            name,
            file,
            size,
            path,
        })
    }

    /// The daemon's effective uid, which with root may own what it opens.
    pub fn euid(&self) -> u32 {
        self.euid
    }
}

/// Opens the folder `path` (relative: to the current directory) by a walk
/// from `/`, creating its missing trailing folders (mode 0755), and returns
/// it with the absolute path. Every component must be a folder (never a
/// symlink) owned by root or the daemon's user; the ancestors may be
/// writable by group or others only with the sticky bit (`/tmp`), the folder
/// itself only when `strict` is false and it has the sticky bit too. The log
/// dir, the control socket's folder and the runtime dir are opened this way.
pub fn open_dir_path(path: &Path, strict: bool) -> Result<(OwnedFd, PathBuf), String> {
    let path = if path.is_absolute() {
        path.to_path_buf()
    } else {
        let cwd = std::env::current_dir().map_err(|e| format!("current dir: {e}"))?;
        cwd.join(path)
    };
    let euid = nix::unistd::geteuid().as_raw();
    let root = open_dir(None, OsStr::new("/"), Path::new("/"))?;
    check_dir(
        &root,
        Path::new("/"),
        euid,
        strict && path == Path::new("/"),
    )?;
    let mut fd = root;
    let mut shown = PathBuf::from("/");
    let names: Vec<&OsStr> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(Ok(n)),
            Component::ParentDir => Some(Err(())),
            _ => None,
        })
        .collect::<Result<_, _>>()
        .map_err(|()| format!("{}: '..' is not allowed here", path.display()))?;
    for (i, name) in names.iter().enumerate() {
        shown.push(name);
        let last = i + 1 == names.len();
        fd = step(fd.as_fd(), name, &shown, euid, strict && last)?;
    }
    Ok((fd, path))
}

/// Opens a log file by its whole path: its folder as a [`LogDir`] (walked
/// from `/`), then the file in it.
pub fn open_path(path: &Path) -> Result<File, String> {
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(format!("{}: not a file path", path.display()));
    };
    let dir = LogDir::open(parent)?;
    let name = name
        .to_str()
        .ok_or_else(|| format!("{}: the name is not UTF-8", path.display()))?;
    open_file(dir.fd.as_fd(), name, path, dir.euid, false).map(|(f, _)| f)
}

/// Opens a file for appending (and reading, with `read`: the log thread
/// moves a long line) in an open folder, creating it mode 0640, and returns
/// it with its size; refuses anything but a regular file with one link owned
/// by root or `euid`. `shown` names it in messages.
pub fn open_file(
    folder: BorrowedFd<'_>,
    name: &str,
    shown: &Path,
    euid: u32,
    read: bool,
) -> Result<(File, u64), String> {
    if let Some(st) = lstat_at(folder, OsStr::new(name), shown)? {
        check_kind(&st, shown, SFlag::S_IFREG)?;
    }
    let access = if read { OFlag::O_RDWR } else { OFlag::O_WRONLY };
    let flags = access
        | OFlag::O_APPEND
        | OFlag::O_CREAT
        | OFlag::O_NOFOLLOW
        | OFlag::O_CLOEXEC
        | OFlag::O_NOCTTY
        // A FIFO put in the way must not block the open.
        | OFlag::O_NONBLOCK;
    let fd = open_beneath(folder, OsStr::new(name), flags, LOG_FILE_MODE)
        .map_err(|e| refusal(shown, e))?;
    let st = nix::sys::stat::fstat(&fd).map_err(|e| format!("{}: {e}", shown.display()))?;
    check_kind(&st, shown, SFlag::S_IFREG)?;
    check_owner(&st, shown, euid)?;
    if st.st_nlink > 1 {
        return Err(format!(
            "{}: has {} hard links; refusing to write a file that is also elsewhere",
            shown.display(),
            st.st_nlink
        ));
    }
    if st.st_mode & 0o7777 != LOG_FILE_MODE {
        nix::sys::stat::fchmod(&fd, Mode::from_bits_truncate(LOG_FILE_MODE))
            .map_err(|e| format!("{}: fchmod: {e}", shown.display()))?;
    }
    let fl = OFlag::from_bits_truncate(
        nix::fcntl::fcntl(&fd, nix::fcntl::FcntlArg::F_GETFL)
            .map_err(|e| format!("{}: {e}", shown.display()))?,
    );
    nix::fcntl::fcntl(
        &fd,
        nix::fcntl::FcntlArg::F_SETFL(fl.difference(OFlag::O_NONBLOCK)),
    )
    .map_err(|e| format!("{}: {e}", shown.display()))?;
    Ok((File::from(fd), st.st_size as u64))
}

/// Opens (creating it) the folder `name` in `dir` and checks it.
fn step(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    shown: &Path,
    euid: u32,
    strict: bool,
) -> Result<OwnedFd, String> {
    let mut created = false;
    match lstat_at(dir, name, shown)? {
        Some(st) => check_kind(&st, shown, SFlag::S_IFDIR)?,
        None => {
            let cname = cstr(name, shown)?;
            match Errno::result(unsafe {
                // SAFETY: a valid descriptor and a NUL-terminated name.
                libc::mkdirat(dir.as_raw_fd(), cname.as_ptr(), LOG_DIR_MODE)
            }) {
                Ok(_) => created = true,
                Err(Errno::EEXIST) => {}
                Err(e) => return Err(format!("{}: cannot create: {e}", shown.display())),
            }
        }
    }
    let fd = open_dir(Some(dir), name, shown)?;
    if created {
        // The umask may have taken bits away; the mode is set on the descriptor.
        nix::sys::stat::fchmod(&fd, Mode::from_bits_truncate(LOG_DIR_MODE))
            .map_err(|e| format!("{}: fchmod: {e}", shown.display()))?;
    }
    check_dir(&fd, shown, euid, strict)?;
    Ok(fd)
}

/// Opens one folder component without following a symlink.
fn open_dir(dir: Option<BorrowedFd<'_>>, name: &OsStr, shown: &Path) -> Result<OwnedFd, String> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let res = match dir {
        Some(d) => open_beneath(d, name, flags, 0),
        None => nix::fcntl::open(name, flags, Mode::empty()),
    };
    match res {
        // A folder we may search but not list (0711): a path descriptor will do.
        Err(Errno::EACCES) => {
            let flags = (flags - OFlag::O_RDONLY) | OFlag::O_PATH;
            match dir {
                Some(d) => open_beneath(d, name, flags, 0),
                None => nix::fcntl::open(name, flags, Mode::empty()),
            }
        }
        other => other,
    }
    .map_err(|e| refusal(shown, e))
}

/// The check of a folder: owner, and who may write in it.
fn check_dir(fd: &OwnedFd, shown: &Path, euid: u32, strict: bool) -> Result<(), String> {
    let st = nix::sys::stat::fstat(fd).map_err(|e| format!("{}: {e}", shown.display()))?;
    check_kind(&st, shown, SFlag::S_IFDIR)?;
    check_owner(&st, shown, euid)?;
    let others_write = st.st_mode & 0o022 != 0;
    let sticky = st.st_mode & libc::S_ISVTX != 0;
    if others_write && (strict || !sticky) {
        return Err(format!(
            "{}: writable by group or others (mode {:04o}); another user could replace what is in it",
            shown.display(),
            st.st_mode & 0o7777
        ));
    }
    Ok(())
}

fn check_owner(st: &FileStat, shown: &Path, euid: u32) -> Result<(), String> {
    if st.st_uid != 0 && st.st_uid != euid {
        return Err(format!(
            "{}: owned by uid {}, not by root or gsup's uid {euid}",
            shown.display(),
            st.st_uid
        ));
    }
    Ok(())
}

/// Refuses anything but the file type `want`, naming what is in the way.
fn check_kind(st: &FileStat, shown: &Path, want: SFlag) -> Result<(), String> {
    let kind = SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT);
    if kind == want {
        return Ok(());
    }
    let what = match kind {
        SFlag::S_IFLNK => "a symbolic link",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFREG => "a regular file",
        _ => "of an unknown type",
    };
    let expected = if want == SFlag::S_IFDIR {
        "a directory"
    } else {
        "a regular file"
    };
    Err(format!(
        "{}: is {what}, not {expected}; refusing it",
        shown.display()
    ))
}

/// `fstatat(AT_SYMLINK_NOFOLLOW)`; `None` when nothing is there.
fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr, shown: &Path) -> Result<Option<FileStat>, String> {
    match nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(format!("{}: {e}", shown.display())),
    }
}

/// A one-line message for a failed open, naming a symlink as such.
fn refusal(shown: &Path, e: Errno) -> String {
    match e {
        Errno::ELOOP | Errno::EXDEV => format!(
            "{}: is a symbolic link; gsup never follows one where it creates files",
            shown.display()
        ),
        Errno::ENOTDIR => format!("{}: is not a directory", shown.display()),
        Errno::ENXIO => format!(
            "{}: is a FIFO, not a regular file; refusing it",
            shown.display()
        ),
        e => format!("{}: {e}", shown.display()),
    }
}

/// Whether `openat2` works here: 0 not tried, 1 yes, 2 no (old kernel or a
/// seccomp filter that refuses it).
static OPENAT2: AtomicU8 = AtomicU8::new(0);

/// Opens the single component `name` in `dir` without following a symlink:
/// `openat2(RESOLVE_NO_SYMLINKS|RESOLVE_BENEATH)` where the kernel has it,
/// else `openat(O_NOFOLLOW)` (the same for one component).
fn open_beneath(
    dir: BorrowedFd<'_>,
    name: &OsStr,
    flags: OFlag,
    mode: u32,
) -> Result<OwnedFd, Errno> {
    let cname = CString::new(name.as_bytes()).map_err(|_| Errno::EINVAL)?;
    let flags = flags | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    if OPENAT2.load(Ordering::Relaxed) != 2 {
        // SAFETY: open_how is plain data; zeroed then filled in.
        let mut how: libc::open_how = unsafe { std::mem::zeroed() };
        how.flags = flags.bits() as u64;
        how.mode = if flags.contains(OFlag::O_CREAT) {
            u64::from(mode)
        } else {
            0
        };
        how.resolve =
            libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_BENEATH | libc::RESOLVE_NO_MAGICLINKS;
        // SAFETY: valid descriptor, NUL-terminated path, a filled open_how and its size.
        let r = unsafe {
            libc::syscall(
                libc::SYS_openat2,
                dir.as_raw_fd(),
                cname.as_ptr(),
                &how as *const libc::open_how,
                std::mem::size_of::<libc::open_how>(),
            )
        };
        if r >= 0 {
            OPENAT2.store(1, Ordering::Relaxed);
            // SAFETY: the kernel just returned this new descriptor.
            return Ok(unsafe { OwnedFd::from_raw_fd(r as i32) });
        }
        match Errno::last() {
            Errno::ENOSYS | Errno::EPERM | Errno::E2BIG if OPENAT2.load(Ordering::Relaxed) == 0 => {
                OPENAT2.store(2, Ordering::Relaxed);
            }
            e => return Err(e),
        }
    }
    nix::fcntl::openat(dir, cname.as_c_str(), flags, Mode::from_bits_truncate(mode))
}

fn dup(fd: BorrowedFd<'_>, shown: &Path) -> Result<OwnedFd, String> {
    fd.try_clone_to_owned()
        .map_err(|e| format!("{}: {e}", shown.display()))
}

fn cstr(name: &OsStr, shown: &Path) -> Result<CString, String> {
    CString::new(name.as_bytes()).map_err(|_| format!("{}: NUL in the name", shown.display()))
}

/// Renames `from` to `to` inside one folder (rotation); a missing `from` is
/// no error.
pub fn rename_in(folder: BorrowedFd<'_>, from: &str, to: &str) -> Result<(), Errno> {
    match nix::fcntl::renameat(folder, from, folder, to) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e),
    }
}

/// Removes the file `name` from a folder; a missing one is no error.
pub fn unlink_in(folder: BorrowedFd<'_>, name: &str) -> Result<(), Errno> {
    match nix::unistd::unlinkat(folder, name, nix::unistd::UnlinkatFlags::NoRemoveDir) {
        Ok(()) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(e),
    }
}
