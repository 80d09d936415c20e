//! The integration recipe of docs/pidfiles.md run for real (SPEC section 4): a
//! miniature supervisor loop (watcher, reaper, pidfd, grace timer) follows the
//! Unicorn-like and nginx-like fixtures. Runs as PID 1 of its own PID namespace.

mod common;

use common::{fixture, python};
use gsup::pidfile::{
    Decision, FollowInput, MainHandle, PidfileWatcher, ProcSource, RealProc, Refusal, TreeRecord,
    decide, read_pidfile, verify,
};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::time::Instant;

const INNER: &str = "GSUP_PIDFILE_TEST_IN_NAMESPACE";
const KEY: &str = "job";

fn in_namespace(name: &str) -> bool {
    if std::env::var_os(INNER).is_some() {
        return true;
    }
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(std::env::current_exe().expect("exe"))
        .args(["--exact", name, "--nocapture", "--test-threads=1"])
        .env(INNER, "1")
        .stdin(Stdio::null())
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("1 passed"),
        "inner run of {name} failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    false
}

/// A miniature supervisor for one pidfile job, following docs/pidfiles.md.
struct Mini {
    pidfile: PathBuf,
    grace: Duration,
    tree: TreeRecord<&'static str>,
    watcher: PidfileWatcher<&'static str>,
    procs: RealProc,
    me: i32,
    main: Option<i32>,
    main_alive: bool,
    handle: Option<MainHandle>,
    deadline: Option<Instant>,
    gone: bool,
    /// What happened, in words: `replace`, `wait`, `refused: ...`, `gone`.
    log: Vec<String>,
}

enum Wake {
    Pidfile,
    Child,
    MainExited,
    Grace,
    Tick,
}

impl Mini {
    fn start(argv: &[String], pidfile: &Path, grace: Duration) -> Mini {
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]).stdin(Stdio::null());
        // SAFETY: setsid is async-signal-safe.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let pid = cmd.spawn().expect("spawn").id() as i32;
        let procs = RealProc::default();
        let start = procs.info(pid).expect("info").start_time;
        let mut tree = TreeRecord::new();
        tree.job_started(KEY, pid, start, Some(0));
        let mut watcher = PidfileWatcher::new().expect("watcher");
        watcher.watch(pidfile, KEY).expect("watch");
        Mini {
            pidfile: pidfile.to_path_buf(),
            grace,
            tree,
            watcher,
            procs,
            me: std::process::id() as i32,
            main: Some(pid),
            main_alive: true,
            handle: MainHandle::open(pid).ok(),
            deadline: None,
            gone: false,
            log: Vec::new(),
        }
    }

    /// One reap batch, then orphan attribution (step 2).
    fn reap(&mut self) {
        let reaped = gsup::reap::reap_all();
        let exited: Vec<(i32, &'static str)> = reaped
            .iter()
            .filter_map(|(p, _)| self.tree.owner(*p).map(|k| (*p, *k)))
            .collect();
        let children = self.procs.children(self.me);
        self.tree.attribute_orphans(&exited, &children, &self.procs);
        if let Some(m) = self.main
            && reaped.iter().any(|(p, _)| *p == m)
        {
            self.main_alive = false;
            self.handle = None;
        }
    }

    fn verify(&self, pid: i32) -> Result<(), Refusal> {
        let other = |_: i32| false;
        let job = self.tree.job(&KEY).expect("job");
        verify(pid, &job.view(self.me, &other), &self.procs)
    }

    /// Step 4: reap first; on NotInJob reap once more and verify again.
    fn follow(&mut self, grace_expired: bool) {
        if self.gone {
            return;
        }
        self.reap();
        let read = read_pidfile(&self.pidfile);
        let mut verdict = read.as_ref().ok().map(|p| self.verify(*p));
        if let (Ok(p), Some(Err(Refusal::NotInJob))) = (&read, &verdict) {
            self.reap();
            verdict = Some(self.verify(*p));
        }
        let d = decide(&FollowInput {
            main: self.main,
            main_alive: self.main_alive,
            read,
            verdict,
            grace_expired,
        });
        match d {
            Decision::Keep => {
                if self.main_alive {
                    self.deadline = None;
                }
            }
            Decision::Replace { to, .. } => {
                let start = self.procs.info(to).expect("new main").start_time;
                self.tree.add(&KEY, to, start);
                let other = |_: i32| false;
                let job = self.tree.job(&KEY).expect("job");
                let view = job.view(self.me, &other);
                match MainHandle::open_verified(to, &view, &self.procs) {
                    Ok(h) => {
                        self.log.push("replace".into());
                        self.main = Some(to);
                        self.main_alive = true;
                        self.handle = Some(h);
                        self.deadline = None;
                    }
                    Err(e) => self.log.push(format!("handle failed: {e:?}")),
                }
            }
            Decision::WaitGrace | Decision::Refused { .. } => {
                if let Decision::Refused { reason, .. } = &d {
                    self.log.push(format!("refused: {reason}"));
                    self.main_alive = false;
                    self.handle = None;
                }
                if self.deadline.is_none() {
                    self.log.push("wait".into());
                    self.deadline = Some(Instant::now() + self.grace);
                }
            }
            Decision::Gone => {
                self.log.push("gone".into());
                self.gone = true;
                self.deadline = None;
            }
        }
    }

    /// Runs the loop until `done` holds; fails after 10 s.
    async fn pump(&mut self, what: &str, done: impl Fn(&Mini) -> bool) {
        let end = Instant::now() + Duration::from_secs(10);
        let mut sigchld = signal(SignalKind::child()).expect("SIGCHLD stream");
        while !done(self) {
            assert!(
                Instant::now() < end,
                "timed out: {what}; log {:?}",
                self.log
            );
            let deadline = self.deadline;
            let wake = tokio::select! {
                r = self.watcher.next() => { r.expect("inotify"); Wake::Pidfile }
                _ = sigchld.recv() => Wake::Child,
                _ = async {
                    match &self.handle {
                        Some(h) => h.exited().await,
                        None => std::future::pending().await,
                    }
                } => Wake::MainExited,
                _ = async {
                    match deadline {
                        Some(d) => tokio::time::sleep_until(d).await,
                        None => std::future::pending().await,
                    }
                } => Wake::Grace,
                // Only to re-check `done`; decisions come from the inputs above.
                _ = tokio::time::sleep(Duration::from_millis(20)) => Wake::Tick,
            };
            match wake {
                Wake::Pidfile => self.follow(false),
                Wake::Child => {
                    let was_alive = self.main_alive;
                    self.reap();
                    if was_alive && !self.main_alive {
                        self.follow(false);
                    }
                }
                Wake::MainExited => {
                    self.main_alive = false;
                    self.handle = None;
                    self.follow(false);
                }
                Wake::Grace => self.follow(true),
                Wake::Tick => {}
            }
        }
    }
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn unicorn_upgrade_replaces_main_then_its_death_ends_the_job_after_grace() {
    if !in_namespace("unicorn_upgrade_replaces_main_then_its_death_ends_the_job_after_grace") {
        return;
    }
    rt().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let pidfile = dir.path().join("unicorn.pid");
        let argv = [
            python(),
            fixture("unicorn_like.py"),
            pidfile.display().to_string(),
            "2".into(),
        ];
        let mut m = Mini::start(&argv, &pidfile, Duration::from_millis(300));
        let first = m.main.expect("main");
        m.pump("master ready", |m| {
            read_pidfile(&m.pidfile) == Ok(first)
                && gsup::pidfile::descendants(first, &m.procs).len() == 2
        })
        .await;
        assert!(m.log.is_empty(), "{:?}", m.log);

        m.handle
            .as_ref()
            .expect("handle")
            .signal(libc::SIGUSR2)
            .expect("USR2");
        m.pump("old master gone, new one followed", |m| {
            m.main != Some(first) && m.procs.info(first).is_none()
        })
        .await;
        assert_eq!(m.log, vec!["replace"]);
        let new = m.main.expect("new main");
        assert!(m.main_alive);
        assert_eq!(m.procs.info(new).expect("new").ppid, m.me);

        // The main dies with no successor: the file names a dead process.
        m.handle
            .as_ref()
            .expect("handle")
            .signal(libc::SIGKILL)
            .expect("KILL");
        m.pump("job gone after grace", |m| m.gone).await;
        assert_eq!(m.log, vec!["replace", "wait", "gone"]);
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(-first),
            nix::sys::signal::Signal::SIGKILL,
        );
    });
}

#[test]
fn nginx_launcher_exit_hands_over_to_its_master_without_refusal() {
    if !in_namespace("nginx_launcher_exit_hands_over_to_its_master_without_refusal") {
        return;
    }
    rt().block_on(async {
        let dir = tempfile::tempdir().expect("tempdir");
        let pidfile = dir.path().join("nginx.pid");
        let argv = [
            python(),
            fixture("daemonize.py"),
            pidfile.display().to_string(),
            "nginx".into(),
        ];
        let mut m = Mini::start(&argv, &pidfile, Duration::from_secs(5));
        let launcher = m.main.expect("launcher");
        m.pump("master followed", |m| {
            m.main != Some(launcher) && m.main_alive
        })
        .await;
        assert_eq!(m.log, vec!["replace"]);
        let master = m.main.expect("master");
        assert_eq!(read_pidfile(&pidfile), Ok(master));
        assert_eq!(m.tree.owner(master), Some(&KEY));
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(-master),
            nix::sys::signal::Signal::SIGKILL,
        );
    });
}
