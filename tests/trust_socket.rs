//! The control socket as a trust boundary, both ways: the daemon makes its
//! socket and runtime dir itself (no chmod by path, no symlink followed, no
//! folder another user may write to, no other user's socket removed), and
//! the client believes only a daemon of root or of its own user.

mod common;
mod trust_util;

use common::{gsup_bin, temp_root, wait_until};
use gsup::control::proto::{JobStatus, Response};
use gsup::job::{Goal, State};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use trust_util::{Abuser, Attempt, as_user, chmod, mode_owner, run_abuse, system_python};

/// A root-only file that nothing may chmod.
fn secret(root: &Path) -> std::path::PathBuf {
    let s = root.join("secret");
    fs::write(&s, "root only\n").expect("write");
    chmod(&s, 0o600);
    s
}

fn assert_untouched(secret: &Path) {
    assert_eq!(mode_owner(secret), (0o600, 0), "{}", secret.display());
    assert_eq!(fs::read_to_string(secret).expect("read"), "root only\n");
}

/// The daemon's refusal: exit 1 within a few seconds, and its log says why.
fn refused(root: &Path, socket: &Path) -> String {
    let mut a = Attempt::start(root, socket);
    let code = a.exit_within(Duration::from_secs(10));
    let log = a.log();
    assert_eq!(
        code,
        Some(1),
        "the daemon must refuse {}: {log}",
        socket.display()
    );
    log
}

/// Runs the client as root, or as `uid`: (code, stdout, stderr).
fn client(uid: Option<u32>, socket: &Path, args: &[&str]) -> (i32, String, String) {
    let bin = gsup_bin();
    let mut cmd = match uid {
        Some(u) => as_user(u, bin.to_str().expect("utf8")),
        None => Command::new(&bin),
    };
    let out = cmd
        .arg("--socket")
        .arg(socket)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run gsup");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A socket folder that another user may write to (not sticky) lets them
/// swap the socket for a link between `bind` and anything done by path:
/// refused at once, nothing made, nothing chmod-ed. Group-writable likewise;
/// a sticky folder (as /tmp) is fine.
#[test]
fn a_socket_folder_others_may_write_is_refused() {
    let root = temp_root();
    let secret = secret(root.path());
    for mode in [0o777, 0o775] {
        let open = root.path().join(format!("open{mode:o}"));
        fs::create_dir(&open).expect("mkdir");
        chmod(&open, mode);
        let sock = open.join("gsup.sock");
        let log = refused(root.path(), &sock);
        assert!(
            log.contains(&format!(
                "{}: writable by group or others (mode 0{mode:o})",
                open.display()
            )),
            "{log}"
        );
        assert!(!sock.exists() && !open.join("gsup.d").exists());
    }
    let sticky = root.path().join("sticky");
    fs::create_dir(&sticky).expect("mkdir");
    chmod(&sticky, 0o1777);
    let sock = sticky.join("gsup.sock");
    let mut a = Attempt::start(root.path(), &sock);
    assert_eq!(a.exit_or(Duration::from_secs(10), || sock.exists()), None);
    assert_eq!(mode_owner(&sock), (0o666, 0), "every user may connect");
    assert_untouched(&secret);
}

/// A symlink anywhere on the socket's path, made before the daemon opens
/// it, is refused and never followed: not for a folder, not for the socket,
/// not for the runtime dir.
#[test]
fn a_symlink_on_the_socket_path_is_never_followed() {
    let root = temp_root();
    let secret = secret(root.path());
    let real = root.path().join("real");
    fs::create_dir(&real).expect("mkdir");
    let link = root.path().join("link");
    std::os::unix::fs::symlink(&real, &link).expect("symlink");
    let log = refused(root.path(), &link.join("gsup.sock"));
    assert!(
        log.contains(&format!("{}: is a symbolic link", link.display())),
        "{log}"
    );
    assert_eq!(fs::read_dir(&real).expect("ls").count(), 0, "nothing made");

    let sock = root.path().join("gsup.sock");
    std::os::unix::fs::symlink(&secret, &sock).expect("symlink");
    let log = refused(root.path(), &sock);
    assert!(log.contains("is a symbolic link, not a socket"), "{log}");
    assert_untouched(&secret);
    fs::remove_file(&sock).expect("rm");

    // The runtime dir as a link: no page, nothing written through it, and
    // nothing read or removed through it (a `log-pipes` file there names
    // no pipe the daemon handed itself over a reexec).
    let elsewhere = root.path().join("elsewhere");
    fs::create_dir(&elsewhere).expect("mkdir");
    let planted = elsewhere.join("log-pipes");
    fs::write(&planted, "not the daemon's\n").expect("write");
    std::os::unix::fs::symlink(&elsewhere, root.path().join("gsup.d")).expect("symlink");
    let mut a = Attempt::start(root.path(), &sock);
    assert_eq!(a.exit_or(Duration::from_secs(10), || sock.exists()), None);
    wait_until(Duration::from_secs(5), "the daemon says why", || {
        a.log().contains("no status page")
    });
    assert!(a.log().contains("is a symbolic link"), "{}", a.log());
    assert_eq!(
        fs::read_to_string(&planted).ok().as_deref(),
        Some("not the daemon's\n"),
        "log-pipes read and removed through the link"
    );
    assert_eq!(fs::read_dir(&elsewhere).expect("ls").count(), 1);
}

/// Another user's socket at the path (left over, or listening) is neither
/// removed nor talked to: the daemon says who holds the path and exits 1.
#[test]
fn another_users_socket_is_left_alone() {
    let Some(py) = system_python() else { return };
    let root = temp_root();
    chmod(root.path(), 0o755);
    let tmp = root.path().join("tmp");
    fs::create_dir(&tmp).expect("mkdir");
    chmod(&tmp, 0o1777);
    let sock = tmp.join("gsup.sock");
    run_abuse(py, &["stale", sock.to_str().expect("utf8")]);
    assert_eq!(mode_owner(&sock).1, 65534);
    let log = refused(root.path(), &sock);
    let held = format!(
        "{} is a socket of uid 65534, not of gsup's uid 0",
        sock.display()
    );
    assert!(log.contains(&held), "{log}");
    assert_eq!(mode_owner(&sock).1, 65534, "still nobody's");

    fs::remove_file(&sock).expect("rm");
    let record = tmp.join("record");
    let _squatter = Abuser::start(
        py,
        &[
            "squat",
            sock.to_str().expect("utf8"),
            "{}",
            record.to_str().expect("utf8"),
        ],
    );
    let log = refused(root.path(), &sock);
    assert!(log.contains(&held), "{log}");
}

/// A squatter (another user bound the path first) answers in the daemon's
/// name: every client command refuses it, exit 1, one line naming the socket
/// and the uid, and sends it nothing. As root and as another user alike.
#[test]
fn the_client_refuses_a_squatter() {
    let Some(py) = system_python() else { return };
    let root = temp_root();
    chmod(root.path(), 0o755);
    let tmp = root.path().join("tmp");
    fs::create_dir(&tmp).expect("mkdir");
    chmod(&tmp, 0o1777);
    let sock = tmp.join("gsup-1.sock");
    let record = tmp.join("record");
    let fake = serde_json::to_string(&Response::ok(vec![JobStatus::new(
        "web",
        "",
        Goal::Start,
        State::Running,
        Some(31337),
    )]))
    .expect("json");
    let _squatter = Abuser::start(
        py,
        &[
            "squat",
            sock.to_str().expect("utf8"),
            &fake,
            record.to_str().expect("utf8"),
        ],
    );
    for uid in [None, Some(1)] {
        let own = uid.unwrap_or(0);
        for args in [
            &["status", "web"][..],
            &["status", "-v", "web"],
            &["stop", "web"],
            &["list"],
            &["log", "web"],
        ] {
            let (code, out, err) = client(uid, &sock, args);
            assert_eq!(
                (code, out.as_str()),
                (1, ""),
                "{uid:?} {args:?}: {out}{err}"
            );
            assert_eq!(
                err,
                format!(
                    "gsup: refusing the daemon at {}: it runs as uid 65534, not as root or as you (uid {own}); another user may have taken the socket's path\n",
                    sock.display()
                ),
                "{uid:?} {args:?}"
            );
        }
    }
    let sent = fs::read(&record).unwrap_or_default();
    assert!(sent.is_empty(), "sent {:?}", String::from_utf8_lossy(&sent));
}

/// A status page in a runtime dir another user owns (squatted before the
/// daemon came) is not believed, nor one with a second name (hard link),
/// even when the page itself is root's and locked by a live writer.
#[test]
fn a_page_in_a_squatted_runtime_dir_is_not_believed() {
    use gsup::control::page::{PageWriter, path_for, runtime_dir};
    let root = temp_root();
    chmod(root.path(), 0o755);
    let sock = root.path().join("gsup.sock");
    let dir = runtime_dir(&sock);
    fs::create_dir(&dir).expect("mkdir");
    chmod(&dir, 0o755);
    let mut page = PageWriter::create(&path_for(&sock), &["web"]).expect("page");
    let slot = page.slot("web").expect("slot");
    page.set(slot, "web start/running, process 31337\n", true)
        .expect("set");
    // The page as the daemon keeps it: believed (so the test can fail).
    let believed = (0, "web start/running, process 31337\n".to_string());
    let (code, out, _) = client(None, &sock, &["status", "web"]);
    assert_eq!((code, out), believed.clone());

    std::os::unix::fs::chown(&dir, Some(65534), Some(65534)).expect("chown");
    let (code, out, err) = client(None, &sock, &["status", "web"]);
    assert_eq!((code, out.as_str()), (1, ""), "{err}");
    assert!(
        err.starts_with("gsup: cannot reach the daemon at "),
        "{err}"
    );

    std::os::unix::fs::chown(&dir, Some(0), Some(0)).expect("chown");
    assert_eq!(client(None, &sock, &["status", "web"]).0, 0);
    fs::hard_link(path_for(&sock), root.path().join("second")).expect("link");
    let (code, out, _) = client(None, &sock, &["status", "web"]);
    assert_eq!((code, out.as_str()), (1, ""));
}

/// The race of the issue, bounded: `nobody` swaps a symlink to a root-only
/// file in and out at the socket path while daemons start, in a folder it
/// may write to (refused every time) and in a sticky one (the daemon comes
/// up with its own socket, or refuses the link it found). The file keeps
/// its mode throughout.
#[test]
fn racing_a_symlink_against_daemon_starts_chmods_nothing() {
    let Some(py) = system_python() else { return };
    let root = temp_root();
    chmod(root.path(), 0o755);
    let secret = secret(root.path());
    for (name, mode) in [("open", 0o777), ("sticky", 0o1777)] {
        let dir = root.path().join(name);
        fs::create_dir(&dir).expect("mkdir");
        chmod(&dir, mode);
        let sock = dir.join("gsup.sock");
        let racer = Abuser::start(
            py,
            &[
                "race",
                sock.to_str().expect("utf8"),
                secret.to_str().expect("utf8"),
                "30",
            ],
        );
        let (mut up, mut refusals) = (0, 0);
        for _ in 0..40 {
            // The killed daemon's socket may still be there (and a new one
            // may get its inode number): up is what the new daemon says.
            let mut a = Attempt::start(root.path(), &sock);
            let said = a.stderr.clone();
            let ready = || fs::read_to_string(&said).is_ok_and(|l| l.contains(" ready socket="));
            match a.exit_or(Duration::from_secs(10), ready) {
                Some(code) => {
                    assert_eq!(code, 1, "{}", a.log());
                    refusals += 1;
                }
                None => {
                    assert_ne!(mode, 0o777, "must refuse an open folder");
                    assert_eq!(mode_owner(&sock), (0o666, 0));
                    up += 1;
                }
            }
            drop(a);
            assert_untouched(&secret);
            // A socket left by the killed daemon is root's: the next one replaces it.
        }
        drop(racer);
        eprintln!("{name}: {up} daemons came up, {refusals} refused");
    }
}

/// gsup as a user: `nobody`'s daemon, its socket in a folder of its own,
/// serves `nobody` (start, status from the page, shutdown); root's client
/// refuses it, as it would any daemon not root's or its own.
#[test]
fn a_users_daemon_serves_that_user() {
    let root = temp_root();
    chmod(root.path(), 0o755);
    let home = root.path().join("home");
    fs::create_dir(&home).expect("mkdir");
    std::os::unix::fs::chown(&home, Some(65534), Some(65534)).expect("chown");
    chmod(&home, 0o700);
    common::write_units(
        &root.path().join("services.d"),
        &[("web", "exec: [/bin/sleep, \"1000\"]\n")],
    );
    let sock = home.join("gsup.sock");
    let mut a = Attempt::start_as(root.path(), &sock, Some(65534), &home.join("log"));
    let nobody = |args: &[&str]| client(Some(65534), &sock, args);
    let up = a.exit_or(Duration::from_secs(10), || nobody(&["list"]).0 == 0);
    assert_eq!(up, None, "{}", a.log());
    assert_eq!(mode_owner(&sock), (0o666, 65534));
    let (code, out, err) = nobody(&["start", "web"]);
    assert_eq!(code, 0, "{out}{err}");
    let line = out;
    assert_eq!(nobody(&["status", "web"]), (0, line, String::new()));
    let (code, out, err) = client(None, &sock, &["status", "web"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert!(
        err.contains("it runs as uid 65534, not as root or as you (uid 0)"),
        "{err}"
    );
    assert_eq!(nobody(&["shutdown"]).0, 0);
    assert_eq!(
        a.exit_within(Duration::from_secs(10)),
        Some(0),
        "{}",
        a.log()
    );
}
