//! The launcher against a fake kernel: what a job's process is started with
//! (clean environment, expanded argv, credentials resolved at load, log, hooks,
//! notify socket) and how each failure becomes a job's reason. No real process.

mod fake_kernel;

use fake_kernel::Kernel;
use gsup::job::machine::Process;
use gsup::loader::LoadedJob;
use gsup::spawn::{SpawnSpec, Stdio};
use gsup::supervisor::jobs::JobTable;
use gsup::supervisor::launch::{Launched, Launcher};
use gsup::supervisor::readiness::ProbeCmd;
use std::path::{Path, PathBuf};

struct Setup {
    table: JobTable,
    launcher: Launcher,
    kernel: Kernel,
    _dir: tempfile::TempDir,
}

fn setup(units: &[(&str, &str)]) -> Setup {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut table = JobTable::default();
    for (name, text) in units {
        let path = PathBuf::from(format!("{name}.yaml"));
        let unit = gsup::unit::parse(&path, text).expect("unit parses");
        table.add(LoadedJob::new(name.to_string(), path, unit));
    }
    let launcher = Launcher {
        log_dir: dir.path().join("log"),
        runtime_dir: dir.path().join("run"),
    };
    std::fs::create_dir(&launcher.runtime_dir).expect("runtime dir");
    Setup {
        table,
        launcher,
        kernel: Kernel::new(),
        _dir: dir,
    }
}

impl Setup {
    fn launch(&mut self, job: &str, env: &[(&str, &str)], p: Process) -> Launched {
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let key = self.table.instance_for_start(job, &env).expect("instance");
        let def = self.table.def(job).expect("def");
        let inst = self.table.get(&key).expect("inst");
        self.launcher
            .launch(&mut self.kernel, None, &key, def, inst, p)
    }

    fn last_spec(&self) -> SpawnSpec {
        self.kernel.spawned().last().expect("a spawn").1.clone()
    }
}

fn env_of(spec: &SpawnSpec) -> Vec<String> {
    spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()
}

#[test]
fn main_process_gets_a_clean_env_expanded_argv_and_its_log() {
    let mut s = setup(&[(
        "gitorious/resque-worker",
        "exec: [rake, 'resque:work', 'QUEUE=$QUEUE']\ninstance: $QUEUE\nenv:\n  RAILS_ENV: production\nchdir: /srv\numask: 0o027\nnice: 5\noom_score_adj: 300\n",
    )]);
    let l = s.launch(
        "gitorious/resque-worker",
        &[("QUEUE", "high")],
        Process::Main,
    );
    assert_eq!(l.result, Ok(1001));
    assert!(l.probe.is_none());
    let spec = s.last_spec();
    assert_eq!(spec.argv, vec!["rake", "resque:work", "QUEUE=high"]);
    assert_eq!(
        env_of(&spec),
        vec![
            "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "GSUP_JOB=gitorious/resque-worker",
            "GSUP_INSTANCE=high",
            "QUEUE=high",
            "RAILS_ENV=production",
        ]
    );
    assert_eq!(
        spec.stdio,
        Stdio::File(s.launcher.log_dir.join("gitorious/resque-worker-high.log"))
    );
    assert_eq!(spec.chdir.as_deref(), Some(Path::new("/srv")));
    assert_eq!(
        (spec.umask, spec.nice, spec.oom_score_adj),
        (Some(0o027), Some(5), Some(300))
    );
    assert_eq!(
        spec.creds, None,
        "no user: nothing resolved, nothing dropped"
    );
}

#[test]
fn credentials_resolved_at_load_reach_the_spec() {
    let mut s = setup(&[("web", "exec: [app]\nuser: root\ngroup: '0'\n")]);
    assert!(s.launch("web", &[], Process::Main).result.is_ok());
    let creds = s.last_spec().creds.expect("creds");
    assert_eq!((creds.uid, creds.gid), (Some(0), 0));
}

#[test]
fn an_unknown_user_fails_the_start_with_its_reason_and_spawns_nothing() {
    let mut s = setup(&[("web", "exec: [app]\nuser: gsup-no-such-user\n")]);
    let l = s.launch("web", &[], Process::Main);
    assert_eq!(
        l.result,
        Err("user: no user named 'gsup-no-such-user'".to_string())
    );
    assert!(s.kernel.spawned().is_empty());
    let note = std::fs::read_to_string(s.launcher.log_dir.join("web.log")).expect("note");
    assert_eq!(
        note,
        "gsup: main could not start: user: no user named 'gsup-no-such-user'\n"
    );
}

#[test]
fn an_undefined_variable_or_a_kernel_refusal_is_the_reason() {
    let mut s = setup(&[("web", "exec: [app, $NOPE]\n"), ("db", "exec: [db]\n")]);
    let l = s.launch("web", &[], Process::Main);
    assert!(
        l.result.as_ref().is_err_and(|e| e.contains("NOPE")),
        "{l:?}"
    );
    s.kernel.state.borrow_mut().fail = Some(("exec".into(), libc::ENOENT));
    let l = s.launch("db", &[], Process::Main);
    assert_eq!(
        l.result,
        Err("exec: No such file or directory (os error 2)".into())
    );
}

#[test]
fn hooks_and_console_modes() {
    let mut s = setup(&[
        (
            "h",
            "exec: [main]\npre_start: [before, $GSUP_JOB]\nconsole: none\n",
        ),
        ("i", "exec: [main]\nconsole: inherit\n"),
    ]);
    assert!(s.launch("h", &[], Process::PreStart).result.is_ok());
    let spec = s.last_spec();
    assert_eq!(spec.argv, vec!["before", "h"]);
    assert_eq!(spec.stdio, Stdio::Null);
    let l = s.launch("h", &[], Process::PostStop);
    assert_eq!(l.result, Err("no such command".into()));
    assert!(s.launch("i", &[], Process::Main).result.is_ok());
    assert_eq!(s.last_spec().stdio, Stdio::Inherit);
}

#[test]
fn ready_notify_gets_its_socket_and_a_probe() {
    let mut s = setup(&[("n", "exec: [main]\nready: notify\n")]);
    let l = s.launch("n", &[], Process::Main);
    assert!(l.result.is_ok());
    let Some(ProbeCmd::Notify { key, .. }) = l.probe else {
        panic!("no notify probe: {:?}", l.probe);
    };
    assert_eq!(key, ("n".to_string(), String::new()));
    let sock = s.launcher.runtime_dir.join("notify/n.sock");
    assert!(env_of(&s.last_spec()).contains(&format!("NOTIFY_SOCKET={}", sock.display())));
    assert!(sock.exists());
}

#[test]
fn exec_readiness_probe_is_launched_as_the_job() {
    let mut s = setup(&[("p", "exec: [main]\nready:\n  exec: [check, $GSUP_JOB]\n")]);
    let key = s.table.instance_for_start("p", &[]).expect("instance");
    let def = s.table.def("p").expect("def");
    let inst = s.table.get(&key).expect("inst");
    let r = s
        .launcher
        .launch_probe(&mut s.kernel, None, &key, def, inst)
        .expect("a probe");
    assert_eq!(r, Ok(1001));
    assert_eq!(s.last_spec().argv, vec!["check", "p"]);
}
