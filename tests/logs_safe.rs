//! Every way another user could steer a root daemon's log writes elsewhere
//! is refused: symlinks, foreign owners, writable folders, FIFOs, devices,
//! hard links; and a symlink swapped in a loop never gets a byte written outside.

use gsup::logs::{LogHub, LogId, LogSpec};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt, symlink};
use std::path::Path;

fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

/// Root-only parts (chown to another user) are skipped elsewhere; CI runs as root.
fn need_root(what: &str) -> bool {
    if is_root() {
        return true;
    }
    assert!(std::env::var("CI").is_err(), "{what}: CI must run as root");
    eprintln!("skipped (needs root): {what}");
    false
}

fn chmod(p: &Path, mode: u32) {
    fs::set_permissions(p, fs::Permissions::from_mode(mode)).expect("chmod");
}

fn spec() -> LogSpec {
    LogSpec {
        max_size: None,
        keep: 1,
        timestamps: false,
    }
}

/// `LogHub::start` fails with a one-line message naming `names`.
fn start_refused(dir: &Path, names: &Path, why: &str) {
    let e = LogHub::start(dir).err().expect("refused").to_string();
    assert!(!e.contains('\n'), "{e}");
    assert!(e.contains(&names.display().to_string()), "{e}");
    assert!(e.contains(why), "{e}");
}

#[test]
fn a_symlink_on_the_way_to_log_dir_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let real = tmp.path().join("real");
    fs::create_dir(&real).expect("mkdir");
    symlink(&real, tmp.path().join("link")).expect("ln");
    let via = tmp.path().join("link/log");
    start_refused(&via, &tmp.path().join("link"), "symbolic link");
    start_refused(
        &tmp.path().join("link"),
        &tmp.path().join("link"),
        "symbolic link",
    );
    assert!(
        !real.join("log").exists(),
        "nothing created through the link"
    );
}

#[test]
fn writable_folders_on_the_way_are_refused_unless_sticky() {
    let tmp = tempfile::tempdir().expect("tmp");
    let open = tmp.path().join("open");
    fs::create_dir(&open).expect("mkdir");
    chmod(&open, 0o777);
    start_refused(&open.join("log"), &open, "writable by group or others");
    chmod(&open, 0o1777);
    LogHub::start(&open.join("log")).expect("a sticky ancestor, as /tmp, is fine");
    // LOG_DIR itself may not be writable by others, sticky or not.
    let log = open.join("log");
    chmod(&log, 0o1775);
    start_refused(&log, &log, "writable by group or others");
    chmod(&log, 0o755);
    LogHub::start(&log).expect("fixed");
}

#[test]
fn a_foreign_owner_on_the_way_is_refused() {
    if !need_root("foreign owner") {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let theirs = tmp.path().join("theirs");
    fs::create_dir(&theirs).expect("mkdir");
    std::os::unix::fs::chown(&theirs, Some(65534), None).expect("chown");
    start_refused(&theirs.join("log"), &theirs, "owned by uid 65534");
}

/// LOG_DIR is fine; what is in the way below it is refused by `open`, which
/// names the path, and nothing is written through it.
#[test]
fn anything_in_the_way_below_log_dir_is_refused() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("log");
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&outside).expect("mkdir");
    fs::write(outside.join("victim"), "untouched").expect("victim");
    let mut hub = LogHub::start(&dir).expect("hub");
    let mut refused = |job: &str, why: &str| {
        let id = LogId::new(job, "");
        let e = hub.open(&id, spec()).expect_err("refused");
        assert!(!e.contains('\n'), "{e}");
        assert!(e.contains(&dir.display().to_string()), "{e}");
        assert!(e.contains(why), "{job}: {e}");
    };
    // A folder that is a symlink.
    symlink(&outside, dir.join("fold")).expect("ln");
    refused("fold/x", "symbolic link");
    // The log file as a symlink to a file outside.
    symlink(outside.join("victim"), dir.join("file.log")).expect("ln");
    refused("file", "symbolic link");
    // A dangling symlink (O_CREAT would create its target).
    symlink(outside.join("new"), dir.join("dangling.log")).expect("ln");
    refused("dangling", "symbolic link");
    // A FIFO: refused without blocking.
    nix::unistd::mkfifo(
        &dir.join("fifo.log"),
        nix::sys::stat::Mode::from_bits_truncate(0o600),
    )
    .expect("mkfifo");
    refused("fifo", "FIFO");
    // A folder where the file should be.
    fs::create_dir(dir.join("isdir.log")).expect("mkdir");
    refused("isdir", "a directory");
    // A group-writable folder below LOG_DIR.
    fs::create_dir(dir.join("gw")).expect("mkdir");
    chmod(&dir.join("gw"), 0o775);
    refused("gw/x", "writable by group or others");
    // A hard link to a file elsewhere.
    fs::hard_link(outside.join("victim"), dir.join("linked.log")).expect("ln");
    refused("linked", "hard links");
    if is_root() {
        // A device node.
        nix::sys::stat::mknod(
            &dir.join("dev.log"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o600),
            nix::sys::stat::makedev(1, 3),
        )
        .expect("mknod");
        refused("dev", "character device");
        // A folder and a file of another user.
        fs::create_dir(dir.join("theirs")).expect("mkdir");
        std::os::unix::fs::chown(dir.join("theirs"), Some(65534), None).expect("chown");
        refused("theirs/x", "owned by uid 65534");
        fs::write(dir.join("their.log"), "").expect("file");
        std::os::unix::fs::chown(dir.join("their.log"), Some(65534), None).expect("chown");
        refused("their", "owned by uid 65534");
    } else {
        need_root("device and foreign-owner files");
    }
    assert_eq!(
        fs::read_to_string(outside.join("victim")).expect("read"),
        "untouched"
    );
    assert!(!outside.join("new").exists());
    assert_eq!(fs::read_dir(&outside).expect("ls").count(), 1);
}

#[test]
fn an_old_file_is_set_to_0640_through_its_descriptor() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("log");
    fs::create_dir(&dir).expect("mkdir");
    fs::write(dir.join("old.log"), "kept\n").expect("file");
    chmod(&dir.join("old.log"), 0o666);
    let mut hub = LogHub::start(&dir).expect("hub");
    let w = hub.open(&LogId::new("old", ""), spec()).expect("open");
    drop(w);
    let meta = fs::metadata(dir.join("old.log")).expect("meta");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    assert_eq!(meta.uid(), nix::unistd::geteuid().as_raw());
    assert_eq!(
        fs::read_to_string(dir.join("old.log")).expect("read"),
        "kept\n"
    );
}

/// Swaps a job's folder with a symlink to a folder outside, and a log file
/// with a symlink to a file outside, as fast as it can, while logs are opened
/// and noted: some opens are refused, none writes outside.
#[test]
fn a_symlink_swapped_in_a_loop_never_leads_outside() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("log");
    let outside = tmp.path().join("outside");
    fs::create_dir_all(&outside).expect("mkdir");
    fs::write(outside.join("victim.log"), "untouched").expect("victim");
    let mut hub = LogHub::start(&dir).expect("hub");
    fs::create_dir_all(dir.join("a")).expect("mkdir");
    fs::create_dir_all(dir.join("b")).expect("mkdir");
    symlink(&outside, dir.join("a.link")).expect("ln");
    fs::write(dir.join("b/y.log"), "").expect("file");
    symlink(outside.join("victim.log"), dir.join("b/y.link")).expect("ln");
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let swapper = {
        let (stop, dir) = (stop.clone(), dir.clone());
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                exchange(&dir.join("a"), &dir.join("a.link"));
                exchange(&dir.join("b/y.log"), &dir.join("b/y.link"));
                swaps += 1;
            }
            swaps
        })
    };
    let (mut ok, mut refused) = (0, 0);
    for i in 0..2000 {
        for id in [LogId::new("a/x", &i.to_string()), LogId::new("b/y", "")] {
            match hub.open(&id, spec()) {
                Ok(w) => {
                    ok += 1;
                    nix::unistd::write(&w, b"line\n").expect("write");
                    drop(w);
                    hub.note(&id, "gsup: note");
                    hub.close(&id);
                }
                Err(_) => refused += 1,
            }
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let swaps = swapper.join().expect("swapper");
    drop(hub);
    eprintln!("swap stress: {swaps} swaps, {ok} opens, {refused} refused");
    assert!(
        refused > 0 && ok > 0,
        "the race was not exercised: {ok} ok, {refused} refused"
    );
    let names: Vec<_> = fs::read_dir(&outside)
        .expect("ls")
        .map(|e| e.expect("entry").file_name())
        .collect();
    assert_eq!(names, ["victim.log"], "a file was created outside");
    assert_eq!(
        fs::read_to_string(outside.join("victim.log")).expect("read"),
        "untouched"
    );
}

/// `renameat2(RENAME_EXCHANGE)`: swaps two names atomically.
fn exchange(a: &Path, b: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let a = std::ffi::CString::new(a.as_os_str().as_bytes()).expect("path");
    let b = std::ffi::CString::new(b.as_os_str().as_bytes()).expect("path");
    // SAFETY: two NUL-terminated paths.
    let r = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    assert_eq!(r, 0, "renameat2: {}", std::io::Error::last_os_error());
}
