//! Reading one pidfile safely: no symlink, no FIFO, no device, at most 64 bytes.
//! It only reads; it never judges whether the named process belongs to a job (see `verify`).

use nix::fcntl::{AtFlags, OFlag, openat, readlinkat};
use nix::sys::stat::{FileStat, Mode, SFlag, fstat, fstatat};
use std::ffi::OsStr;
use std::fmt;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

/// Most bytes a pidfile may hold: a pid has at most 7 digits (`pid_max` is
/// 2^22), so 64 leaves room for whitespace and refuses anything else.
pub const MAX_PIDFILE_BYTES: usize = 64;

/// Most symlinks followed while resolving the pidfile's directory (as the kernel's 40).
const MAX_SYMLINKS: usize = 40;

/// Why a pidfile gave no pid. `Missing` and `Empty` are "try again shortly"
/// (a program is between writing steps); every other kind is a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PidfileError {
    /// No such file (yet, or any more): Unicorn between rename and rewrite.
    Missing,
    /// Zero bytes or only whitespace: nginx writes in place (`O_TRUNC`, then `write`).
    Empty,
    /// The pidfile itself is a symlink.
    Symlink,
    /// A directory on the way is a symlink owned by someone other than root or
    /// the daemon's user, so the job could have pointed it elsewhere.
    UntrustedSymlink { path: PathBuf, owner: u32 },
    /// A directory, FIFO, socket or device.
    NotRegular(&'static str),
    /// More than [`MAX_PIDFILE_BYTES`] bytes.
    TooLarge(u64),
    /// Not ASCII digits with optional surrounding whitespace. The content is
    /// never echoed: the file may be something the job should not read.
    Garbage,
    /// A leading minus sign.
    Negative,
    /// `0` (would mean "my process group" to kill(2)).
    Zero,
    /// Digits that do not fit a pid.
    Overflow,
    /// Any other error of open/read, with its errno.
    Io(i32),
}

impl PidfileError {
    /// True for the kinds that mean "no pid right now, look again on the next
    /// event" rather than "this file is refused".
    pub fn is_transient(&self) -> bool {
        matches!(self, PidfileError::Missing | PidfileError::Empty)
    }
}

impl fmt::Display for PidfileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PidfileError::Missing => f.write_str("no such file"),
            PidfileError::Empty => f.write_str("file is empty"),
            PidfileError::Symlink => f.write_str("refused: the pidfile is a symlink"),
            PidfileError::UntrustedSymlink { path, owner } => write!(
                f,
                "refused: directory {} is a symlink owned by uid {owner}",
                path.display()
            ),
            PidfileError::NotRegular(kind) => write!(f, "refused: not a regular file but a {kind}"),
            PidfileError::TooLarge(n) => write!(
                f,
                "refused: {n} bytes, more than the {MAX_PIDFILE_BYTES} a pidfile may hold"
            ),
            PidfileError::Garbage => f.write_str("refused: content is not a decimal process id"),
            PidfileError::Negative => f.write_str("refused: negative process id"),
            PidfileError::Zero => f.write_str("refused: process id 0"),
            PidfileError::Overflow => f.write_str("refused: process id out of range"),
            PidfileError::Io(e) => write!(f, "{}", std::io::Error::from_raw_os_error(*e)),
        }
    }
}

/// Parses pidfile content: ASCII digits, optional whitespace around them.
/// Pure, so the rules are tested without files.
pub fn parse_pid(bytes: &[u8]) -> Result<i32, PidfileError> {
    if bytes.len() > MAX_PIDFILE_BYTES {
        return Err(PidfileError::TooLarge(bytes.len() as u64));
    }
    let text = bytes.trim_ascii();
    if text.is_empty() {
        return Err(PidfileError::Empty);
    }
    if text[0] == b'-' && text.len() > 1 && text[1..].iter().all(u8::is_ascii_digit) {
        return Err(PidfileError::Negative);
    }
    if !text.iter().all(u8::is_ascii_digit) {
        return Err(PidfileError::Garbage);
    }
    let mut value: i64 = 0;
    for d in text {
        value = value * 10 + i64::from(d - b'0');
        if value > i64::from(i32::MAX) {
            return Err(PidfileError::Overflow);
        }
    }
    match value {
        0 => Err(PidfileError::Zero),
        // value <= i32::MAX was checked in the loop.
        v => Ok(v as i32),
    }
}

/// Reads the pid named by the file at `path` (absolute; a relative path is
/// taken from the daemon's working directory).
///
/// Rule for directories: every directory component is opened with
/// `O_NOFOLLOW`; a component that is a symlink is followed only when the
/// symlink is owned by root or by the daemon's effective user (so `/var/run`
/// → `/run` works, but a job cannot redirect the path through a symlink it
/// made). The final component is never followed. The file is checked with
/// `fstatat(AT_SYMLINK_NOFOLLOW)` before it is opened (a device is never
/// opened), opened `O_NOFOLLOW|O_NONBLOCK|O_NOCTTY|O_CLOEXEC` (a FIFO never
/// blocks) and checked again with `fstat` after.
pub fn read_pidfile(path: &Path) -> Result<i32, PidfileError> {
    let trusted = [0, nix::unistd::geteuid().as_raw()];
    read_pidfile_trusting(path, &trusted)
}

/// [`read_pidfile`] with the set of uids whose directory symlinks are followed.
pub fn read_pidfile_trusting(path: &Path, trusted_uids: &[u32]) -> Result<i32, PidfileError> {
    let name = match path.file_name() {
        Some(n) => n.to_owned(),
        None => return Err(PidfileError::NotRegular("directory")),
    };
    let parent = path.parent().unwrap_or(Path::new("."));
    let dir = open_dir_checked(parent, trusted_uids)?;
    let st = fstatat(&dir, name.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW).map_err(from_errno)?;
    check_kind(&st)?;
    let flags = OFlag::O_RDONLY
        | OFlag::O_NOFOLLOW
        | OFlag::O_NONBLOCK
        | OFlag::O_NOCTTY
        | OFlag::O_CLOEXEC;
    let fd = openat(&dir, name.as_os_str(), flags, Mode::empty()).map_err(from_errno)?;
    let st = fstat(&fd).map_err(from_errno)?;
    check_kind(&st)?;
    if st.st_size > MAX_PIDFILE_BYTES as i64 {
        return Err(PidfileError::TooLarge(st.st_size as u64));
    }
    let mut buf = [0u8; MAX_PIDFILE_BYTES + 1];
    let mut len = 0;
    while len < buf.len() {
        match nix::unistd::read(&fd, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(from_errno(e)),
        }
    }
    parse_pid(&buf[..len])
}

fn check_kind(st: &FileStat) -> Result<(), PidfileError> {
    let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
    match kind {
        SFlag::S_IFREG => Ok(()),
        SFlag::S_IFLNK => Err(PidfileError::Symlink),
        SFlag::S_IFDIR => Err(PidfileError::NotRegular("directory")),
        SFlag::S_IFIFO => Err(PidfileError::NotRegular("FIFO")),
        SFlag::S_IFSOCK => Err(PidfileError::NotRegular("socket")),
        SFlag::S_IFCHR => Err(PidfileError::NotRegular("character device")),
        SFlag::S_IFBLK => Err(PidfileError::NotRegular("block device")),
        _ => Err(PidfileError::NotRegular("special file")),
    }
}

fn from_errno(e: nix::errno::Errno) -> PidfileError {
    match e {
        nix::errno::Errno::ENOENT => PidfileError::Missing,
        nix::errno::Errno::ELOOP => PidfileError::Symlink,
        other => PidfileError::Io(other as i32),
    }
}

/// Opens `dir` one component at a time (`O_PATH|O_NOFOLLOW`), following only
/// symlinks owned by a trusted uid.
fn open_dir_checked(dir: &Path, trusted_uids: &[u32]) -> Result<OwnedFd, PidfileError> {
    let start = if dir.is_absolute() { "/" } else { "." };
    let base = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
    let root = nix::fcntl::open(start, base, Mode::empty()).map_err(from_errno)?;
    let mut cur = root;
    let mut walked = PathBuf::from(start);
    // Components still to walk, last one on top.
    let mut todo: Vec<PathBuf> = components_rev(dir);
    let mut links = 0;
    while let Some(comp) = todo.pop() {
        let comp_os: &OsStr = comp.as_os_str();
        if comp_os == "/" {
            cur = nix::fcntl::open("/", base, Mode::empty()).map_err(from_errno)?;
            walked = PathBuf::from("/");
            continue;
        }
        let st = fstatat(&cur, comp_os, AtFlags::AT_SYMLINK_NOFOLLOW).map_err(from_errno)?;
        let kind = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits());
        walked.push(&comp);
        if kind == SFlag::S_IFLNK {
            if !trusted_uids.contains(&st.st_uid) {
                return Err(PidfileError::UntrustedSymlink {
                    path: walked,
                    owner: st.st_uid,
                });
            }
            links += 1;
            if links > MAX_SYMLINKS {
                return Err(PidfileError::Io(libc::ELOOP));
            }
            let target = readlinkat(&cur, comp_os).map_err(from_errno)?;
            let target = PathBuf::from(target);
            let mut more = components_rev(&target);
            if target.is_absolute() {
                more.push(PathBuf::from("/"));
            }
            todo.extend(more);
            continue;
        }
        let next =
            openat(&cur, comp_os, base | OFlag::O_NOFOLLOW, Mode::empty()).map_err(from_errno)?;
        cur = next;
    }
    Ok(cur)
}

/// The normal components of `p` (plus `..`), in reverse order for a stack.
fn components_rev(p: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = p
        .components()
        .filter_map(|c| match c {
            Component::Normal(s) => Some(PathBuf::from(OsStr::from_bytes(s.as_bytes()))),
            Component::ParentDir => Some(PathBuf::from("..")),
            _ => None,
        })
        .collect();
    out.reverse();
    out
}
