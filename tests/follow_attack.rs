//! SPEC 4 attack corpus through the real daemon: pidfiles naming PID 1, the
//! daemon, another job's process, a foreign sleep, garbage, a symlink; each refused.

mod common;

use common::{Daemon, alive, python, status_pid, wait_until};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn status(d: &Daemon, job: &str) -> (String, Option<i32>) {
    let (_, out, _) = d.run(&["status", job]);
    let first = out.lines().next().unwrap_or("").to_string();
    let pid = status_pid(&first);
    (first, pid)
}

/// A `sleep` inside the daemon's namespace that gsup did not start.
fn foreign_sleep(d: &Daemon) -> (Child, i32) {
    let init = d.ns_init_host_pid();
    let child = Command::new("nsenter")
        .args(["--target", &init.to_string(), "--pid", "--mount", "--"])
        .args(["sleep", "1000"])
        .stdin(Stdio::null())
        .spawn()
        .expect("nsenter");
    let mut ns = 0;
    wait_until(T, "foreign sleep in the namespace", || {
        ns = common::children_of(child.id() as i32)
            .into_iter()
            .find_map(|h| common::nspid_chain(h).last().copied())
            .unwrap_or(0);
        ns != 0
    });
    (child, ns)
}

#[test]
fn attack_pidfiles_refused() {
    let victim = "exec: [sleep, \"1000\"]\n";
    let mut d = Daemon::start(&[("victim", victim)], &[]);
    let (code, _, err) = d.run(&["start", "victim"]);
    assert_eq!(code, 0, "{err}");
    let victim_pid = status(&d, "victim").1.expect("victim pid");
    let (mut sleeper, sleep_pid) = foreign_sleep(&d);
    let dir = tempfile::tempdir().expect("tmp");
    let liar = format!(
        "{}/tests/fixtures/pidfile_liar.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let cases: Vec<(&str, String, String, Option<i32>)> = vec![
        ("init", "pid 1".into(), "it names PID 1".into(), Some(1)),
        (
            "daemon",
            "parent".into(),
            "it names the gsup daemon".into(),
            Some(2),
        ),
        (
            "other",
            format!("pid {victim_pid}"),
            "the process belongs to another job".into(),
            Some(victim_pid),
        ),
        (
            "foreign",
            format!("pid {sleep_pid}"),
            "the process started before the job".into(),
            Some(sleep_pid),
        ),
        (
            "garbage",
            "garbage".into(),
            "content is not a decimal process id".into(),
            None,
        ),
        (
            "shadow",
            "symlink /etc/shadow".into(),
            "the pidfile is a symlink".into(),
            None,
        ),
    ];
    let mut units = Vec::new();
    for (name, mode, _, _) in &cases {
        let pf = dir.path().join(format!("{name}.pid"));
        let args: Vec<String> = mode.split(' ').map(|w| format!("\"{w}\"")).collect();
        units.push((
            format!("liar-{name}"),
            format!(
                "exec: [{}, {liar}, {}, {}]\npidfile: {}\npidfile_grace: 1s\nkill_timeout: 1s\n",
                python(),
                pf.display(),
                args.join(", "),
                pf.display()
            ),
        ));
    }
    let refs: Vec<(&str, &str)> = units
        .iter()
        .map(|(a, b)| (a.as_str(), b.as_str()))
        .collect();
    common::write_units(&d.config, &refs);
    let (code, _, err) = d.run(&["reload-config"]);
    assert_eq!(code, 0, "{err}");
    for (name, _, reason, named) in &cases {
        let job = format!("liar-{name}");
        let (code, _, err) = d.run(&["start", &job]);
        assert_eq!(code, 0, "{job}: {err}");
        let pf = dir.path().join(format!("{name}.pid"));
        let want = format!("{job}: pidfile {} refused", pf.display());
        let found = poll(T, || {
            d.stderr()
                .lines()
                .any(|l| l.contains(&want) && l.contains(reason.as_str()))
        });
        assert!(
            found,
            "{job}: no line {want:?} ... {reason:?} in:\n{}",
            d.stderr()
        );
        // The grace passes with no live main: the job ends (respawn: false).
        wait_until(T, &format!("{job} ends"), || {
            status(&d, &job).0.contains("stop/waiting")
        });
        if let Some(ns) = named {
            let host = if *ns == 1 {
                Some(d.ns_init_host_pid())
            } else {
                d.host_pid(*ns)
            };
            let host = host.unwrap_or_else(|| panic!("{job}: pid {ns} is gone"));
            assert!(alive(host), "{job}: pid {ns} not alive");
        }
        d.assert_no_zombies();
    }
    let err = d.stderr();
    assert!(!err.contains("replaced by"), "{err}");
    let (line, pid) = status(&d, "victim");
    assert!(line.contains("start/running"), "{line}");
    assert_eq!(pid, Some(victim_pid));
    d.kill(sleep_pid, libc::SIGKILL);
    let _ = sleeper.wait();
    wait_until(T, "foreign sleep gone", || d.host_pid(sleep_pid).is_none());
    d.assert_no_zombies();
    assert_eq!(d.wait_exit_after_shutdown(), 0);
}

/// Polls `cond` every 5 ms until it holds (true) or `timeout` passes (false).
fn poll(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = std::time::Instant::now() + timeout;
    while std::time::Instant::now() < end {
        if cond() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    cond()
}

trait Shut {
    fn wait_exit_after_shutdown(&mut self) -> i32;
}

impl Shut for Daemon {
    fn wait_exit_after_shutdown(&mut self) -> i32 {
        let _ = self.run(&["shutdown"]);
        self.wait_exit(Duration::from_secs(30))
    }
}

/// `pidfile_grace`: the main exits and the pidfile names nobody: the job
/// stays start/running showing the last main pid for the grace, then ends.
#[test]
fn grace_keeps_running_then_ends() {
    let dir = tempfile::tempdir().expect("tmp");
    let pf = dir.path().join("e.pid");
    let liar = format!(
        "{}/tests/fixtures/pidfile_liar.py",
        env!("CARGO_MANIFEST_DIR")
    );
    let unit = format!(
        "exec: [{}, {liar}, {}, empty, --exit]\npidfile: {}\npidfile_grace: 2s\n",
        python(),
        pf.display(),
        pf.display()
    );
    let mut d = Daemon::start(&[("e", &unit)], &[]);
    let (code, _, err) = d.run(&["start", "e"]);
    assert_eq!(code, 0, "{err}");
    let first = status(&d, "e").1.expect("pid");
    let found = poll(T, || {
        d.stderr()
            .contains("no live main process named by the pidfile")
    });
    assert!(found, "{}", d.stderr());
    let t0 = std::time::Instant::now();
    let mut samples = 0;
    let ended = poll(T, || {
        let (line, pid) = status(&d, "e");
        if line.contains("stop/waiting") {
            return true;
        }
        samples += 1;
        assert!(line.contains("start/running"), "{line}");
        assert_eq!(pid, Some(first), "{line}");
        false
    });
    let took = t0.elapsed();
    assert!(ended, "{}", d.stderr());
    assert!(
        took >= Duration::from_millis(1500) && took < Duration::from_secs(4),
        "ended after {took:?}"
    );
    assert!(samples > 10, "{samples}");
    let (_, out, _) = d.run(&["status", "--json", "e"]);
    assert!(out.contains("\"last_exit\":\"exit 0\""), "{out}");
    d.assert_no_zombies();
    assert_eq!(d.wait_exit_after_shutdown(), 0);
}
