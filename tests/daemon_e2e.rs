//! End to end: the real daemon in its own PID namespace, the real client, real
//! processes. Named after SPEC sections; asserts pids, states, codes, zombies.

mod common;

use common::{Daemon, alive, status_pid, wait_until};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(10);

fn read_stamps(path: &Path) -> Vec<u128> {
    fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.trim().parse().ok())
        .collect()
}

/// A service that writes a timestamp to DIR/NAME.start when it starts and to
/// DIR/NAME.stop when it gets SIGTERM; it is ready once it wrote the first,
/// which it does after setting its trap (a TERM between the two, as soon as
/// it is ready, would otherwise end it without a stop stamp).
fn stamping(dir: &Path, name: &str, start_on: &str) -> String {
    let d = dir.display();
    format!(
        "start_on: {start_on}\nstop_on: runlevel [06]\nexec: [sh, -c, \"trap 'date +%s%N >> {d}/{name}.stop; exit 0' TERM; date +%s%N >> {d}/{name}.start; while :; do sleep 1; done\"]\nready: {{exec: [test, -s, {d}/{name}.start]}}\n"
    )
}

/// SPEC 2: a chain starts in dependency order and stops in reverse order on
/// shutdown, even though every job also has `stop_on: runlevel [06]`.
#[test]
fn spec2_chain_starts_in_order_and_stops_in_reverse() {
    let out = tempfile::tempdir().expect("tempdir");
    let dir = out.path();
    let a = stamping(dir, "a", "startup");
    let b = stamping(dir, "b", "started a");
    let c = stamping(dir, "c", "started b");
    let d = Daemon::start(&[("a", &a), ("b", &b), ("c", &c)], &[]);
    wait_until(T, "c running", || d.run(&["status", "c"]).0 == 0);
    let pids: Vec<i32> = ["a", "b", "c"]
        .iter()
        .map(|j| status_pid(&d.run(&["status", j]).1).expect("pid"))
        .collect();
    let hosts: Vec<i32> = pids
        .iter()
        .map(|p| d.host_pid(*p).expect("host pid"))
        .collect();
    let starts: Vec<u128> = ["a", "b", "c"]
        .iter()
        .map(|j| read_stamps(&dir.join(format!("{j}.start")))[0])
        .collect();
    assert!(
        starts[0] <= starts[1] && starts[1] <= starts[2],
        "start order {starts:?}"
    );
    assert_eq!(d.shutdown(), 0);
    let stops: Vec<u128> = ["a", "b", "c"]
        .iter()
        .map(|j| read_stamps(&dir.join(format!("{j}.stop")))[0])
        .collect();
    assert!(
        stops[2] <= stops[1] && stops[1] <= stops[0],
        "stop order {stops:?}"
    );
    for h in hosts {
        assert!(!alive(h), "job process {h} outlived the daemon");
    }
}

/// SPEC 1 (respawn): SIGKILL of the main process gives a new pid and restarts=1.
#[test]
fn spec1_respawn_after_sigkill() {
    let d = Daemon::start(&[("svc", "exec: [sleep, \"1000\"]\nrespawn: true\n")], &[]);
    let (code, out, err) = d.run(&["start", "svc"]);
    assert_eq!(code, 0, "{out}{err}");
    let first = status_pid(&out).expect("pid");
    d.kill(first, libc::SIGKILL);
    let mut second = 0;
    wait_until(T, "respawned with a new pid", || {
        let (code, out, _) = d.run(&["status", "svc"]);
        second = status_pid(&out).unwrap_or(first);
        code == 0 && second != first
    });
    let st = d.statuses("svc");
    assert_eq!(st[0]["restarts"], 1);
    assert_eq!(st[0]["last_exit"], "signal KILL (not sent by gsup)");
    assert_eq!(st[0]["state"], "running");
    d.assert_no_zombies();
    assert_eq!(d.job_processes().len(), 1);
    assert_eq!(d.shutdown(), 0);
}

/// SPEC 1 (respawn_limit): a job that exits at once ends `stop/failed`; status exits 3.
#[test]
fn spec1_crash_loop_hits_the_respawn_limit() {
    let d = Daemon::start(&[("crash", "exec: [\"false\"]\nrespawn: true\n")], &[]);
    let _ = d.run(&["start", "crash"]);
    wait_until(T, "crash failed", || {
        d.run(&["status", "crash"]).1.contains("stop/failed")
    });
    let (code, out, _) = d.run(&["status", "crash"]);
    assert_eq!((code, out.trim()), (3, "crash stop/failed"));
    let st = d.statuses("crash");
    assert_eq!(st[0]["restarts"], 10);
    assert_eq!(st[0]["reason"], "respawn limit (10 in 5s)");
    d.assert_no_zombies();
    assert_eq!(d.job_processes(), Vec::<i32>::new());
}

/// SPEC 8: 500 crash-and-respawn cycles leave no zombie and no stray process.
#[test]
fn spec8_five_hundred_crashes_leave_no_zombie() {
    let out = tempfile::tempdir().expect("tempdir");
    let count = out.path().join("runs");
    let unit = format!(
        "exec: [sh, -c, \"echo x >> {c}; [ $(wc -l < {c}) -ge 500 ] && exec sleep 1000; exit 1\"]\nrespawn: true\nrespawn_limit: {{count: 1000, interval: 1s}}\n",
        c = count.display()
    );
    let d = Daemon::start(&[("loop", &unit)], &[]);
    let t0 = Instant::now();
    let _ = d.run(&["start", "loop"]);
    wait_until(Duration::from_secs(30), "500th run keeps running", || {
        d.statuses("loop")
            .first()
            .is_some_and(|s| s["restarts"] == 499 && s["state"] == "running")
    });
    let took = t0.elapsed();
    eprintln!("500 crash cycles took {took:?}");
    d.assert_no_zombies();
    // The last run's `sh` may still be forking `wc` before it execs `sleep`.
    wait_until(T, "only the last run's sleep is left", || {
        d.job_processes().len() == 1
    });
    assert_eq!(d.shutdown(), 0);
}

/// SPEC 1 (exec): a string with `;`, `$(...)` and quotes is never run by a shell.
#[test]
fn spec1_exec_is_not_run_by_a_shell() {
    let out = tempfile::tempdir().expect("tempdir");
    let p = out.path().display();
    let unit = format!(
        "type: task\nexec: \"echo safe; touch {p}/pwned $(touch {p}/pwned2) 'quoted arg'\"\n"
    );
    let d = Daemon::start(&[("echo", &unit)], &[]);
    let (code, _, err) = d.run(&["start", "echo"]);
    assert_eq!(code, 0, "{err}");
    assert!(!out.path().join("pwned").exists());
    assert!(!out.path().join("pwned2").exists());
    let log = fs::read_to_string(d.logs.join("echo.log")).expect("job log");
    let job_lines: Vec<&str> = log.lines().filter(|l| !l.starts_with("gsup: ")).collect();
    assert_eq!(
        job_lines,
        [format!(
            "safe; touch {p}/pwned $(touch {p}/pwned2) quoted arg"
        )],
        "{log}"
    );
}

/// SPEC 2/3: `gsup emit deployed SHA=abc` runs the task with SHA=abc and returns after it.
#[test]
fn spec3_emit_waits_for_the_task_it_started() {
    let out = tempfile::tempdir().expect("tempdir");
    let f = out.path().join("sha");
    let unit = format!(
        "type: task\nstart_on: deployed\nexec: [sh, -c, \"sleep 0.3; echo $SHA-$GSUP_JOB > {}\"]\n",
        f.display()
    );
    let d = Daemon::start(&[("post-deploy", &unit)], &[]);
    let (code, _, err) = d.run(&["emit", "deployed", "SHA=abc"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        fs::read_to_string(&f).expect("task ran before emit returned"),
        "abc-post-deploy\n"
    );
    assert_eq!(
        d.run(&["status", "post-deploy"]).1.trim(),
        "post-deploy stop/waiting"
    );
}

/// SPEC 1 (env): the job's environment is clean.
#[test]
fn spec1_job_environment_is_clean() {
    let out = tempfile::tempdir().expect("tempdir");
    let f = out.path().join("env");
    let unit = format!(
        "type: task\nenv:\n  A: b\nexec: [sh, -c, \"env | sort > {}\"]\n",
        f.display()
    );
    let d = Daemon::start(&[("envy", &unit)], &[]);
    assert_eq!(d.run(&["start", "envy", "K=v"]).0, 0);
    let env = fs::read_to_string(&f).expect("env file");
    let names: Vec<&str> = env
        .lines()
        .filter_map(|l| l.split('=').next())
        .filter(|n| !["PWD", "SHLVL", "_"].contains(n))
        .collect();
    assert_eq!(
        names,
        vec!["A", "GSUP_INSTANCE", "GSUP_JOB", "K", "PATH"],
        "{env}"
    );
}

/// SPEC 1 (instance): two instances of one job run side by side, listed apart.
#[test]
fn spec1_two_instances_listed_apart() {
    let d = Daemon::start(&[("w", "instance: $QUEUE\nexec: [sleep, \"1000\"]\n")], &[]);
    assert_eq!(d.run(&["start", "w", "QUEUE=high"]).0, 0);
    assert_eq!(d.run(&["start", "w", "QUEUE=low"]).0, 0);
    let (code, out, _) = d.run(&["list"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert!(
        lines[0].starts_with("w (high) start/running, process "),
        "{out}"
    );
    assert!(
        lines[1].starts_with("w (low) start/running, process "),
        "{out}"
    );
    assert_ne!(status_pid(lines[0]), status_pid(lines[1]));
    let (code, out, _) = d.run(&["stop", "w", "QUEUE=high"]);
    assert_eq!(code, 0, "{out}");
    assert_eq!(d.run(&["list"]).1.lines().count(), 1);
    assert_eq!(d.shutdown(), 0);
}

/// SPEC 3: start, stop, status codes; stop leaves no process.
#[test]
fn spec3_start_stop_status() {
    let d = Daemon::start(&[("svc", "exec: [sleep, \"1000\"]\n")], &[]);
    assert_eq!(d.run(&["status", "svc"]).0, 3);
    assert_eq!(d.run(&["status", "ghost"]).0, 4);
    let (code, out, _) = d.run(&["start", "svc"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("svc start/running, process "), "{out}");
    let host = d.host_pid(status_pid(&out).expect("pid")).expect("host");
    let (code, out, _) = d.run(&["stop", "svc"]);
    assert_eq!((code, out.trim()), (0, "svc stop/waiting"));
    assert!(!alive(host));
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}

/// SPEC 2/6: shutdown exits 0 and leaves no job process.
#[test]
fn spec6_shutdown_leaves_no_process() {
    let d = Daemon::start(
        &[
            ("a", "start_on: startup\nexec: [sleep, \"1000\"]\n"),
            ("b", "start_on: started a\nexec: [sleep, \"1000\"]\n"),
        ],
        &[],
    );
    wait_until(T, "b running", || d.run(&["status", "b"]).0 == 0);
    let procs = d.job_processes();
    assert_eq!(procs.len(), 2);
    assert_eq!(d.shutdown(), 0);
    for p in procs {
        assert!(!alive(p));
    }
}

/// SPEC 6: a process that left its job's group and session (setsid) is still
/// gone after shutdown: the daemon, as subreaper, kills what is left.
#[test]
fn spec6_shutdown_kills_an_escaped_process() {
    let d = Daemon::start(
        &[(
            "esc",
            "exec: [sh, -c, \"setsid sleep 1000 & exec sleep 1000\"]\n",
        )],
        &[],
    );
    assert_eq!(d.run(&["start", "esc"]).0, 0);
    wait_until(T, "two processes", || d.job_processes().len() == 2);
    let procs = d.job_processes();
    assert_eq!(d.shutdown(), 0);
    for p in procs {
        assert!(!alive(p), "process {p} outlived the daemon");
    }
}

/// SPEC 1/3: the daemon watches its config dir: a new file loads, a bad edit
/// of a running job's file changes nothing, `reload-config` reports the error.
#[test]
fn spec3_config_dir_changes_are_picked_up() {
    let d = Daemon::start(&[("svc", "exec: [sleep, \"1000\"]\n")], &[]);
    assert_eq!(d.run(&["start", "svc"]).0, 0);
    let pid = status_pid(&d.run(&["status", "svc"]).1);
    common::write_units(&d.config, &[("added", "exec: [sleep, \"1000\"]\n")]);
    wait_until(T, "new job loaded", || d.run(&["status", "added"]).0 == 3);
    // A folder made after start is watched too, once its first file loads.
    common::write_units(&d.config, &[("sub/first", "exec: [sleep, \"1000\"]\n")]);
    wait_until(T, "job in a new folder", || {
        d.run(&["status", "sub/first"]).0 == 3
    });
    common::write_units(&d.config, &[("sub/second", "exec: [sleep, \"1000\"]\n")]);
    wait_until(T, "second job there", || {
        d.run(&["status", "sub/second"]).0 == 3
    });
    common::write_units(&d.config, &[("svc", "exec: [sleep, \"1000\"]\nbogus: 1\n")]);
    let (code, _, err) = d.run(&["reload-config"]);
    assert_eq!(code, 1);
    assert!(err.contains("svc.yaml:2:1"), "{err}");
    let (code, out, _) = d.run(&["status", "svc"]);
    assert_eq!(
        (code, status_pid(&out)),
        (0, pid),
        "the running job is untouched"
    );
    assert_eq!(d.shutdown(), 0);
}

/// SPEC 1 (hooks): pre_start, post_start, pre_stop, post_stop run in order
/// around the main process, with the job's environment.
#[test]
fn spec1_hooks_run_in_order() {
    let out = tempfile::tempdir().expect("tempdir");
    let f = out.path().join("order");
    let p = f.display();
    let unit = format!(
        "exec: [sh, -c, \"echo main >> {p}; exec sleep 1000\"]\npre_start: [sh, -c, \"echo pre-start-$GSUP_JOB >> {p}\"]\npost_start: [sh, -c, \"echo post-start >> {p}\"]\npre_stop: [sh, -c, \"echo pre-stop >> {p}\"]\npost_stop: [sh, -c, \"echo post-stop >> {p}\"]\nready: {{exec: [grep, -qx, main, {p}]}}\n"
    );
    let d = Daemon::start(&[("h", &unit)], &[]);
    let (code, out_s, err) = d.run(&["start", "h"]);
    assert_eq!(code, 0, "{out_s}{err}");
    assert_eq!(d.run(&["stop", "h"]).0, 0);
    let lines = fs::read_to_string(&f).expect("order file");
    assert_eq!(
        lines,
        "pre-start-h\nmain\npost-start\npre-stop\npost-stop\n"
    );
    d.assert_no_zombies();
    assert!(d.job_processes().is_empty());
}

/// SPEC 1 (type: task): a failing task makes `start` exit 1 and shows `stop/failed`.
#[test]
fn spec1_failing_task() {
    let d = Daemon::start(&[("t", "type: task\nexec: [sh, -c, \"exit 3\"]\n")], &[]);
    let (code, out, _) = d.run(&["start", "t"]);
    assert_eq!((code, out.trim()), (1, "t stop/failed"));
    let (_, out, _) = d.run(&["status", "--json", "t"]);
    let st: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert_eq!(st["last_exit"], "exit 3");
    assert_eq!(st["reason"], "task ended with exit 3");
}

/// SPEC 8: a job whose program does not exist fails with the reason; the
/// daemon and the other jobs carry on.
#[test]
fn spec8_missing_program_fails_only_its_job() {
    let d = Daemon::start(
        &[
            ("bad", "exec: [/no/such/program]\n"),
            ("good", "exec: [sleep, \"1000\"]\n"),
        ],
        &[],
    );
    let (code, out, _) = d.run(&["start", "bad"]);
    assert_eq!((code, out.trim()), (1, "bad stop/failed"));
    let (_, out, _) = d.run(&["status", "--json", "bad"]);
    let st: serde_json::Value = serde_json::from_str(out.trim()).expect("json");
    assert!(
        st["reason"]
            .as_str()
            .is_some_and(|r| r.contains("No such file or directory")),
        "{st}"
    );
    assert_eq!(d.run(&["start", "good"]).0, 0);
    assert_eq!(d.shutdown(), 0);
}

/// SPEC 6: a signal gsup does not use never ends the daemon; SIGHUP re-reads
/// the config dir; the jobs are untouched. Each is sent twice.
#[test]
fn spec6_stray_signals_never_end_the_daemon() {
    let d = Daemon::start(
        &[("svc", "exec: [sleep, \"1000\"]\nstart_on: startup\n")],
        &[],
    );
    wait_until(T, "svc running", || d.run(&["status", "svc"]).0 == 0);
    let pid = status_pid(&d.run(&["status", "svc"]).1);
    let daemon = d.daemon_host_pid();
    let rt = libc::SIGRTMIN() + 3;
    for sig in [
        libc::SIGHUP,
        libc::SIGUSR2,
        libc::SIGALRM,
        libc::SIGPIPE,
        libc::SIGQUIT,
        libc::SIGTSTP,
        libc::SIGXFSZ,
        rt,
    ] {
        for _ in 0..2 {
            // SAFETY: kill(2) on the daemon of this test's own namespace.
            assert_eq!(unsafe { libc::kill(daemon, sig) }, 0);
        }
        let (code, out, err) = d.run(&["status", "svc"]);
        assert_eq!(
            (code, status_pid(&out)),
            (0, pid),
            "after signal {sig}: {err}"
        );
    }
    wait_until(T, "SIGHUP re-read the config", || {
        d.stderr().contains("SIGHUP: reloading the config dir")
    });
    let stat = std::fs::read_to_string(format!("/proc/{daemon}/stat")).expect("stat");
    let state = stat
        .rsplit(')')
        .next()
        .and_then(|r| r.split_whitespace().next());
    assert_eq!(state, Some("S"), "the daemon is not stopped: {stat}");
    assert_eq!(d.shutdown(), 0);
}
