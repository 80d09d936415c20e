//! gsup as PID 1 of a PID namespace: shutdown stops the jobs in reverse
//! dependency order, then ends every other process (TERM, a grace, KILL),
//! then exits 0 (in a namespace; on a machine it would power off).

mod common;

use common::{Daemon, all_pids, pid_ns, snapshot, wait_until};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(20);

/// Host pids of the namespace's processes whose command line is `argv`.
fn in_ns(d: &Daemon, argv: &[&str]) -> Vec<i32> {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    let ns = pid_ns(d.ns_init_host_pid());
    all_pids()
        .into_iter()
        .filter(|&p| pid_ns(p) == ns)
        .filter(|p| std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == want))
        .collect()
}

#[test]
fn shutdown_as_pid1_stops_in_reverse_order_then_ends_the_rest() {
    let dir = tempfile::tempdir().expect("tmp");
    let order = dir.path().join("order");
    let unit = |name: &str, after: &str| {
        format!(
            "exec: [sh, -c, \"trap 'echo {name} >> {}; exit 0' TERM; sleep 1000 & wait\"]\n\
             start_on: {after}\nkill_timeout: 3s\n",
            order.display()
        )
    };
    let (a, b, c) = (
        unit("a", "startup"),
        unit("b", "started a"),
        unit("c", "started b"),
    );
    let mut d = Daemon::start_as_init(&[("a", &a), ("b", &b), ("c", &c)], &[]);
    wait_until(T, "the chain runs", || {
        let s = snapshot(&d);
        s.len() == 3 && s.values().all(|v| v.0 == "start/running")
    });
    // A process that is no job's and ignores TERM, entered into the namespace.
    let init = d.ns_init_host_pid().to_string();
    let mut stray = Command::new("nsenter")
        .args(["--target", &init, "--pid", "--mount", "--"])
        .args(["sh", "-c", "trap '' TERM; exec sleep 640001"])
        .stdin(Stdio::null())
        .spawn()
        .expect("nsenter");
    wait_until(T, "the stray runs", || {
        in_ns(&d, &["sleep", "640001"]).len() == 1
    });

    let t = Instant::now();
    let (code, _, err) = d.run(&["shutdown"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(d.wait_exit(Duration::from_secs(40)), 0, "{}", d.stderr());
    let took = t.elapsed();
    let stray_end = stray.wait().expect("nsenter");
    assert_eq!(
        std::fs::read_to_string(&order).unwrap_or_default(),
        "c\nb\na\n",
        "stopped in reverse dependency order"
    );
    // nsenter passes on how its child ended: the stray got SIGKILL.
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(stray_end.signal(), Some(libc::SIGKILL), "{stray_end:?}");
    assert!(
        took >= Duration::from_secs(5),
        "KILL only after the TERM grace ({took:?})"
    );
    let log = d.stderr();
    assert!(log.contains("sending TERM to the processes left"), "{log}");
    assert!(log.contains("sending KILL"), "{log}");
}

/// A daemon that is not PID 1 (and has no `--init`) ends only its own
/// descendants at shutdown: a process beside it in the namespace is left.
#[test]
fn a_daemon_that_is_not_init_leaves_other_processes_alone() {
    let d = Daemon::start_persistent(
        &[("a", "exec: [sleep, '650001']\nstart_on: startup\n")],
        &[],
    );
    let init = d.ns_init_host_pid().to_string();
    let mut other = Command::new("nsenter")
        .args(["--target", &init, "--pid", "--mount", "--"])
        .args(["sleep", "650002"])
        .stdin(Stdio::null())
        .spawn()
        .expect("nsenter");
    wait_until(T, "the other process runs", || {
        in_ns(&d, &["sleep", "650002"]).len() == 1
    });
    assert_eq!(d.run(&["shutdown"]).0, 0);
    // The daemon removes its socket last, after ending what it ends.
    wait_until(T, "the daemon is gone", || !d.socket.exists());
    assert_eq!(
        in_ns(&d, &["sleep", "650001"]),
        Vec::<i32>::new(),
        "its job ended"
    );
    assert_eq!(
        other.try_wait().expect("try_wait"),
        None,
        "the neighbour still runs"
    );
    let _ = other.kill();
    let _ = other.wait();
}

/// `--init` in a PID namespace: PID 1's ending although the daemon is not
/// PID 1; its ancestors (the namespace's init here) are spared.
#[test]
fn init_flag_in_a_namespace_ends_the_neighbours_but_not_the_ancestors() {
    let d = Daemon::start_persistent(
        &[("a", "exec: [sleep, '660001']\nstart_on: startup\n")],
        &["--init"],
    );
    let init = d.ns_init_host_pid();
    let mut other = Command::new("nsenter")
        .args(["--target", &init.to_string(), "--pid", "--mount", "--"])
        .args(["sleep", "660002"])
        .stdin(Stdio::null())
        .spawn()
        .expect("nsenter");
    wait_until(T, "the other process runs", || {
        in_ns(&d, &["sleep", "660002"]).len() == 1
    });
    assert_eq!(d.run(&["shutdown"]).0, 0);
    use std::os::unix::process::ExitStatusExt;
    let end = other.wait().expect("nsenter");
    assert_eq!(end.signal(), Some(libc::SIGTERM), "{end:?}");
    wait_until(T, "the daemon is gone", || !d.socket.exists());
    assert!(common::alive(init), "the namespace's init is spared");
}
