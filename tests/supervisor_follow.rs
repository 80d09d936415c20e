//! The pidfile follower inside the supervisor, against a fake kernel (process
//! table, pidfiles, pidfds, watches) and an injected clock: Unicorn's USR2
//! hand-over, a new master dying under its parent, nginx's daemonizing
//! launcher, refused pidfiles, `ready: pidfile`. No real process.

mod fake_kernel;

use fake_kernel::{DAEMON, Kernel};
use gsup::control::Call;
use gsup::control::proto::{Peer, Request, Response};
use gsup::job::{Exit, Goal, State};
use gsup::loader::LoadedJob;
use gsup::supervisor::core::Supervisor;
use gsup::sys::{Change, KillTarget, SysEvent, WatchId};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

const PIDFILE: &str = "/run/app/app.pid";

fn sup(units: &[(&str, &str)]) -> (Supervisor, Kernel) {
    let k = Kernel::new();
    let mut s = Supervisor::new(
        Box::new(k.clone()),
        PathBuf::from("/logs"),
        PathBuf::from("/run/gsup.d"),
    );
    let jobs = units
        .iter()
        .map(|(name, text)| {
            let path = PathBuf::from(format!("{name}.yaml"));
            let unit = gsup::unit::parse(&path, text).expect("unit parses");
            LoadedJob::new(name.to_string(), path, unit)
        })
        .collect();
    s.add_jobs(jobs);
    (s, k)
}

fn key(name: &str) -> (String, String) {
    (name.to_string(), String::new())
}

/// (goal, state, pid, restarts) of a job's one instance.
fn status(s: &Supervisor, name: &str) -> (Goal, State, Option<i32>, u32) {
    let st = &s.statuses(Some(name), Instant::now())[0];
    (st.goal, st.state, st.pid, st.restarts)
}

fn call(s: &mut Supervisor, request: Request, now: Instant) -> oneshot::Receiver<Response> {
    let (tx, rx) = oneshot::channel();
    let peer = Peer { uid: 0, gid: 0 };
    s.handle(
        Call {
            request,
            peer,
            reply: tx,
        },
        now,
    );
    rx
}

fn stop(job: &str) -> Request {
    Request::Stop {
        job: job.into(),
        env: vec![],
        wait: true,
    }
}

/// The watcher reports that `job`'s pidfile was written.
fn pidfile_written(s: &mut Supervisor, job: &str, now: Instant) {
    let id = WatchId::Pidfile(job.to_string(), String::new());
    s.on_sys_event(SysEvent::Changed(vec![(id, Change::Written)]), now);
}

/// Reaps what the fake kernel has for the daemon.
fn reap(s: &mut Supervisor, now: Instant) {
    let reaped = s.sys.reap();
    s.on_reaped(reaped, now);
}

fn unit(extra: &str) -> String {
    format!("exec: [/usr/bin/app]\npidfile: {PIDFILE}\npidfile_grace: 2s\n{extra}")
}

#[test]
fn usr2_upgrade_replaces_the_main_without_a_restart_and_stop_takes_both() {
    let (mut s, k) = sup(&[("app", &unit(""))]);
    let t0 = Instant::now();
    s.start_job("app", &[]).expect("start");
    s.drain(t0);
    assert_eq!(
        status(&s, "app"),
        (Goal::Start, State::Running, Some(1001), 0)
    );
    let watched = k.state.borrow().watches.clone();
    assert_eq!(
        watched.get(&WatchId::Pidfile("app".into(), String::new())),
        Some(&vec![PathBuf::from(PIDFILE)])
    );
    assert!(k.has_pidfd(1001));
    k.write_pidfile(Path::new(PIDFILE), 1001);
    pidfile_written(&mut s, "app", t0);
    assert_eq!(status(&s, "app").2, Some(1001));

    // USR2: the new master is a child of the old one, in its session.
    k.add(1002, 1001, 1001, 1001, 0);
    k.write_pidfile(Path::new(PIDFILE), 1002);
    pidfile_written(&mut s, "app", t0);
    assert_eq!(
        status(&s, "app"),
        (Goal::Start, State::Running, Some(1002), 0)
    );
    assert!(k.has_pidfd(1002) && !k.has_pidfd(1001), "the pidfd moved");
    assert_eq!(s.pids.owner(1002).map(|o| o.0.clone()), Some(key("app")));

    // The old master retires; the new one is re-parented to the daemon.
    k.die(1001, Exit::Code(0));
    k.reparent(1002, DAEMON);
    reap(&mut s, t0);
    assert_eq!(
        status(&s, "app"),
        (Goal::Start, State::Running, Some(1002), 0)
    );
    assert!(k.signals().is_empty(), "nothing was signalled");

    drop(call(&mut s, stop("app"), t0));
    let sigs = k.signals();
    assert!(
        sigs.contains(&(KillTarget::Pid(1002), libc::SIGTERM)),
        "{sigs:?}"
    );
    k.die(1002, Exit::Signal(libc::SIGTERM));
    reap(&mut s, t0);
    assert_eq!(status(&s, "app"), (Goal::Stop, State::Waiting, None, 0));
    assert!(!k.has_pidfd(1002), "the run's pidfd is closed");
    assert!(
        k.state.borrow().watches.is_empty(),
        "the run's watch is gone"
    );
}

#[test]
fn a_new_master_dying_under_its_parent_ends_the_job_after_the_grace() {
    let (mut s, k) = sup(&[("app", &unit(""))]);
    let t0 = Instant::now();
    s.start_job("app", &[]).expect("start");
    s.drain(t0);
    k.add(1002, 1001, 1001, 1001, 0);
    k.write_pidfile(Path::new(PIDFILE), 1002);
    pidfile_written(&mut s, "app", t0);
    assert_eq!(status(&s, "app").2, Some(1002));
    // It dies; its parent (the old master) reaps it, not gsup: only the pidfd says so.
    k.die(1002, Exit::Code(1));
    s.on_sys_event(SysEvent::PidExited(1002), t0);
    assert_eq!(
        status(&s, "app"),
        (Goal::Start, State::Running, Some(1002), 0),
        "running, showing the last main, while the grace runs"
    );
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(2)));
    s.on_timers(t0 + Duration::from_secs(2));
    // Its end sweeps what is left of the job's group: the old master.
    let sigs = k.signals();
    assert!(
        sigs.contains(&(KillTarget::Group(1001), libc::SIGKILL)),
        "{sigs:?}"
    );
    k.die(1001, Exit::Signal(libc::SIGKILL));
    reap(&mut s, t0 + Duration::from_secs(2));
    assert_eq!(status(&s, "app").1, State::Waiting);
    assert_eq!(status(&s, "app").3, 0, "no respawn configured");
}

#[test]
fn a_daemonizing_launcher_hands_over_to_its_master() {
    let (mut s, k) = sup(&[("web", &unit(""))]);
    let t0 = Instant::now();
    s.start_job("web", &[]).expect("start");
    s.drain(t0);
    // nginx: the launcher forks the master (new session), writes the
    // pidfile and exits 0; the master is re-parented to the daemon.
    k.add(1003, 1001, 1003, 1003, 0);
    k.write_pidfile(Path::new(PIDFILE), 1003);
    k.die(1001, Exit::Code(0));
    k.reparent(1003, DAEMON);
    reap(&mut s, t0);
    assert_eq!(
        status(&s, "web"),
        (Goal::Start, State::Running, Some(1003), 0)
    );
    // Stop reaches the master outside the first group.
    drop(call(&mut s, stop("web"), t0));
    let sigs = k.signals();
    assert!(
        sigs.contains(&(KillTarget::Pid(1003), libc::SIGTERM)),
        "{sigs:?}"
    );
    k.die(1003, Exit::Signal(libc::SIGTERM));
    reap(&mut s, t0);
    assert_eq!(status(&s, "web").1, State::Waiting);
}

#[test]
fn a_pidfile_naming_pid_1_or_another_job_is_refused_and_never_signalled() {
    let (mut s, k) = sup(&[("app", &unit("")), ("other", "exec: [/usr/bin/other]\n")]);
    let t0 = Instant::now();
    s.start_job("other", &[]).expect("start other");
    s.drain(t0);
    s.start_job("app", &[]).expect("start app");
    s.drain(t0);
    let (other, app) = (status(&s, "other").2, status(&s, "app").2);
    assert_eq!((other, app), (Some(1001), Some(1002)));
    for liar in [1, 1001] {
        k.write_pidfile(Path::new(PIDFILE), liar);
        pidfile_written(&mut s, "app", t0);
        assert_eq!(
            status(&s, "app").2,
            Some(1002),
            "pidfile naming {liar} refused"
        );
        assert!(!k.has_pidfd(liar));
    }
    // A refused pidfile counts as a dead main: after the grace the job ends,
    // and only its own process and group are signalled.
    s.on_timers(t0 + Duration::from_secs(2));
    let sigs = k.signals();
    assert!(!sigs.is_empty());
    for (target, _) in &sigs {
        assert!(
            matches!(target, KillTarget::Group(1002) | KillTarget::Pid(1002)),
            "{sigs:?}"
        );
    }
    assert_eq!(status(&s, "other").1, State::Running);
}

#[test]
fn ready_pidfile_waits_for_the_file_to_name_a_member() {
    let (mut s, k) = sup(&[("app", &unit("ready: pidfile\n"))]);
    let t0 = Instant::now();
    s.start_job("app", &[]).expect("start");
    s.drain(t0);
    assert_eq!(status(&s, "app").1, State::Spawned);
    k.write_pidfile(Path::new(PIDFILE), 1);
    pidfile_written(&mut s, "app", t0);
    assert_eq!(
        status(&s, "app").1,
        State::Spawned,
        "not ready on a refused file"
    );
    k.add(1005, 1001, 1001, 1001, 0);
    k.write_pidfile(Path::new(PIDFILE), 1005);
    pidfile_written(&mut s, "app", t0);
    assert_eq!(
        status(&s, "app"),
        (Goal::Start, State::Running, Some(1005), 0)
    );
}

#[test]
fn reload_signals_a_followed_main_through_its_pidfd() {
    let (mut s, k) = sup(&[("app", &unit("reload_signal: USR2\n"))]);
    let t0 = Instant::now();
    s.start_job("app", &[]).expect("start");
    s.drain(t0);
    let rx = call(
        &mut s,
        Request::Reload {
            job: "app".into(),
            env: vec![],
        },
        t0,
    );
    drop(rx);
    assert_eq!(k.state.borrow().pidfd_signals, vec![(1001, libc::SIGUSR2)]);
    assert!(k.signals().is_empty(), "not by pid");
}
