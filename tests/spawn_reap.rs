//! reap_all, become_subreaper and RealSys::signal on real children. ONE test
//! function: reap_all takes any child of this process, so nothing else may run here.

use gsup::job::Exit;
use gsup::reap::{become_subreaper, reap_all};
use gsup::spawn::{SpawnSpec, Stdio};
use gsup::sys::{KillTarget, RealSys, Sys};
use gsup::unit::Signal;
use std::collections::HashMap;
use std::fs;
use std::time::{Duration, Instant};

fn spec(argv: &[&str], stdio: Stdio) -> SpawnSpec {
    SpawnSpec {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        env: vec![("PATH".into(), "/usr/bin:/bin".into())],
        stdio,
        ..SpawnSpec::default()
    }
}

/// Polls reap_all until every pid in `want` has been seen (5 s deadline).
fn reap_until(sys: &mut RealSys, want: &[i32]) -> HashMap<i32, Exit> {
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut seen = HashMap::new();
    while !want.iter().all(|p| seen.contains_key(p)) {
        for (pid, exit) in sys.reap() {
            seen.insert(pid, exit);
        }
        assert!(
            Instant::now() < deadline,
            "not reaped: {want:?}, saw {seen:?}"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    seen
}

fn no_children_left() -> bool {
    let r = unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) };
    r == -1 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ECHILD)
}

#[test]
fn reaper_signals_and_subreaper() {
    let mut sys = RealSys::default();
    assert!(no_children_left(), "test starts with no children");
    assert_eq!(reap_all(), vec![]);

    // Refused targets never reach kill().
    for t in [
        KillTarget::Pid(1),
        KillTarget::Pid(0),
        KillTarget::Pid(-1),
        KillTarget::Group(1),
        KillTarget::Group(0),
        KillTarget::Group(-5),
    ] {
        assert_eq!(sys.signal(t, Signal::TERM), Err(libc::EINVAL), "{t:?}");
    }

    // SIGKILLed child, exit 3, and a failed spawn (exit 127) are all reaped.
    let sleeper = sys
        .spawn(&spec(&["sleep", "1000"], Stdio::Null))
        .expect("sleep");
    let three = sys
        .spawn(&spec(&["sh", "-c", "exit 3"], Stdio::Null))
        .expect("sh");
    let failed = sys
        .spawn(&spec(&["gsup-no-such-binary"], Stdio::Null))
        .expect_err("missing");
    assert_eq!(failed.stage, "exec");
    let failed_pid = failed.child.expect("the failed child");
    assert_eq!(sys.signal(KillTarget::Pid(sleeper), Signal(0)), Ok(()));
    assert_eq!(sys.signal(KillTarget::Pid(sleeper), Signal::KILL), Ok(()));
    let seen = reap_until(&mut sys, &[sleeper, three, failed_pid]);
    assert_eq!(seen[&sleeper], Exit::Signal(libc::SIGKILL));
    assert_eq!(seen[&three], Exit::Code(3));
    assert_eq!(seen[&failed_pid], Exit::Code(127));
    assert_eq!(seen.len(), 3, "nothing else reaped: {seen:?}");
    assert_eq!(
        sys.signal(KillTarget::Pid(sleeper), Signal(0)),
        Err(libc::ESRCH),
        "gone once reaped"
    );
    assert!(no_children_left(), "no zombie left");

    // A group kill takes the whole job; as subreaper we also reap the orphan.
    become_subreaper().expect("prctl");
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("tree.log");
    let leader = sys
        .spawn(&spec(
            &["sh", "-c", "sleep 1000 & echo $!; wait"],
            Stdio::File(log.clone()),
        ))
        .expect("tree");
    let mut grandchild = 0;
    let deadline = Instant::now() + Duration::from_secs(5);
    while grandchild == 0 {
        grandchild = fs::read_to_string(&log)
            .unwrap_or_default()
            .trim()
            .parse()
            .unwrap_or(0);
        assert!(Instant::now() < deadline, "no grandchild pid in log");
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(sys.signal(KillTarget::Group(leader), Signal::KILL), Ok(()));
    let seen = reap_until(&mut sys, &[leader, grandchild]);
    assert_eq!(seen[&leader], Exit::Signal(libc::SIGKILL));
    assert_eq!(seen[&grandchild], Exit::Signal(libc::SIGKILL));
    assert!(no_children_left(), "no zombie left after the group kill");
}
