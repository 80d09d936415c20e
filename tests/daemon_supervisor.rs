//! Supervisor logic against a fake `Sys` that records effects, with an injected
//! clock: requests, waiting, respawn, reaping, timers, shutdown waves.

use gsup::control::Call;
use gsup::control::proto::{Peer, Request, Response};
use gsup::job::{Exit, Goal, State};
use gsup::loader::LoadedJob;
use gsup::spawn::{SpawnError, SpawnSpec, Stdio};
use gsup::supervisor::core::Supervisor;
use gsup::sys::{KillTarget, Sys};
use gsup::unit::{Command, JobType, Ready, Signal, Unit};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::rc::Rc;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// The fake kernel: processes are entries `pid -> pgid`; tests make them exit.
#[derive(Default)]
struct Kernel {
    next_pid: i32,
    alive: BTreeMap<i32, i32>,
    spawned: Vec<SpawnSpec>,
    signals: Vec<(KillTarget, i32)>,
    exited: Vec<(i32, Exit)>,
    fail_exec: bool,
}

#[derive(Clone, Default)]
struct Fake(Rc<RefCell<Kernel>>);

impl Sys for Fake {
    fn spawn(&mut self, spec: &SpawnSpec) -> Result<i32, SpawnError> {
        let mut k = self.0.borrow_mut();
        if k.fail_exec {
            return Err(SpawnError::new("exec", libc::ENOENT));
        }
        k.next_pid += 1;
        let pid = 1000 + k.next_pid;
        k.alive.insert(pid, pid);
        k.spawned.push(spec.clone());
        Ok(pid)
    }

    fn signal(&mut self, target: KillTarget, sig: Signal) -> Result<(), i32> {
        let mut k = self.0.borrow_mut();
        if sig.0 != 0 {
            k.signals.push((target, sig.0));
        }
        let hit: Vec<i32> = k
            .alive
            .iter()
            .filter(|(p, g)| match target {
                KillTarget::Group(pg) => **g == pg,
                KillTarget::Pid(x) => **p == x,
            })
            .map(|(p, _)| *p)
            .collect();
        if hit.is_empty() {
            return Err(libc::ESRCH);
        }
        Ok(())
    }

    fn reap(&mut self) -> Vec<(i32, Exit)> {
        std::mem::take(&mut self.0.borrow_mut().exited)
    }
}

impl Fake {
    /// Makes `pid` die with `exit` (reaped on the next `reap`).
    fn die(&self, pid: i32, exit: Exit) {
        let mut k = self.0.borrow_mut();
        k.alive.remove(&pid);
        k.exited.push((pid, exit));
    }
    fn spawned_argv(&self) -> Vec<Vec<String>> {
        self.0
            .borrow()
            .spawned
            .iter()
            .map(|s| s.argv.clone())
            .collect()
    }
    fn signals(&self) -> Vec<(KillTarget, i32)> {
        std::mem::take(&mut self.0.borrow_mut().signals)
    }
}

fn unit(exec: &[&str]) -> Unit {
    Unit::new(Command {
        words: exec.iter().map(|s| s.to_string()).collect(),
    })
}

fn sup(jobs: Vec<(&str, Unit)>) -> (Supervisor, Fake) {
    let fake = Fake::default();
    let mut s = Supervisor::new(
        Box::new(fake.clone()),
        PathBuf::from("/logs"),
        PathBuf::from("/run/gsup.d"),
    );
    s.add_jobs(
        jobs.into_iter()
            .map(|(n, u)| LoadedJob::new(n.into(), PathBuf::from(format!("{n}.yaml")), u))
            .collect(),
    );
    (s, fake)
}

fn call(s: &mut Supervisor, request: Request, now: Instant) -> oneshot::Receiver<Response> {
    let (tx, rx) = oneshot::channel();
    s.handle(
        Call {
            request,
            peer: Peer { uid: 0, gid: 0 },
            reply: tx,
        },
        now,
    );
    rx
}

fn reply(rx: &mut oneshot::Receiver<Response>) -> Option<Response> {
    rx.try_recv().ok()
}

fn start(job: &str, env: &[(&str, &str)]) -> Request {
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Request::Start {
        job: job.into(),
        env,
        wait: true,
    }
}

fn stop(job: &str) -> Request {
    Request::Stop {
        job: job.into(),
        env: Vec::new(),
        wait: true,
    }
}

#[test]
fn start_spawns_with_a_clean_env_and_answers_when_running() {
    let mut u = unit(&["/bin/app", "--queue", "$QUEUE"]);
    u.env = vec![("QUEUE".into(), "*".into())];
    let (mut s, fake) = sup(vec![("app", u)]);
    let t0 = Instant::now();
    let mut rx = call(&mut s, start("app", &[("X", "1")]), t0);
    let r = reply(&mut rx).expect("answered at once: spawned counts as ready");
    assert_eq!(r.code, 0);
    assert_eq!(r.statuses.len(), 1);
    assert_eq!(
        (r.statuses[0].goal, r.statuses[0].state, r.statuses[0].pid),
        (Goal::Start, State::Running, Some(1001))
    );
    let k = fake.0.borrow();
    assert_eq!(k.spawned[0].argv, vec!["/bin/app", "--queue", "*"]);
    let env: Vec<(&str, &str)> = k.spawned[0]
        .env
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    assert_eq!(
        env,
        vec![
            (
                "PATH",
                "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
            ),
            ("GSUP_JOB", "app"),
            ("GSUP_INSTANCE", ""),
            ("X", "1"),
            ("QUEUE", "*"),
        ]
    );
    assert_eq!(
        k.spawned[0].stdio,
        Stdio::File(PathBuf::from("/logs/app.log"))
    );
}

#[test]
fn stop_signals_the_group_and_answers_after_the_reap() {
    let (mut s, fake) = sup(vec![("app", unit(&["/bin/app"]))]);
    let t0 = Instant::now();
    call(&mut s, start("app", &[]), t0);
    fake.signals();
    let mut rx = call(&mut s, stop("app"), t0);
    assert!(
        reply(&mut rx).is_none(),
        "stop waits for the process to end"
    );
    assert_eq!(
        fake.signals(),
        vec![(KillTarget::Group(1001), libc::SIGTERM)]
    );
    assert_eq!(s.next_deadline(), Some(t0 + Duration::from_secs(5)));
    fake.die(1001, Exit::Signal(libc::SIGTERM));
    let reaped = s.sys.reap();
    s.on_reaped(reaped, t0 + Duration::from_millis(3));
    let r = reply(&mut rx).expect("answered");
    assert_eq!(r.code, 0);
    assert_eq!(
        (r.statuses[0].goal, r.statuses[0].state, r.statuses[0].pid),
        (Goal::Stop, State::Waiting, None)
    );
    assert_eq!(
        r.statuses[0].last_exit.as_deref(),
        Some("signal TERM (stopped by gsup)")
    );
    assert_eq!(
        s.next_deadline(),
        None,
        "no timer left: an idle daemon never wakes"
    );
}

#[test]
fn kill_timeout_sends_sigkill_when_the_deadline_passes() {
    let (mut s, fake) = sup(vec![("app", unit(&["/bin/app"]))]);
    let t0 = Instant::now();
    call(&mut s, start("app", &[]), t0);
    let _rx = call(&mut s, stop("app"), t0);
    fake.signals();
    s.on_timers(t0 + Duration::from_secs(4));
    assert_eq!(fake.signals(), vec![]);
    s.on_timers(t0 + Duration::from_secs(5));
    assert_eq!(
        fake.signals(),
        vec![(KillTarget::Group(1001), libc::SIGKILL)]
    );
}

#[test]
fn respawn_after_sigkill_has_a_new_pid_and_one_restart() {
    let mut u = unit(&["/bin/app"]);
    u.respawn = true;
    let (mut s, fake) = sup(vec![("app", u)]);
    let t0 = Instant::now();
    call(&mut s, start("app", &[]), t0);
    fake.die(1001, Exit::Signal(libc::SIGKILL));
    let reaped = s.sys.reap();
    s.on_reaped(reaped, t0);
    let st = s.statuses(Some("app"), t0);
    assert_eq!(
        (st[0].state, st[0].pid, st[0].restarts),
        (State::Running, Some(1002), 1)
    );
    assert_eq!(
        st[0].last_exit.as_deref(),
        Some("signal KILL (not sent by gsup)")
    );
    assert_eq!(
        s.next_deadline(),
        None,
        "respawn with delay 0 arms no timer"
    );
}

#[test]
fn crash_loop_ends_failed_with_the_reason_and_status_exit_3() {
    let mut u = unit(&["/bin/false"]);
    u.respawn = true;
    let (mut s, fake) = sup(vec![("crash", u)]);
    let t0 = Instant::now();
    let mut rx = call(&mut s, start("crash", &[]), t0);
    assert_eq!(reply(&mut rx).map(|r| r.code), Some(0));
    for i in 0..11 {
        let pid = 1001 + i;
        fake.die(pid, Exit::Code(1));
        let reaped = s.sys.reap();
        s.on_reaped(reaped, t0 + Duration::from_millis(i as u64));
    }
    let st = s.statuses(Some("crash"), t0);
    assert_eq!(
        (st[0].goal, st[0].state, st[0].restarts),
        (Goal::Stop, State::Failed, 10)
    );
    assert_eq!(st[0].reason.as_deref(), Some("respawn limit (10 in 5s)"));
    let mut rx = call(
        &mut s,
        Request::Status {
            jobs: vec!["crash".into()],
            pairs: vec![],
            brief: false,
        },
        t0,
    );
    assert_eq!(reply(&mut rx).map(|r| r.code), Some(3));
}

#[test]
fn spawn_failure_fails_the_start_with_the_reason() {
    let (mut s, fake) = sup(vec![("nope", unit(&["/no/such"]))]);
    fake.0.borrow_mut().fail_exec = true;
    let mut rx = call(&mut s, start("nope", &[]), Instant::now());
    let r = reply(&mut rx).expect("answered");
    assert_eq!(r.code, 1);
    assert_eq!(r.statuses[0].state, State::Failed);
    assert_eq!(
        r.statuses[0].reason.as_deref(),
        Some("exec: No such file or directory (os error 2)")
    );
}

#[test]
fn bad_expansion_fails_the_job_not_the_daemon() {
    let (mut s, _fake) = sup(vec![("bad", unit(&["/bin/app", "$UNDEFINED"]))]);
    let mut rx = call(&mut s, start("bad", &[]), Instant::now());
    let r = reply(&mut rx).expect("answered");
    assert_eq!((r.code, r.statuses[0].state), (1, State::Failed));
    assert!(
        r.statuses[0]
            .reason
            .as_deref()
            .is_some_and(|m| m.contains("UNDEFINED")),
        "{r:?}"
    );
}

#[test]
fn unknown_job_is_code_4_naming_it() {
    let (mut s, _fake) = sup(vec![("app", unit(&["/bin/app"]))]);
    let t0 = Instant::now();
    for req in [
        start("ghost", &[]),
        stop("ghost"),
        Request::Status {
            jobs: vec!["ghost".into()],
            pairs: vec![],
            brief: false,
        },
    ] {
        let r = reply(&mut call(&mut s, req, t0)).expect("answered");
        assert_eq!(r.code, 4);
        assert_eq!(r.error.as_deref(), Some("ghost: no such job"));
    }
}

#[test]
fn task_start_waits_until_it_finished_and_reports_failure() {
    let mut u = unit(&["/bin/task"]);
    u.job_type = JobType::Task;
    let (mut s, fake) = sup(vec![("t", u)]);
    let t0 = Instant::now();
    let mut rx = call(&mut s, start("t", &[]), t0);
    assert!(reply(&mut rx).is_none(), "a task's start waits for the end");
    fake.die(1001, Exit::Code(0));
    let reaped = s.sys.reap();
    s.on_reaped(reaped, t0);
    let r = reply(&mut rx).expect("answered");
    assert_eq!((r.code, r.statuses[0].state), (0, State::Waiting));

    let mut rx = call(&mut s, start("t", &[]), t0);
    fake.die(1002, Exit::Code(3));
    let reaped = s.sys.reap();
    s.on_reaped(reaped, t0);
    let r = reply(&mut rx).expect("answered");
    assert_eq!((r.code, r.statuses[0].state), (1, State::Failed));
}

#[test]
fn instances_are_apart_and_stop_without_args_stops_all() {
    let mut u = unit(&["/bin/worker", "$QUEUE"]);
    u.instance = Some("$QUEUE".into());
    let (mut s, fake) = sup(vec![("w", u)]);
    let t0 = Instant::now();
    assert_eq!(
        s.statuses(Some("w"), t0).len(),
        1,
        "no instance: one stop/waiting line"
    );
    call(&mut s, start("w", &[("QUEUE", "high")]), t0);
    call(&mut s, start("w", &[("QUEUE", "low")]), t0);
    let st = s.statuses(Some("w"), t0);
    let lines: Vec<(&str, State, Option<i32>)> = st
        .iter()
        .map(|x| (x.instance.as_str(), x.state, x.pid))
        .collect();
    assert_eq!(
        lines,
        vec![
            ("high", State::Running, Some(1001)),
            ("low", State::Running, Some(1002))
        ]
    );
    assert_eq!(fake.spawned_argv()[1], vec!["/bin/worker", "low"]);
    let mut rx = call(
        &mut s,
        Request::Stop {
            job: "w".into(),
            env: vec![("QUEUE".into(), "high".into())],
            wait: true,
        },
        t0,
    );
    fake.die(1001, Exit::Signal(libc::SIGTERM));
    let reaped = s.sys.reap();
    s.on_reaped(reaped, t0);
    assert_eq!(reply(&mut rx).map(|r| r.code), Some(0));
    let st = s.statuses(Some("w"), t0);
    assert_eq!(
        st.iter().map(|x| x.instance.as_str()).collect::<Vec<_>>(),
        vec!["low"]
    );
    let _rx = call(&mut s, stop("w"), t0);
    assert!(
        fake.signals()
            .contains(&(KillTarget::Group(1002), libc::SIGTERM))
    );
}

#[test]
fn list_is_sorted_by_name() {
    let (mut s, _f) = sup(vec![
        ("b", unit(&["/b"])),
        ("a/x", unit(&["/a"])),
        ("c", unit(&["/c"])),
    ]);
    let r = reply(&mut call(
        &mut s,
        Request::List { brief: false },
        Instant::now(),
    ))
    .expect("answered");
    let names: Vec<&str> = r.statuses.iter().map(|x| x.name.as_str()).collect();
    assert_eq!(names, vec!["a/x", "b", "c"]);
}

#[test]
fn shutdown_stops_every_job_then_finishes() {
    let (mut s, fake) = sup(vec![("a", unit(&["/a"])), ("b", unit(&["/b"]))]);
    let t0 = Instant::now();
    call(&mut s, start("a", &[]), t0);
    call(&mut s, start("b", &[]), t0);
    let r = reply(&mut call(&mut s, Request::Shutdown { reboot: false }, t0)).expect("answered");
    assert_eq!(r.code, 0);
    assert!(!s.finished());
    fake.die(1001, Exit::Signal(libc::SIGTERM));
    let reaped = s.sys.reap();
    s.on_reaped(reaped, t0);
    assert!(!s.finished(), "b still runs");
    fake.die(1002, Exit::Signal(libc::SIGTERM));
    let reaped = s.sys.reap();
    s.on_reaped(reaped, t0);
    assert!(s.finished());
}

#[test]
fn reload_signals_the_main_process_only() {
    let (mut s, fake) = sup(vec![("app", unit(&["/a"]))]);
    let t0 = Instant::now();
    let r = reply(&mut call(
        &mut s,
        Request::Reload {
            job: "app".into(),
            env: Vec::new(),
        },
        t0,
    ))
    .expect("answered");
    assert_eq!(r.code, 1, "not running");
    call(&mut s, start("app", &[]), t0);
    fake.signals();
    let r = reply(&mut call(
        &mut s,
        Request::Reload {
            job: "app".into(),
            env: Vec::new(),
        },
        t0,
    ))
    .expect("answered");
    assert_eq!(r.code, 0);
    assert_eq!(fake.signals(), vec![(KillTarget::Pid(1001), libc::SIGHUP)]);
}

#[test]
fn unknown_pids_are_reaped_silently() {
    let (mut s, _f) = sup(vec![("app", unit(&["/a"]))]);
    s.on_reaped(vec![(4242, Exit::Code(0))], Instant::now());
    assert_eq!(s.statuses(None, Instant::now())[0].state, State::Waiting);
}

fn on(u: &mut Unit, start: Option<&str>, stop: Option<&str>) {
    u.start_on = start.map(|s| gsup::expr::parse(s).expect("expr"));
    u.stop_on = stop.map(|s| gsup::expr::parse(s).expect("expr"));
}

fn emit_req(event: &str, env: &[(&str, &str)]) -> Request {
    let env = env
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    Request::Emit {
        event: event.into(),
        env,
        wait: true,
    }
}

#[test]
fn events_start_a_chain_and_runlevel_stops_it() {
    let mut a = unit(&["/a"]);
    on(&mut a, Some("runlevel [2345]"), Some("runlevel [06]"));
    let mut b = unit(&["/b"]);
    on(&mut b, Some("started a"), Some("stopping a"));
    let (mut s, fake) = sup(vec![("a", a), ("b", b)]);
    let t0 = Instant::now();
    let r = reply(&mut call(
        &mut s,
        emit_req("runlevel", &[("RUNLEVEL", "2"), ("PREVLEVEL", "N")]),
        t0,
    ))
    .expect("answered");
    assert_eq!(r.code, 0);
    assert_eq!(
        r.statuses
            .iter()
            .map(|x| x.name.as_str())
            .collect::<Vec<_>>(),
        vec!["a"],
        "emit reports the jobs it started directly"
    );
    assert_eq!(fake.spawned_argv(), vec![vec!["/a"], vec!["/b"]]);
    let env_b = fake.0.borrow().spawned[1].env.clone();
    assert!(
        env_b.contains(&("JOB".to_string(), "a".to_string())),
        "b gets the started event's env: {env_b:?}"
    );
    let mut rx = call(&mut s, emit_req("runlevel", &[("RUNLEVEL", "0")]), t0);
    assert!(reply(&mut rx).is_none(), "emit waits until a has stopped");
    let sigs = fake.signals();
    assert!(
        sigs.contains(&(KillTarget::Group(1001), libc::SIGTERM)),
        "{sigs:?}"
    );
    assert!(
        sigs.contains(&(KillTarget::Group(1002), libc::SIGTERM)),
        "{sigs:?}"
    );
    fake.die(1001, Exit::Signal(libc::SIGTERM));
    fake.die(1002, Exit::Signal(libc::SIGTERM));
    let reaped = s.sys.reap();
    s.on_reaped(reaped, t0);
    let r = reply(&mut rx).expect("answered");
    assert_eq!((r.code, r.statuses[0].state), (0, State::Waiting));
}

#[test]
fn emit_starts_an_instance_from_the_event_env() {
    let mut w = unit(&["/w", "$QUEUE"]);
    w.instance = Some("$QUEUE".into());
    on(&mut w, Some("queue-up"), None);
    let (mut s, fake) = sup(vec![("w", w)]);
    let t0 = Instant::now();
    let r = reply(&mut call(
        &mut s,
        emit_req("queue-up", &[("QUEUE", "mail")]),
        t0,
    ))
    .expect("answered");
    assert_eq!(
        (r.code, r.statuses[0].instance.as_str(), r.statuses[0].state),
        (0, "mail", State::Running)
    );
    assert_eq!(fake.spawned_argv(), vec![vec!["/w", "mail"]]);
}

#[test]
fn exec_readiness_probe_retries_until_exit_0_then_started_fires() {
    let mut u = unit(&["/app"]);
    u.ready = Ready::Exec(Command {
        words: vec!["/probe".into()],
    });
    let mut dep = unit(&["/dep"]);
    on(&mut dep, Some("started app"), None);
    let (mut s, fake) = sup(vec![("app", u), ("dep", dep)]);
    let t0 = Instant::now();
    let mut rx = call(&mut s, start("app", &[]), t0);
    assert!(reply(&mut rx).is_none(), "not ready yet");
    assert_eq!(fake.spawned_argv(), vec![vec!["/app"], vec!["/probe"]]);
    fake.die(1002, Exit::Code(1));
    let reaped = s.sys.reap();
    s.on_reaped(reaped, t0);
    assert_eq!(
        s.next_deadline(),
        Some(t0 + Duration::from_millis(25)),
        "probe retry armed"
    );
    s.on_timers(t0 + Duration::from_millis(25));
    assert_eq!(fake.spawned_argv().len(), 3);
    fake.die(1003, Exit::Code(0));
    let reaped = s.sys.reap();
    s.on_reaped(reaped, t0 + Duration::from_millis(30));
    let r = reply(&mut rx).expect("answered once ready");
    assert_eq!((r.code, r.statuses[0].state), (0, State::Running));
    assert_eq!(
        fake.spawned_argv()[3],
        vec!["/dep"],
        "started app fired only when ready"
    );
    assert_eq!(s.next_deadline(), None);
}

#[test]
fn ready_timeout_fails_the_start() {
    let mut u = unit(&["/app"]);
    u.ready = Ready::Tcp("127.0.0.1:1".into());
    u.ready_timeout = Duration::from_secs(2);
    let (mut s, fake) = sup(vec![("app", u)]);
    let t0 = Instant::now();
    let mut rx = call(&mut s, start("app", &[]), t0);
    s.on_timers(t0 + Duration::from_secs(2));
    assert!(
        fake.signals()
            .contains(&(KillTarget::Group(1001), libc::SIGTERM))
    );
    fake.die(1001, Exit::Signal(libc::SIGTERM));
    let reaped = s.sys.reap();
    s.on_reaped(reaped, t0 + Duration::from_secs(2));
    let r = reply(&mut rx).expect("answered");
    assert_eq!((r.code, r.statuses[0].state), (1, State::Failed));
    assert_eq!(r.statuses[0].reason.as_deref(), Some("not ready within 2s"));
}

#[test]
fn restart_stops_then_starts_with_a_new_pid() {
    let (mut s, fake) = sup(vec![("app", unit(&["/app"]))]);
    let t0 = Instant::now();
    call(&mut s, start("app", &[]), t0);
    let mut rx = call(
        &mut s,
        Request::Restart {
            job: "app".into(),
            env: Vec::new(),
            wait: true,
        },
        t0,
    );
    assert!(reply(&mut rx).is_none());
    fake.die(1001, Exit::Signal(libc::SIGTERM));
    let reaped = s.sys.reap();
    s.on_reaped(reaped, t0);
    let r = reply(&mut rx).expect("answered");
    assert_eq!(
        (r.code, r.statuses[0].state, r.statuses[0].pid),
        (0, State::Running, Some(1002))
    );
}

#[test]
fn reload_config_adds_defers_keeps_and_removes() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        std::fs::write(dir.path().join(format!("{name}.yaml")), text).expect("write")
    };
    write("run", "exec: [/bin/run, one]\n");
    write("idle", "exec: [/bin/idle, one]\n");
    write("bad", "exec: [/bin/bad, one]\n");
    write("gone", "exec: [/bin/gone]\n");
    let fake = Fake::default();
    let mut s = Supervisor::new(
        Box::new(fake.clone()),
        PathBuf::from("/logs"),
        PathBuf::from("/run/gsup.d"),
    );
    s.set_config_dir(dir.path().to_path_buf());
    let (report, _) = gsup::supervisor::load_checked(dir.path());
    assert!(report.diagnostics.is_empty(), "{:?}", report.diagnostics);
    s.add_jobs(report.jobs);
    let t0 = Instant::now();
    call(&mut s, start("run", &[]), t0);

    write("run", "exec: [/bin/run, two]\n");
    write("idle", "exec: [/bin/idle, two]\n");
    write("bad", "exec: [/bin/bad, two]\nbogus_key: 1\n");
    write("new", "exec: [/bin/new]\n");
    std::fs::remove_file(dir.path().join("gone.yaml")).expect("rm");
    let mut rx = call(&mut s, Request::ReloadConfig, t0);
    assert!(reply(&mut rx).is_none(), "the load runs off the loop");
    s.run_loads(t0);
    let r = reply(&mut rx).expect("answered");
    assert_eq!(r.code, 1, "the bad file is reported");
    assert!(
        r.error.as_deref().is_some_and(|e| e.contains("bad.yaml:")),
        "{r:?}"
    );
    let names: Vec<String> = s.jobs.names().cloned().collect();
    assert_eq!(names, vec!["bad", "idle", "new", "run"]);
    assert_eq!(
        s.jobs.def("idle").expect("defined").unit.exec.words,
        vec!["/bin/idle", "two"]
    );
    assert_eq!(
        s.jobs.def("bad").expect("defined").unit.exec.words,
        vec!["/bin/bad", "one"],
        "a bad file never replaces a good definition"
    );
    assert_eq!(
        s.jobs.def("run").expect("defined").unit.exec.words,
        vec!["/bin/run", "one"],
        "running: old definition until it stops"
    );
    assert_eq!(
        s.statuses(Some("run"), t0)[0].state,
        State::Running,
        "a running job is never touched"
    );

    call(&mut s, stop("run"), t0);
    fake.die(1001, Exit::Signal(libc::SIGTERM));
    let reaped = s.sys.reap();
    s.on_reaped(reaped, t0);
    assert_eq!(
        s.jobs.def("run").expect("defined").unit.exec.words,
        vec!["/bin/run", "two"]
    );
    call(&mut s, start("run", &[]), t0);
    assert_eq!(
        fake.spawned_argv().last().expect("spawned"),
        &vec!["/bin/run", "two"]
    );
}

#[test]
fn absurd_durations_never_panic() {
    let mut u = unit(&["/app"]);
    u.kill_timeout = Duration::MAX;
    u.respawn = true;
    u.respawn_delay = Duration::MAX;
    let (mut s, fake) = sup(vec![("app", u)]);
    let t0 = Instant::now();
    call(&mut s, start("app", &[]), t0);
    fake.die(1001, Exit::Code(1));
    let reaped = s.sys.reap();
    s.on_reaped(reaped, t0);
    assert_eq!(
        s.statuses(Some("app"), t0)[0].state,
        State::Starting,
        "waits out a delay that never ends"
    );
    let mut rx = call(&mut s, stop("app"), t0);
    assert_eq!(reply(&mut rx).map(|r| r.code), Some(0));
}

#[test]
fn a_stop_wave_that_never_ends_is_bounded() {
    let (mut s, fake) = sup(vec![("stuck", unit(&["/stuck"]))]);
    let t0 = Instant::now();
    call(&mut s, start("stuck", &[]), t0);
    s.begin_shutdown(false, t0);
    s.on_timers(t0 + Duration::from_secs(5));
    assert!(
        fake.signals()
            .contains(&(KillTarget::Group(1001), libc::SIGKILL))
    );
    assert!(
        !s.finished(),
        "the process never dies (stuck in the kernel)"
    );
    s.on_timers(t0 + Duration::from_secs(14));
    assert!(!s.finished());
    s.on_timers(t0 + Duration::from_secs(15));
    assert!(
        s.finished(),
        "2 x kill_timeout + 5s later the daemon goes on"
    );
}

#[test]
fn shutdown_stops_in_reverse_dependency_order_even_with_stop_on_runlevel() {
    let mut a = unit(&["/a"]);
    on(&mut a, Some("startup"), Some("runlevel [06]"));
    let mut b = unit(&["/b"]);
    on(&mut b, Some("started a"), Some("runlevel [06]"));
    let (mut s, fake) = sup(vec![("a", a), ("b", b)]);
    let t0 = Instant::now();
    s.dispatch(&gsup::expr::Event {
        name: "startup".into(),
        env: Vec::new(),
    });
    s.drain(t0);
    assert_eq!(fake.spawned_argv(), vec![vec!["/a"], vec!["/b"]]);
    fake.signals();
    s.begin_shutdown(false, t0);
    assert_eq!(
        fake.signals(),
        vec![(KillTarget::Group(1002), libc::SIGTERM)],
        "b first, a untouched"
    );
    fake.die(1002, Exit::Signal(libc::SIGTERM));
    let reaped = s.sys.reap();
    s.on_reaped(reaped, t0);
    let sigs = fake.signals();
    assert!(
        sigs.contains(&(KillTarget::Group(1001), libc::SIGTERM)),
        "then a: {sigs:?}"
    );
    fake.die(1001, Exit::Signal(libc::SIGTERM));
    let reaped = s.sys.reap();
    s.on_reaped(reaped, t0);
    assert!(s.finished());
}

#[test]
fn jobs_on_a_dependency_cycle_do_not_load_the_rest_do() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |name: &str, text: &str| {
        std::fs::write(dir.path().join(format!("{name}.yaml")), text).expect("write")
    };
    write("a", "exec: [/a]\nstart_on: started b\n");
    write("b", "exec: [/b]\nstart_on: started a\n");
    write("c", "exec: [/c]\nstart_on: started d\n");
    write("d", "exec: [/d]\n");
    let (report, cycle) = gsup::supervisor::load_checked(dir.path());
    let names: Vec<&str> = report.jobs.iter().map(|j| j.name.as_str()).collect();
    assert_eq!(names, vec!["c", "d"]);
    assert_eq!(cycle, vec!["a", "b"]);
}

/// Issue 14 item 5 against the fake kernel: `reload-config` defers the new
/// definition of a running job (`definition: changed`); `restart` stops it,
/// answers only once it runs again, and the new process is the new unit's.
#[test]
fn restart_applies_a_deferred_definition_once_stopped() {
    let dir = tempfile::tempdir().expect("tempdir");
    let write = |exec: &str| {
        std::fs::write(dir.path().join("app.yaml"), format!("exec: [{exec}]\n")).expect("write")
    };
    write("/bin/old");
    let report = gsup::loader::load_dir(dir.path());
    let fake = Fake::default();
    let mut s = Supervisor::new(
        Box::new(fake.clone()),
        PathBuf::from("/logs"),
        PathBuf::from("/run/gsup.d"),
    );
    s.add_jobs(report.jobs);
    s.set_config_dir(dir.path().to_path_buf());
    let t0 = Instant::now();
    call(&mut s, start("app", &[("X", "1")]), t0);
    write("/bin/new");
    s.request_reload(None);
    s.run_loads(t0);
    let st = &s.statuses(Some("app"), t0)[0];
    assert_eq!(
        (st.pid, st.definition.as_deref()),
        (Some(1001), Some("changed"))
    );

    let restart = Request::Restart {
        job: "app".into(),
        env: Vec::new(),
        wait: true,
    };
    let mut rx = call(&mut s, restart, t0);
    assert!(reply(&mut rx).is_none(), "waits for the old process to end");
    assert_eq!(fake.spawned_argv(), vec![vec!["/bin/old".to_string()]]);
    fake.die(1001, Exit::Signal(libc::SIGTERM));
    let reaped = s.sys.reap();
    s.on_reaped(reaped, t0 + Duration::from_millis(3));
    let r = reply(&mut rx).expect("answered once running again");
    assert_eq!(r.code, 0);
    assert_eq!(
        (
            r.statuses[0].state,
            r.statuses[0].pid,
            r.statuses[0].definition.as_deref()
        ),
        (State::Running, Some(1002), None)
    );
    assert_eq!(
        fake.spawned_argv(),
        vec![vec!["/bin/old".to_string()], vec!["/bin/new".to_string()]]
    );
    // The variables it was started with are kept.
    let k = fake.0.borrow();
    assert!(k.spawned[1].env.contains(&("X".into(), "1".into())));
}
