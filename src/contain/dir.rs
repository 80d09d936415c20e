//! The file system calls of the cgroup code, all relative to a directory
//! descriptor: open a child group (never through a symlink, never onto another
//! file system), make, list and remove groups, read and write interface files. It must not resolve a path from `/`.

use nix::errno::Errno;
use nix::fcntl::{AtFlags, OFlag, openat};
use nix::sys::stat::{Mode, fstat, mkdirat};
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::fs::FileExt;

/// The most read from one interface file (`cgroup.procs` of a big group is
/// about 8 bytes a process).
const MAX_READ: u64 = 16 << 20;

/// Opens the directory `name` inside `at`: `O_NOFOLLOW` (a symlink there is
/// refused with ELOOP), `O_DIRECTORY`, and on the same file system as `at`
/// (a mount planted there is refused with EXDEV).
pub fn open_dir(at: BorrowedFd<'_>, name: &str) -> io::Result<OwnedFd> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(at, name, flags, Mode::empty())?;
    if fstat(&fd)?.st_dev != fstat(at)?.st_dev {
        return Err(io::Error::from_raw_os_error(libc::EXDEV));
    }
    Ok(fd)
}

/// Makes the directory `name` inside `at` unless it exists, then opens it
/// with [`open_dir`]. True when this call made it.
pub fn make_dir(at: BorrowedFd<'_>, name: &str) -> io::Result<(OwnedFd, bool)> {
    let made = match mkdirat(at, name, Mode::from_bits_truncate(0o755)) {
        Ok(()) => true,
        Err(Errno::EEXIST) => false,
        Err(e) => return Err(e.into()),
    };
    Ok((open_dir(at, name)?, made))
}

/// Removes the (empty) group `name` inside `at`. The kernel refuses a group
/// that still holds a process or a child group (EBUSY, ENOTEMPTY).
pub fn remove_dir(at: BorrowedFd<'_>, name: &str) -> io::Result<()> {
    nix::unistd::unlinkat(at, name, nix::unistd::UnlinkatFlags::RemoveDir)?;
    Ok(())
}

/// The names of the subdirectories of `dir` (child groups), without `.` and `..`.
pub fn subdirs(dir: BorrowedFd<'_>) -> io::Result<Vec<String>> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let mut listing = nix::dir::Dir::openat(dir, ".", flags, Mode::empty())?;
    let mut names = Vec::new();
    for entry in listing.iter() {
        let entry = entry?;
        if entry.file_type() != Some(nix::dir::Type::Directory) {
            continue;
        }
        if let Ok(name) = entry.file_name().to_str()
            && name != "."
            && name != ".."
        {
            names.push(name.to_string());
        }
    }
    Ok(names)
}

/// Opens the interface file `name` of the group `dir` (`O_NOFOLLOW`).
pub fn open_file(dir: BorrowedFd<'_>, name: &str, write: bool) -> io::Result<File> {
    let mode = if write {
        OFlag::O_WRONLY
    } else {
        OFlag::O_RDONLY
    };
    let flags = mode | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC | OFlag::O_NOCTTY;
    Ok(File::from(openat(dir, name, flags, Mode::empty())?))
}

/// Reads the whole interface file `name` of the group `dir`.
pub fn read(dir: BorrowedFd<'_>, name: &str) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    open_file(dir, name, false)?
        .take(MAX_READ)
        .read_to_end(&mut out)?;
    Ok(out)
}

/// Reads an open interface file again from its start (the kernel makes the
/// text anew on each read at offset 0).
pub fn reread(file: &File, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match file.read_at(buf, 0) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// Writes `value` to the interface file `name` of the group `dir` in one
/// `write`, as the kernel wants.
pub fn write(dir: BorrowedFd<'_>, name: &str, value: &str) -> io::Result<()> {
    let mut file = open_file(dir, name, true)?;
    let n = file.write(value.as_bytes())?;
    if n != value.len() {
        return Err(io::Error::from_raw_os_error(libc::EIO));
    }
    Ok(())
}

/// Whether the effective user may write `name` in `dir` (`faccessat` with
/// `AT_EACCESS`: root's capabilities and a read-only mount both count).
pub fn writable(dir: BorrowedFd<'_>, name: &str) -> bool {
    nix::unistd::faccessat(
        dir,
        name,
        nix::unistd::AccessFlags::W_OK,
        AtFlags::AT_EACCESS,
    )
    .is_ok()
}

/// Whether `name` exists in `dir` (without following a symlink).
pub fn exists(dir: BorrowedFd<'_>, name: &str) -> bool {
    nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW).is_ok()
}

/// Whether `name` in `dir` is still the directory open as `fd` (same inode).
pub fn is_same(dir: BorrowedFd<'_>, name: &str, fd: &impl AsFd) -> bool {
    match (
        nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW),
        fstat(fd.as_fd()),
    ) {
        (Ok(a), Ok(b)) => a.st_ino == b.st_ino && a.st_dev == b.st_dev,
        _ => false,
    }
}
