//! Real-process tests of pidfile following (SPEC section 4) with the Unicorn-like and
//! nginx-like fixtures. Each test re-runs itself as PID 1 of a new PID namespace, so
//! every signal stays inside it and every orphan is re-parented to the test, as to gsup.

mod common;

use common::{fixture, python};
use gsup::pidfile::{
    Decision, FollowInput, JobView, PidfileError, Refusal, TreeRecord, decide, read_pidfile, verify,
};
use gsup::procfs::{ProcSource, RealProc};
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const INNER: &str = "GSUP_PIDFILE_TEST_IN_NAMESPACE";

/// Runs test `name` of this binary again, alone, as PID 1 of a new PID
/// namespace; returns true when the caller is that inner run.
fn in_namespace(name: &str) -> bool {
    if std::env::var_os(INNER).is_some() {
        return true;
    }
    let exe = std::env::current_exe().expect("current exe");
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(exe)
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(INNER, "1")
        .stdin(Stdio::null())
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "inner run of {name} failed: {}\n{stdout}\n{stderr}",
        out.status
    );
    false
}

fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// Spawns a process in its own session, as gsup spawns a job.
fn spawn_job(argv: &[&str]) -> Child {
    let prog = if argv[0] == "python3" {
        python()
    } else {
        argv[0].to_string()
    };
    let mut cmd = Command::new(prog);
    cmd.args(&argv[1..]).stdin(Stdio::null());
    // SAFETY: setsid is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            libc::setsid();
            Ok(())
        });
    }
    cmd.spawn().expect("spawn")
}

fn start_time(pid: i32) -> u64 {
    RealProc::default()
        .stat(pid)
        .expect("process info")
        .start_ticks
}

fn my_children() -> Vec<i32> {
    RealProc::default().children(std::process::id() as i32, 2)
}

fn reap(child: &mut Child) {
    wait_until(Duration::from_secs(10), "child exits", || {
        matches!(child.try_wait(), Ok(Some(_)))
    });
}

/// Checks the attack corpus against a job: each pidfile is refused and the
/// follow decision is `Refused`, never `Replace`.
fn attack_corpus(dir: &Path, view: &JobView<'_>, other_job_pid: i32, foreign: i32) {
    let procs = RealProc::default();
    let me = std::process::id() as i32;
    let cases: Vec<(&str, String)> = vec![
        ("init.pid", "1\n".into()),
        ("daemon.pid", format!("{me}\n")),
        ("otherjob.pid", format!("{other_job_pid}\n")),
        ("foreign.pid", format!("{foreign}\n")),
        ("garbage.pid", "hello\n".into()),
    ];
    for (name, content) in &cases {
        std::fs::write(dir.join(name), content).expect("write");
    }
    std::os::unix::fs::symlink("/etc/shadow", dir.join("shadow.pid")).expect("symlink");
    let expect: Vec<(&str, Result<(), Refusal>)> = vec![
        ("init.pid", Err(Refusal::Init)),
        // The test is PID 1 of its namespace, as gsup is when it is init.
        (
            "daemon.pid",
            Err(if me == 1 {
                Refusal::Init
            } else {
                Refusal::Daemon
            }),
        ),
        ("otherjob.pid", Err(Refusal::OtherJob)),
        ("foreign.pid", Err(Refusal::NotInJob)),
    ];
    for (name, want) in expect {
        let pid = read_pidfile(&dir.join(name)).expect("a pid");
        let got = verify(pid, view, &procs);
        assert_eq!(got, want, "{name}");
        let d = decide(&FollowInput {
            main: Some(4242),
            main_alive: true,
            read: Ok(pid),
            verdict: Some(got),
            grace_expired: false,
        });
        assert!(matches!(d, Decision::Refused { .. }), "{name}: {d:?}");
    }
    // A daemon that is not PID 1 is refused by its own rule.
    let as_daemon = JobView {
        daemon_pid: foreign,
        ..*view
    };
    assert_eq!(verify(foreign, &as_daemon, &procs), Err(Refusal::Daemon));
    assert_eq!(
        read_pidfile(&dir.join("garbage.pid")),
        Err(PidfileError::Garbage)
    );
    assert_eq!(
        read_pidfile(&dir.join("shadow.pid")),
        Err(PidfileError::Symlink)
    );
}

#[test]
fn unicorn_usr2_new_master_belongs_and_foreign_is_refused() {
    if !in_namespace("unicorn_usr2_new_master_belongs_and_foreign_is_refused") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("unicorn.pid");
    let script = fixture("unicorn_like.py");
    let mut master = spawn_job(&[
        "python3",
        script.as_str(),
        pidfile.to_str().expect("utf8"),
        "2",
    ]);
    let old = master.id() as i32;
    let mut other_job = spawn_job(&["sleep", "60"]);
    let other_pid = other_job.id() as i32;
    let mut foreign = spawn_job(&["sleep", "60"]);
    let foreign_pid = foreign.id() as i32;
    let procs = RealProc::default();

    let mut tree: TreeRecord<&str> = TreeRecord::new();
    tree.job_started("unicorn", old, start_time(old), Some(0));
    tree.job_started("other", other_pid, start_time(other_pid), Some(0));
    wait_until(Duration::from_secs(10), "pidfile and 2 workers", || {
        read_pidfile(&pidfile) == Ok(old) && descendants_of(old, &procs).len() == 2
    });
    // The foreign sleep is a child nobody spawned for a job (as an orphan
    // from outside re-parented to init): judged once, with no candidate.
    let (adopted, left) = tree.attribute_orphans(&[], &my_children(), &procs);
    assert!(adopted.is_empty());
    assert_eq!(
        left,
        vec![(foreign_pid, gsup::pidfile::Unattributed::NoCandidate)]
    );
    let me = std::process::id() as i32;
    let is_other = |pid: i32| pid == other_pid;

    kill(Pid::from_raw(old), Signal::SIGUSR2).expect("USR2 to the master we spawned");
    let mut new = 0;
    wait_until(
        Duration::from_secs(10),
        "new master writes the pidfile",
        || match read_pidfile(&pidfile) {
            Ok(p) if p != old => {
                new = p;
                true
            }
            _ => false,
        },
    );
    // While the old master lives: the new one descends from it.
    let job = tree.job(&"unicorn").expect("job").clone();
    let view = JobView {
        uid: job.uid,
        start_time: job.start_time,
        pgid: job.pgid,
        known: &job.known,
        cgroup: None,
        daemon_pid: me,
        other_job: &is_other,
    };
    let now = verify(new, &view, &procs);
    assert_eq!(now, Ok(()));
    let info = procs.stat(new).expect("new master");
    assert_eq!((info.ppid, info.sid, info.pgid), (old, old, old));

    // The new master QUITs the old one, which we (as gsup would) reap; the
    // new master is re-parented to us and attributed by its session.
    reap(&mut master);
    let (adopted, left) = tree.attribute_orphans(&[(old, "unicorn")], &my_children(), &procs);
    assert!(adopted.contains(&(new, "unicorn")), "{adopted:?} {left:?}");
    let job = tree.job(&"unicorn").expect("job").clone();
    let view = JobView {
        known: &job.known,
        ..view
    };
    let verdict = verify(new, &view, &procs);
    assert_eq!(verdict, Ok(()));
    assert_eq!(
        decide(&FollowInput {
            main: Some(old),
            main_alive: false,
            read: read_pidfile(&pidfile),
            verdict: Some(verdict),
            grace_expired: false,
        }),
        Decision::Replace {
            from: Some(old),
            to: new
        }
    );
    wait_until(Duration::from_secs(10), "new master's 2 workers", || {
        descendants_of(new, &procs).len() == 2
    });
    // The stop set reaches everyone: kill(-pgid) still works via the old id.
    assert_eq!(procs.stat(new).expect("new").pgid, old);

    attack_corpus(dir.path(), &view, other_pid, foreign_pid);

    kill(Pid::from_raw(-old), Signal::SIGKILL).expect("kill the job's group");
    for c in [&mut other_job, &mut foreign] {
        let _ = c.kill();
        reap(c);
    }
}

#[test]
fn nginx_like_daemon_is_adopted_then_followed_across_usr2() {
    if !in_namespace("nginx_like_daemon_is_adopted_then_followed_across_usr2") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("nginx.pid");
    let script = fixture("daemonize.py");
    let argv = [
        "python3",
        script.as_str(),
        pidfile.to_str().expect("utf8"),
        "nginx",
    ];
    follow_daemonizer(&argv, &pidfile);
}

#[test]
fn double_forking_daemon_is_adopted_then_followed_across_usr2() {
    if !in_namespace("double_forking_daemon_is_adopted_then_followed_across_usr2") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("app.pid");
    let script = fixture("daemonize.py");
    let argv = [
        "python3",
        script.as_str(),
        pidfile.to_str().expect("utf8"),
        "double",
    ];
    follow_daemonizer(&argv, &pidfile);
}

#[test]
fn real_nginx_is_adopted_then_followed_across_usr2() {
    let nginx = Path::new("/usr/sbin/nginx");
    if !nginx.exists() {
        eprintln!("skipped: /usr/sbin/nginx is not installed");
        return;
    }
    if !in_namespace("real_nginx_is_adopted_then_followed_across_usr2") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let pidfile = d.join("nginx.pid");
    std::fs::create_dir(d.join("logs")).expect("mkdir logs");
    // A port from the pid of the outer test run, to keep parallel runs apart.
    let port = 20000 + std::process::id() % 20000 + std::os::unix::process::parent_id() % 1000;
    let conf = format!(
        "daemon on;\npid {pid};\nerror_log {d}/logs/error.log;\nworker_processes 2;\n\
         events {{ worker_connections 64; }}\n\
         http {{ access_log off; client_body_temp_path {d}/cb; proxy_temp_path {d}/pt;\n\
         fastcgi_temp_path {d}/ft; uwsgi_temp_path {d}/ut; scgi_temp_path {d}/st;\n\
         server {{ listen 127.0.0.1:{port}; }} }}\n",
        pid = pidfile.display(),
        d = d.display(),
    );
    std::fs::write(d.join("nginx.conf"), conf).expect("write conf");
    let conf_path = d.join("nginx.conf");
    let prefix = format!("{}/", d.display());
    let argv = [
        "/usr/sbin/nginx",
        "-p",
        prefix.as_str(),
        "-c",
        conf_path.to_str().expect("utf8"),
    ];
    follow_daemonizer(&argv, &pidfile);
}

/// Starts a daemonizing program as a job, checks that its master is refused
/// until the tree record adopts it, then follows it across USR2.
fn follow_daemonizer(argv: &[&str], pidfile: &Path) {
    let mut launcher = spawn_job(argv);
    let lpid = launcher.id() as i32;
    let procs = RealProc::default();
    let mut tree: TreeRecord<&str> = TreeRecord::new();
    tree.job_started("nginx", lpid, start_time(lpid), Some(0));
    let me = std::process::id() as i32;
    let none = |_: i32| false;

    reap(&mut launcher);
    let status = launcher.try_wait().expect("status").expect("exited");
    assert_eq!(status.code(), Some(0));
    let mut master = 0;
    wait_until(
        Duration::from_secs(10),
        "pidfile names the master",
        || match read_pidfile(pidfile) {
            Ok(p) => {
                master = p;
                true
            }
            Err(_) => false,
        },
    );
    // The launcher may exit before its child has called setsid (nginx).
    wait_until(Duration::from_secs(10), "master in its own session", || {
        procs.stat(master).is_some_and(|i| i.sid != lpid)
    });
    let info = procs.stat(master).expect("master");
    assert_eq!(info.ppid, me, "re-parented to the subreaper");

    // Before attribution the master proves nothing: its session is its own.
    let job = tree.job(&"nginx").expect("job").clone();
    let view = JobView {
        uid: job.uid,
        start_time: job.start_time,
        pgid: job.pgid,
        known: &job.known,
        cgroup: None,
        daemon_pid: me,
        other_job: &none,
    };
    assert_eq!(verify(master, &view, &procs), Err(Refusal::NotInJob));
    let (adopted, _) = tree.attribute_orphans(&[(lpid, "nginx")], &my_children(), &procs);
    assert_eq!(adopted, vec![(master, "nginx")]);
    let job = tree.job(&"nginx").expect("job").clone();
    let view = JobView {
        known: &job.known,
        ..view
    };
    assert_eq!(verify(master, &view, &procs), Ok(()));

    // USR2 once the master runs its workers (its signal loop is up): the new
    // master (child of the old, same session) writes the pidfile.
    wait_until(Duration::from_secs(10), "master's 2 workers", || {
        descendants_of(master, &procs).len() == 2
    });
    kill(Pid::from_raw(master), Signal::SIGUSR2).expect("USR2 to the adopted master");
    let mut new = 0;
    wait_until(
        Duration::from_secs(10),
        "new master in the pidfile",
        || match read_pidfile(pidfile) {
            Ok(p) if p != master => {
                new = p;
                true
            }
            _ => false,
        },
    );
    let mut oldbin = pidfile.as_os_str().to_owned();
    oldbin.push(".oldbin");
    assert_eq!(read_pidfile(Path::new(&oldbin)), Ok(master));
    assert_eq!(verify(new, &view, &procs), Ok(()));
    assert_eq!(
        decide(&FollowInput {
            main: Some(master),
            main_alive: true,
            read: Ok(new),
            verdict: Some(Ok(())),
            grace_expired: false,
        }),
        Decision::Replace {
            from: Some(master),
            to: new
        }
    );
    // Stop takes every process, whatever session it moved to: the group the
    // masters share (the namespace ends the rest when this test returns).
    let group = procs.stat(new).expect("new master").pgid;
    assert_eq!(
        group, info.pgid,
        "the new master stays in the old one's group"
    );
    kill(Pid::from_raw(-group), Signal::SIGKILL).expect("kill the job's group");
}

#[test]
fn main_handle_sees_a_grandchild_exit_and_signals_only_it() {
    if !in_namespace("main_handle_sees_a_grandchild_exit_and_signals_only_it") {
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let pidfile = dir.path().join("unicorn.pid");
    let script = fixture("unicorn_like.py");
    let mut master = spawn_job(&[
        "python3",
        script.as_str(),
        pidfile.to_str().expect("utf8"),
        "1",
    ]);
    let mpid = master.id() as i32;
    let procs = RealProc::default();
    let mut worker = 0;
    wait_until(Duration::from_secs(10), "one worker", || {
        read_pidfile(&pidfile) == Ok(mpid)
            && match descendants_of(mpid, &procs).as_slice() {
                [w] => {
                    worker = *w;
                    true
                }
                _ => false,
            }
    });
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let mut tree: TreeRecord<&str> = TreeRecord::new();
        tree.job_started("unicorn", mpid, start_time(mpid), Some(0));
        let job = tree.job(&"unicorn").expect("job").clone();
        let none = |_: i32| false;
        let view = JobView {
            uid: job.uid,
            start_time: job.start_time,
            pgid: job.pgid,
            known: &job.known,
            cgroup: None,
            daemon_pid: std::process::id() as i32,
            other_job: &none,
        };
        // A refused pid gets no pidfd; the worker does.
        assert_eq!(verify(1, &view, &procs), Err(Refusal::Init));
        let h = gsup::sys::pidfd::PidFd::open(worker).expect("worker pidfd");
        assert_eq!(verify(worker, &view, &procs), Ok(()));
        assert_eq!(h.pid(), worker);
        assert!(!h.has_exited());
        h.signal(libc::SIGTERM).expect("signal through pidfd");
        tokio::time::timeout(Duration::from_secs(10), h.exited())
            .await
            .expect("exit seen within 10s")
            .expect("pidfd readable");
        assert!(h.has_exited());
        // The worker's parent reaps it; the handle never reaches another process.
        wait_until(Duration::from_secs(10), "worker reaped", || {
            procs.stat(worker).is_none_or(|p| p.ppid != mpid)
        });
        let err = h.signal(libc::SIGTERM).expect_err("gone");
        assert_eq!(err.raw_os_error(), Some(libc::ESRCH));
    });
    kill(Pid::from_raw(-mpid), Signal::SIGKILL).expect("kill the job's group");
    reap(&mut master);
}

/// Descendants of `pid` (not itself), through the one walk.
fn descendants_of(pid: i32, procs: &RealProc) -> Vec<i32> {
    gsup::procfs::walk(procs, pid)
        .iter()
        .skip(1)
        .map(|p| p.pid)
        .collect()
}
