//! Round trip of the seed: its Upstart jobs and Monit file imported, the real commands
//! replaced by stand-ins, run by the real daemon in a PID namespace: the jobs start in
//! the seed's order, the post-deploy task runs on `deployed`, git-proxy follows git-daemons.

mod common;

use common::{Daemon, fixture, gsup_bin, python, status_pid, wait_until};
use serde_json::{Value, json};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);

fn seed() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/import/seed")
}

fn gsup_in(dir: &Path, args: &[&str]) -> i32 {
    Command::new(gsup_bin())
        .current_dir(dir)
        .args(args)
        .status()
        .expect("run gsup")
        .code()
        .unwrap_or(-1)
}

/// The seed imported into `out`: Upstart jobs, then the Monit file.
fn import_seed(out: &Path) {
    let out_s = out.to_str().expect("utf8");
    let mut jobs: Vec<String> = fs::read_dir(seed().join("init/gitorious"))
        .expect("seed")
        .map(|e| {
            format!(
                "init/gitorious/{}",
                e.expect("entry").file_name().to_string_lossy()
            )
        })
        .collect();
    jobs.sort();
    let mut args = vec!["import", "upstart", "--out", out_s];
    args.extend(jobs.iter().map(String::as_str));
    assert_eq!(gsup_in(&seed(), &args), 0);
    let monit = ["import", "monit", "monitrc", "--out", out_s, "--cpus", "8"];
    assert_eq!(gsup_in(&seed(), &monit), 1);
}

/// The imported unit `name` with its commands replaced by `standin.py`
/// (keeping whether it forks into the background, writes a pid file, or is
/// a task), hooks by `/bin/true`, and no user or directory of the real host.
/// `start_on` and `stop_on` are the importer's, untouched. Written as JSON,
/// which the unit parser reads as YAML.
fn stand_in(unit: &str, name: &str, scratch: &Path) -> String {
    let mut v: Value = serde_saphyr::from_str(unit).expect("imported unit is YAML");
    let m = v.as_object_mut().expect("a map");
    let standin = fixture("standin.py");
    let exec = if m.get("type") == Some(&json!("task")) {
        let file = scratch.join(format!("{}.ran", name.replace('/', "_")));
        json!([python(), standin, "--env-to", file, "SHA"])
    } else if m.contains_key("pidfile") {
        let pidfile = scratch.join(format!("pids/{}.pid", name.replace('/', "_")));
        m.insert("pidfile".into(), json!(pidfile));
        let mut argv = json!([python(), standin, "--pidfile", pidfile]);
        if m.get("ready") == Some(&json!("pidfile")) {
            argv.as_array_mut()
                .expect("list")
                .push(json!("--daemonize"));
        }
        argv
    } else {
        json!([python(), standin])
    };
    m.insert("exec".into(), exec);
    for hook in ["pre_start", "post_start", "pre_stop", "post_stop"] {
        if m.contains_key(hook) {
            m.insert(hook.into(), json!(["/bin/true"]));
        }
    }
    for host_only in ["user", "group", "chdir"] {
        m.remove(host_only);
    }
    serde_json::to_string_pretty(&v).expect("json")
}

/// Index of the first daemon log line saying `state` for `job`.
fn first(log: &[&str], state: &str, job: &str) -> usize {
    let needle = format!(" {state} job={job}");
    log.iter()
        .position(|l| l.ends_with(&needle))
        .unwrap_or_else(|| panic!("no `{needle}` in the log:\n{}", log.join("\n")))
}

#[test]
fn import_seed_round_trip_starts_in_the_seed_order() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("imported");
    import_seed(&out);
    // The pid files' dir exists, as on the real host: gsup watches it.
    fs::create_dir_all(tmp.path().join("pids")).expect("mkdir pids");
    let names = [
        "gitorious/unicorn",
        "gitorious/git-daemons",
        "gitorious/git-proxy",
        "gitorious/resque-worker",
        "gitorious/resque-push-worker",
        "gitorious/sphinx",
        "gitorious/git-http",
        "gitorious/post-deploy",
        "poller",
    ];
    let units: Vec<(String, String)> = names
        .iter()
        .map(|n| {
            let text = fs::read_to_string(out.join(format!("{n}.yaml"))).expect("imported");
            (n.to_string(), stand_in(&text, n, tmp.path()))
        })
        .collect();
    let pairs: Vec<(&str, &str)> = units
        .iter()
        .map(|(n, t)| (n.as_str(), t.as_str()))
        .collect();
    let d = Daemon::start(&pairs, &[]);
    let services = names.iter().filter(|n| **n != "gitorious/post-deploy");
    for n in services {
        let start = std::time::Instant::now();
        while d.run(&["status", n]).0 != 0 {
            let (_, line, _) = d.run(&["status", "-v", n]);
            assert!(
                start.elapsed() < T,
                "{n} not running: {line}\n{}",
                d.stderr()
            );
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    let log = d.stderr();
    let log: Vec<&str> = log.lines().collect();
    let unicorn = first(&log, "start/running", "gitorious/unicorn");
    for after_unicorn in [
        "gitorious/git-daemons",
        "gitorious/resque-worker",
        "gitorious/resque-push-worker",
        "gitorious/sphinx",
        "gitorious/git-http",
    ] {
        assert!(
            unicorn < first(&log, "start/spawned", after_unicorn),
            "{after_unicorn} before unicorn"
        );
    }
    assert!(
        first(&log, "start/running", "gitorious/git-daemons")
            < first(&log, "start/spawned", "gitorious/git-proxy"),
        "git-proxy before git-daemons"
    );
    // `expect fork` became a pid file: gsup follows the forked sphinx, not its launcher.
    let sphinx = status_pid(&d.run(&["status", "gitorious/sphinx"]).1).expect("sphinx pid");
    let written =
        fs::read_to_string(tmp.path().join("pids/gitorious_sphinx.pid")).expect("pid file");
    assert_eq!(written.trim().parse::<i32>().ok(), Some(sphinx));
    // The Capistrano side: `initctl emit deployed` becomes `gsup emit deployed`.
    let (code, _, err) = d.run(&["emit", "deployed", "SHA=0a1b2c"]);
    assert_eq!(code, 0, "{err}");
    let ran = fs::read_to_string(tmp.path().join("gitorious_post-deploy.ran")).expect("task ran");
    assert_eq!(ran, "0a1b2c");
    // `stop on stopped gitorious/git-daemons`: the proxy goes with the daemons.
    let (code, _, err) = d.run(&["stop", "gitorious/git-daemons"]);
    assert_eq!(code, 0, "{err}");
    wait_until(T, "git-proxy stopped", || {
        d.run(&["status", "gitorious/git-proxy"])
            .1
            .contains("stop/waiting")
    });
    let (code, _, err) = d.run(&["start", "gitorious/git-daemons"]);
    assert_eq!(code, 0, "{err}");
    wait_until(T, "git-proxy back", || {
        d.run(&["status", "gitorious/git-proxy"]).0 == 0
    });
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}
