//! Editing the unit of a running job, with the real binary against the real daemon
//! in its own PID namespace: `reload-config` keeps the running definition, `status -v`
//! and `list -v` say a new one waits, `restart` applies it (the new process has the
//! new environment), and a removed file leaves the job running until it stops.

mod common;

use common::{Daemon, status_pid, wait_until, write_units};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn unit(color: &str) -> String {
    format!("exec: [/bin/sleep, '1000']\nenv: {{COLOR: {color}}}\n")
}

fn worker(x: &str) -> String {
    format!("instance: $QUEUE\nexec: [/bin/sleep, '1000']\nenv: {{X: '{x}'}}\n")
}

/// The environment of the process the daemon calls `pid`, from /proc/PID/environ.
fn environ(d: &Daemon, pid: i32) -> Vec<String> {
    let host = d.host_pid(pid).expect("the process runs");
    let raw = std::fs::read(format!("/proc/{host}/environ")).expect("environ");
    raw.split(|&b| b == 0)
        .filter(|s| !s.is_empty())
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

fn reload(d: &Daemon) {
    let (code, _, err) = d.run(&["reload-config"]);
    assert_eq!(code, 0, "{err}");
}

#[test]
fn restart_applies_the_edited_definition() {
    let d = Daemon::start(&[("web", &unit("blue"))], &[]);
    let (code, out, err) = d.run(&["start", "web"]);
    assert_eq!(code, 0, "{err}");
    let old = status_pid(&out).expect("pid");
    assert!(environ(&d, old).contains(&"COLOR=blue".to_string()));
    let (_, out, _) = d.run(&["status", "-v", "web"]);
    assert!(!out.contains("definition"), "{out}");

    write_units(&d.config, &[("web", &unit("green"))]);
    reload(&d);
    // The running process keeps its definition; both views say one waits.
    for args in [&["status", "-v", "web"][..], &["list", "-v"]] {
        let (code, out, _) = d.run(args);
        assert_eq!(code, 0);
        assert!(
            out.contains(&format!("process {old}\n"))
                && out.contains(", definition changed (restart to apply)\n"),
            "{args:?}: {out}"
        );
    }
    assert_eq!(d.status_json("web")["definition"], "changed");
    assert!(environ(&d, old).contains(&"COLOR=blue".to_string()));

    let (code, out, err) = d.run(&["restart", "web"]);
    assert_eq!(code, 0, "{err}");
    let new = status_pid(&out).expect("pid");
    assert_eq!(out, format!("web start/running, process {new}\n"));
    assert_ne!(new, old);
    let env = environ(&d, new);
    assert!(env.contains(&"COLOR=green".to_string()), "{env:?}");
    assert!(!env.contains(&"COLOR=blue".to_string()), "{env:?}");
    let (_, out, _) = d.run(&["status", "-v", "web"]);
    assert!(!out.contains("definition"), "{out}");
    assert!(d.status_json("web")["definition"].is_null());
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}

#[test]
fn restart_of_an_instance_applies_the_edit_with_its_variables() {
    let d = Daemon::start(&[("worker", &worker("1"))], &[]);
    let (code, out, err) = d.run(&["start", "worker", "QUEUE=a"]);
    assert_eq!(code, 0, "{err}");
    let old = status_pid(&out).expect("pid");
    write_units(&d.config, &[("worker", &worker("2"))]);
    reload(&d);
    let (_, out, _) = d.run(&["status", "-v", "worker", "QUEUE=a"]);
    assert!(
        out.contains("definition changed (restart to apply)"),
        "{out}"
    );
    let (code, out, err) = d.run(&["restart", "worker", "QUEUE=a"]);
    assert_eq!(code, 0, "{err}");
    let new = status_pid(&out).expect("pid");
    assert_eq!(out, format!("worker (a) start/running, process {new}\n"));
    assert_ne!(new, old);
    let env = environ(&d, new);
    for want in ["X=2", "QUEUE=a", "GSUP_INSTANCE=a"] {
        assert!(env.contains(&want.to_string()), "{want}: {env:?}");
    }
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}

#[test]
fn a_removed_unit_runs_until_stopped() {
    let d = Daemon::start(&[("web", &unit("blue")), ("db", &unit("red"))], &[]);
    let (code, out, _) = d.run(&["start", "web"]);
    assert_eq!(code, 0);
    let pid = status_pid(&out).expect("pid");
    std::fs::remove_file(d.config.join("web.yaml")).expect("rm");
    reload(&d);
    for args in [&["status", "-v", "web"][..], &["list", "-v"]] {
        let (code, out, _) = d.run(args);
        assert_eq!(code, 0);
        assert!(
            out.contains(&format!("web start/running, process {pid}\n"))
                && out.contains(", definition deleted (runs until stopped)\n"),
            "{args:?}: {out}"
        );
    }
    assert_eq!(d.status_json("web")["definition"], "deleted");
    // A restart keeps it running on the definition it has.
    let (code, out, err) = d.run(&["restart", "web"]);
    assert_eq!(code, 0, "{err}");
    let again = status_pid(&out).expect("pid");
    assert!(environ(&d, again).contains(&"COLOR=blue".to_string()));
    let (code, _, err) = d.run(&["stop", "web"]);
    assert_eq!(code, 0, "{err}");
    wait_until(T, "web removed", || d.run(&["status", "web"]).0 == 4);
    let (_, out, _) = d.run(&["list"]);
    assert_eq!(out, "db stop/waiting\n");
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}
