//! Tests of `read_pidfile` and `parse_pid` (SPEC section 4): what a pidfile may hold.
//! Files only; no process is signalled here.

use gsup::pidfile::{PidfileError, parse_pid, read_pidfile};
use std::fs;
use std::os::unix::fs::symlink;
use std::time::{Duration, Instant};

fn dir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("gsup-pidfile-")
        .tempdir()
        .expect("tempdir")
}

#[test]
fn parse_accepts_digits_with_whitespace() {
    assert_eq!(parse_pid(b"4242"), Ok(4242));
    assert_eq!(parse_pid(b"4242\n"), Ok(4242));
    assert_eq!(parse_pid(b"  4242 \r\n"), Ok(4242));
    assert_eq!(parse_pid(b"\t007\n"), Ok(7));
}

#[test]
fn parse_refuses_bad_content() {
    assert_eq!(parse_pid(b""), Err(PidfileError::Empty));
    assert_eq!(parse_pid(b" \n"), Err(PidfileError::Empty));
    assert_eq!(parse_pid(b"0\n"), Err(PidfileError::Zero));
    assert_eq!(parse_pid(b"-1\n"), Err(PidfileError::Negative));
    assert_eq!(parse_pid(b"-42"), Err(PidfileError::Negative));
    assert_eq!(parse_pid(b"+42"), Err(PidfileError::Garbage));
    assert_eq!(parse_pid(b"12 34"), Err(PidfileError::Garbage));
    assert_eq!(parse_pid(b"abc"), Err(PidfileError::Garbage));
    assert_eq!(parse_pid(b"42abc"), Err(PidfileError::Garbage));
    assert_eq!(parse_pid(b"\xff\xfe"), Err(PidfileError::Garbage));
    assert_eq!(parse_pid(b"2147483647"), Ok(i32::MAX));
    assert_eq!(parse_pid(b"2147483648"), Err(PidfileError::Overflow));
    assert_eq!(
        parse_pid(b"99999999999999999999999999999999999999"),
        Err(PidfileError::Overflow)
    );
    assert_eq!(parse_pid(&[b'1'; 65]), Err(PidfileError::TooLarge(65)));
}

#[test]
fn reads_a_plain_file() {
    let d = dir();
    let p = d.path().join("app.pid");
    fs::write(&p, "1234\n").expect("write");
    assert_eq!(read_pidfile(&p), Ok(1234));
}

#[test]
fn missing_and_empty_are_transient() {
    let d = dir();
    let p = d.path().join("app.pid");
    assert_eq!(read_pidfile(&p), Err(PidfileError::Missing));
    assert!(PidfileError::Missing.is_transient());
    fs::write(&p, "").expect("write");
    assert_eq!(read_pidfile(&p), Err(PidfileError::Empty));
    assert!(PidfileError::Empty.is_transient());
    assert!(!PidfileError::Garbage.is_transient());
}

#[test]
fn garbage_file_is_refused_without_echoing_it() {
    let d = dir();
    let p = d.path().join("app.pid");
    fs::write(&p, "root:$6$secret\n").expect("write");
    let err = read_pidfile(&p).expect_err("garbage");
    assert_eq!(err, PidfileError::Garbage);
    assert!(!err.to_string().contains("secret"));
}

#[test]
fn huge_file_is_refused() {
    let d = dir();
    let p = d.path().join("app.pid");
    fs::write(&p, "1".repeat(4096)).expect("write");
    assert_eq!(read_pidfile(&p), Err(PidfileError::TooLarge(4096)));
}

#[test]
fn symlink_to_shadow_is_refused() {
    let d = dir();
    let p = d.path().join("app.pid");
    symlink("/etc/shadow", &p).expect("symlink");
    assert_eq!(read_pidfile(&p), Err(PidfileError::Symlink));
    let q = d.path().join("other.pid");
    fs::write(&q, "55\n").expect("write");
    let r = d.path().join("link.pid");
    symlink(&q, &r).expect("symlink");
    assert_eq!(read_pidfile(&r), Err(PidfileError::Symlink));
}

#[test]
fn directory_is_refused() {
    let d = dir();
    let p = d.path().join("app.pid");
    fs::create_dir(&p).expect("mkdir");
    assert_eq!(read_pidfile(&p), Err(PidfileError::NotRegular("directory")));
}

#[test]
fn fifo_is_refused_without_blocking() {
    let d = dir();
    let p = d.path().join("app.pid");
    nix::unistd::mkfifo(&p, nix::sys::stat::Mode::from_bits_truncate(0o600)).expect("mkfifo");
    let t = Instant::now();
    assert_eq!(read_pidfile(&p), Err(PidfileError::NotRegular("FIFO")));
    assert!(t.elapsed() < Duration::from_secs(1));
}

#[test]
fn device_is_refused() {
    assert_eq!(
        read_pidfile(std::path::Path::new("/dev/zero")),
        Err(PidfileError::NotRegular("character device"))
    );
}

#[test]
fn root_owned_directory_symlink_is_followed() {
    // As `/var/run` -> `/run`: a symlink owned by root (the test runs as root).
    let d = dir();
    let real = d.path().join("real");
    fs::create_dir(&real).expect("mkdir");
    fs::write(real.join("app.pid"), "77\n").expect("write");
    symlink("real", d.path().join("run")).expect("symlink");
    let owner = fs::symlink_metadata(d.path().join("run"))
        .map(|m| std::os::unix::fs::MetadataExt::uid(&m))
        .expect("lstat");
    if owner == 0 || owner == nix::unistd::geteuid().as_raw() {
        assert_eq!(read_pidfile(&d.path().join("run/app.pid")), Ok(77));
    }
}

#[test]
fn directory_symlink_of_another_user_is_refused() {
    let d = dir();
    let real = d.path().join("real");
    fs::create_dir(&real).expect("mkdir");
    fs::write(real.join("app.pid"), "77\n").expect("write");
    let link = d.path().join("run");
    symlink("real", &link).expect("symlink");
    if nix::unistd::geteuid().is_root() {
        std::os::unix::fs::lchown(&link, Some(12345), Some(12345)).expect("lchown");
        assert_eq!(
            read_pidfile(&link.join("app.pid")),
            Err(PidfileError::UntrustedSymlink {
                path: link.clone(),
                owner: 12345
            })
        );
    }
    // The rule is the same through the explicit trust list, as any user.
    assert!(matches!(
        gsup::pidfile::read::read_pidfile_trusting(&link.join("app.pid"), &[99999]),
        Err(PidfileError::UntrustedSymlink { .. })
    ));
}

#[test]
fn var_run_symlink_of_root_is_followed() {
    // Debian: /var/run -> /run, owned by root.
    let var_run = std::path::Path::new("/var/run");
    let is_root_link = fs::symlink_metadata(var_run)
        .map(|m| m.file_type().is_symlink() && std::os::unix::fs::MetadataExt::uid(&m) == 0)
        .unwrap_or(false);
    if is_root_link {
        assert_eq!(
            read_pidfile(&var_run.join("gsup-test-no-such.pid")),
            Err(PidfileError::Missing)
        );
    }
}

#[test]
fn relative_path_and_dotdot_resolve() {
    let d = dir();
    fs::create_dir(d.path().join("a")).expect("mkdir");
    fs::write(d.path().join("app.pid"), "31\n").expect("write");
    assert_eq!(read_pidfile(&d.path().join("a/../app.pid")), Ok(31));
}
