//! The daemon's end of the socket path: its folder walked and checked, a
//! stale socket of the daemon's own replaced, the socket bound with its mode
//! set by the umask, and the runtime dir beside it made and checked.
//! It never chmods by path, never follows a symlink, and never removes or
//! talks over another user's socket.
//!
//! The folder is opened by `logs::safe::open_dir_path` (a walk from `/`
//! with `O_NOFOLLOW`, each component owned by root or the daemon's user):
//! a folder that others may write to, unless sticky, is refused, since they
//! could swap the socket for a link between `bind` and anything done by
//! name afterwards. In a sticky folder (`/tmp`) another user cannot remove
//! or rename the daemon's socket; they can only take the name first, which
//! `bind` reports as "held by uid N" and the client refuses to talk to
//! (`control::client` checks the server's uid). A squatter can deny
//! service, never answer in the daemon's name.

use crate::logs::safe::open_dir_path;
use nix::errno::Errno;
use nix::fcntl::AtFlags;
use nix::sys::stat::{FileStat, Mode, SFlag};
use std::ffi::OsStr;
use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::path::Path;
use std::sync::Mutex;
use tokio::net::UnixListener;

/// The socket's mode: every local user may connect; rights are checked per
/// request from the peer's uid (`SO_PEERCRED`), not by the file's mode.
pub const SOCKET_MODE: u32 = 0o666;

/// Binds the control socket at `path`, connectable by every local user.
///
/// The folder is created if missing and must be the daemon's (see the
/// module doc). At `path` there may be nothing, or a socket of the daemon's
/// own user that nobody listens on (left by a daemon that died), which is
/// removed. Anything else is refused with a one-line error (which the
/// caller puts after "cannot bind PATH: "): a live daemon, another user's
/// socket, a link, a file. Must be called inside the tokio runtime that will
/// run `server::serve`.
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    if tokio::runtime::Handle::try_current().is_err() {
        // UnixListener::from_std would panic outside a runtime; PID 1 must not.
        return Err(io::Error::other(
            "control socket: bind must be called inside the tokio runtime",
        ));
    }
    let (Some(parent), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::other(format!(
            "{}: not a socket path",
            path.display()
        )));
    };
    let parent = if parent.as_os_str().is_empty() {
        Path::new(".")
    } else {
        parent
    };
    let (dir, _) = open_dir_path(parent, false).map_err(io::Error::other)?;
    let euid = nix::unistd::geteuid().as_raw();
    clear_the_way(dir.as_fd(), name, path, euid)?;
    let listener = match bind_with_mode(path) {
        Ok(l) => l,
        Err(e) if e.kind() == io::ErrorKind::AddrInUse => {
            // Someone took the name between our look and our bind.
            let why = match lstat_at(dir.as_fd(), name) {
                Ok(Some(st)) if st.st_uid != euid => held_by(path, st.st_uid, euid),
                _ => e.to_string(),
            };
            return Err(io::Error::new(io::ErrorKind::AddrInUse, why));
        }
        Err(e) => return Err(e),
    };
    // What is at the name now must be the socket we made.
    match lstat_at(dir.as_fd(), name) {
        Ok(Some(st)) if kind(&st) == SFlag::S_IFSOCK && st.st_uid == euid => {}
        _ => {
            return Err(io::Error::other(format!(
                "{}: the socket just bound is not there; refusing to go on",
                path.display()
            )));
        }
    }
    listener.set_nonblocking(true)?;
    UnixListener::from_std(listener)
}

/// Makes the runtime dir `dir` (status page, notify sockets) if missing, by
/// the same walk as the socket's folder; it must be the daemon's own (or
/// root's) and closed to others: every client believes the page in it.
pub fn own_runtime_dir(dir: &Path) -> Result<(), String> {
    open_dir_path(dir, true).map(|_| ())
}

/// Leaves nothing at `name` but room for a new socket, or says why not.
fn clear_the_way(dir: BorrowedFd<'_>, name: &OsStr, path: &Path, euid: u32) -> io::Result<()> {
    let st = match lstat_at(dir, name) {
        Ok(None) => return Ok(()),
        Ok(Some(st)) => st,
        Err(e) => {
            return Err(io::Error::other(format!(
                "cannot inspect {}: {e}",
                path.display()
            )));
        }
    };
    if kind(&st) != SFlag::S_IFSOCK {
        return Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!(
                "{} is {}, not a socket; refusing to replace it",
                path.display(),
                kind_name(&st)
            ),
        ));
    }
    if st.st_uid != euid {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            held_by(path, st.st_uid, euid),
        ));
    }
    // Our own user's socket, in a folder only we (or, sticky, nobody else)
    // may change: connecting by its name reaches that socket.
    if std::os::unix::net::UnixStream::connect(path).is_ok() {
        return Err(io::Error::new(
            io::ErrorKind::AddrInUse,
            format!("another gsup daemon is listening on {}", path.display()),
        ));
    }
    // Nobody answers: a stale socket left by a daemon that died.
    nix::unistd::unlinkat(dir, name, nix::unistd::UnlinkatFlags::NoRemoveDir).map_err(|e| {
        io::Error::other(format!(
            "cannot remove stale socket {}: {e}",
            path.display()
        ))
    })
}

/// The refusal for a name another user holds.
fn held_by(path: &Path, uid: u32, euid: u32) -> String {
    format!(
        "{} is a socket of uid {uid}, not of gsup's uid {euid}: another user holds this path; \
         gsup neither removes nor uses it (give another --socket)",
        path.display()
    )
}

/// The umask is process-wide: binds in one process (tests) take turns.
static UMASK: Mutex<()> = Mutex::new(());

/// Runs `f` (a `bind`) with the umask `mask`, then puts the old one back:
/// Linux gives a new socket file `0777 & !umask`, and `fchmod` on a
/// socket's descriptor does not reach the file, so this is how a socket is
/// born with its mode without a `chmod` by path. The daemon binds before it
/// starts a thread that could create a file meanwhile.
pub fn with_umask<T>(mask: u32, f: impl FnOnce() -> T) -> T {
    let _turn = UMASK.lock().unwrap_or_else(|p| p.into_inner());
    let old = nix::sys::stat::umask(Mode::from_bits_truncate(mask));
    let out = f();
    nix::sys::stat::umask(old);
    out
}

/// `bind` with the socket born [`SOCKET_MODE`].
fn bind_with_mode(path: &Path) -> io::Result<std::os::unix::net::UnixListener> {
    with_umask(0o777 & !SOCKET_MODE, || {
        std::os::unix::net::UnixListener::bind(path)
    })
}

/// `fstatat(AT_SYMLINK_NOFOLLOW)`; `None` when nothing is there.
fn lstat_at(dir: BorrowedFd<'_>, name: &OsStr) -> Result<Option<FileStat>, Errno> {
    match nix::sys::stat::fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(st) => Ok(Some(st)),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

fn kind(st: &FileStat) -> SFlag {
    SFlag::from_bits_truncate(st.st_mode & libc::S_IFMT)
}

fn kind_name(st: &FileStat) -> &'static str {
    match kind(st) {
        SFlag::S_IFLNK => "a symbolic link",
        SFlag::S_IFREG => "a regular file",
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        _ => "of an unknown type",
    }
}

/// Takes the listening control socket a daemon handed over on `gsup reexec`
/// (descriptor `fd`, named on the command line). It must be a listening
/// Unix socket bound at `path`: anything else is refused and left alone,
/// and the caller binds afresh. Must be called inside the tokio runtime.
pub fn inherit(fd: i32, path: &Path) -> io::Result<UnixListener> {
    use nix::sys::socket::{AddressFamily, SockaddrLike, UnixAddr, getsockname, sockopt};
    use std::os::fd::{FromRawFd, OwnedFd};
    if tokio::runtime::Handle::try_current().is_err() {
        return Err(io::Error::other(
            "control socket: inherit must be called inside the tokio runtime",
        ));
    }
    if fd <= 2 {
        return Err(io::Error::other(format!(
            "--inherit-socket-fd {fd}: a standard descriptor"
        )));
    }
    // SAFETY: fcntl(F_GETFD) only asks whether `fd` is open; no memory is involved.
    if unsafe { libc::fcntl(fd, libc::F_GETFD) } < 0 {
        return Err(io::Error::other(format!(
            "--inherit-socket-fd {fd}: {}",
            io::Error::last_os_error()
        )));
    }
    // SAFETY: `fd` is open (checked above); it is only borrowed here, for
    // the checks, and stays open whatever they find: a wrong number names a
    // descriptor of this process (the runtime's, say) that is not ours to close.
    let borrowed = unsafe { std::os::fd::BorrowedFd::borrow_raw(fd) };
    let check = || -> Result<(), String> {
        let listening = nix::sys::socket::getsockopt(&borrowed, sockopt::AcceptConn)
            .map_err(|e| e.to_string())?;
        if !listening {
            return Err("not a listening socket".into());
        }
        let addr: UnixAddr = getsockname(fd).map_err(|e| e.to_string())?;
        if addr.family() != Some(AddressFamily::Unix) || addr.path() != Some(path) {
            return Err(format!("not bound at {}", path.display()));
        }
        Ok(())
    };
    if let Err(why) = check() {
        return Err(io::Error::other(format!("--inherit-socket-fd {fd}: {why}")));
    }
    // SAFETY: a listening socket bound at the daemon's own path, which this
    // process has not bound itself: the one the daemon it replaces handed
    // over on the command line. Nothing else here owns it.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    nix::fcntl::fcntl(
        &owned,
        nix::fcntl::FcntlArg::F_SETFD(nix::fcntl::FdFlag::FD_CLOEXEC),
    )
    .map_err(io::Error::from)?;
    let listener = std::os::unix::net::UnixListener::from(owned);
    listener.set_nonblocking(true)?;
    UnixListener::from_std(listener)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn bind_outside_a_runtime_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = bind(&dir.path().join("s.sock")).expect_err("no runtime");
        assert!(
            err.to_string().contains("inside the tokio runtime"),
            "{err}"
        );
    }

    #[test]
    fn bind_refuses_a_file_and_a_link_and_replaces_its_own_stale_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("plain");
        std::fs::write(&file, "x").expect("write");
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&file, &link).expect("symlink");
        rt().block_on(async {
            let err = bind(&file).expect_err("must refuse a regular file");
            assert_eq!(
                err.to_string(),
                format!(
                    "{} is a regular file, not a socket; refusing to replace it",
                    file.display()
                )
            );
            let err = bind(&link).expect_err("must refuse a link");
            assert!(err.to_string().contains("is a symbolic link, not a socket"));
            assert_eq!(std::fs::read_to_string(&file).expect("still there"), "x");

            let sock = dir.path().join("sub/dir/gsup.sock");
            let first = bind(&sock).expect("bind");
            let meta = std::fs::symlink_metadata(&sock).expect("meta");
            assert_eq!(meta.permissions().mode() & 0o7777, SOCKET_MODE);
            assert_eq!(meta.uid(), nix::unistd::geteuid().as_raw());
            let err = bind(&sock).expect_err("a live listener");
            assert_eq!(
                err.to_string(),
                format!("another gsup daemon is listening on {}", sock.display())
            );
            drop(first);
            bind(&sock).expect("stale socket replaced");
        });
    }

    #[test]
    fn the_umask_is_given_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        rt().block_on(async {
            let before = nix::sys::stat::umask(Mode::from_bits_truncate(0o027));
            let _l = bind(&dir.path().join("s")).expect("bind");
            let after = nix::sys::stat::umask(before);
            assert_eq!(after.bits(), 0o027);
        });
    }

    #[test]
    fn a_folder_others_may_write_is_refused_unless_sticky() {
        let dir = tempfile::tempdir().expect("tempdir");
        let open = dir.path().join("open");
        std::fs::create_dir(&open).expect("mkdir");
        std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o757)).expect("chmod");
        rt().block_on(async {
            let err = bind(&open.join("s")).expect_err("open folder");
            assert!(
                err.to_string()
                    .contains("writable by group or others (mode 0757)"),
                "{err}"
            );
            std::fs::set_permissions(&open, std::fs::Permissions::from_mode(0o1777))
                .expect("chmod");
            bind(&open.join("s")).expect("sticky is fine");
        });
    }

    #[test]
    fn the_runtime_dir_is_made_closed_and_never_a_link() {
        let dir = tempfile::tempdir().expect("tempdir");
        let rd = dir.path().join("gsup.d");
        own_runtime_dir(&rd).expect("made");
        let meta = std::fs::symlink_metadata(&rd).expect("meta");
        assert_eq!(meta.permissions().mode() & 0o7777, 0o755);
        own_runtime_dir(&rd).expect("made already");
        std::fs::set_permissions(&rd, std::fs::Permissions::from_mode(0o1777)).expect("chmod");
        assert!(own_runtime_dir(&rd).is_err(), "others may write in it");
        let other = dir.path().join("other");
        std::fs::create_dir(&other).expect("mkdir");
        let link = dir.path().join("link.d");
        std::os::unix::fs::symlink(&other, &link).expect("symlink");
        let err = own_runtime_dir(&link).expect_err("a link");
        assert!(err.contains("is a symbolic link"), "{err}");
    }
}
