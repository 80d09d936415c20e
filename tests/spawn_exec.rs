//! spawn::spawn against real processes: argv, PATH, env, stdio, session,
//! signals, limits, credentials, and every failure stage with its errno.
//! Each test waits only for its own pids (waitpid(pid)); never reap_all here.

use gsup::job::Exit;
use gsup::spawn::{SpawnError, SpawnSpec, Stdio, spawn};
use gsup::unit::{Rlimit, RlimitResource, RlimitValue, UserSpec};
use gsup::users::resolve;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

fn spec(argv: &[&str], log: &Path) -> SpawnSpec {
    SpawnSpec {
        argv: argv.iter().map(|s| s.to_string()).collect(),
        env: vec![("PATH".into(), PATH.into())],
        stdio: Stdio::File(log.to_path_buf()),
        ..SpawnSpec::default()
    }
}

/// Waits for this one child (never any other) and decodes its status.
fn wait_pid(pid: i32) -> Exit {
    let mut status = 0;
    let got = unsafe { libc::waitpid(pid, &mut status, 0) };
    assert_eq!(got, pid, "waitpid({pid})");
    gsup::reap::decode(status).expect("exited or signalled")
}

/// Runs `s` to completion; returns its exit and the log text.
fn run(s: &SpawnSpec) -> (Exit, String) {
    let pid = spawn(s).expect("spawn");
    let exit = wait_pid(pid);
    let Stdio::File(log) = &s.stdio else {
        return (exit, String::new());
    };
    (exit, fs::read_to_string(log).unwrap_or_default())
}

/// Spawns `s`, expects it to fail after the clone; returns the error and
/// the pid of the child that `_exit(127)`ed (not yet waited for).
fn fail_after_fork(s: &SpawnSpec) -> (SpawnError, i32) {
    let err = spawn(s).expect_err("must fail after the clone");
    let pid = err.child.expect("a child was made");
    (err, pid)
}

/// Expects `s` to fail before the clone: no child exists.
fn fail_before_fork(s: &SpawnSpec) -> SpawnError {
    let err = spawn(s).expect_err("must fail before the clone");
    assert_eq!(err.child, None, "{err}");
    err
}

fn tmp() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("out.log");
    (dir, log)
}

#[test]
fn list_argv_is_exec_d_through_the_job_path() {
    let (_d, log) = tmp();
    let (exit, out) = run(&spec(&["echo", "a b", "$HOME", "*"], &log));
    assert_eq!(exit, Exit::Code(0));
    assert_eq!(out, "a b $HOME *\n");
}

#[test]
fn words_are_never_run_by_a_shell() {
    let (d, log) = tmp();
    let target = d.path().join("y");
    let t = target.to_str().expect("utf8");
    let (exit, out) = run(&spec(&["echo", "x;", "touch", t], &log));
    assert_eq!(exit, Exit::Code(0));
    assert_eq!(out, format!("x; touch {t}\n"));
    assert!(!target.exists(), "a shell ran the words");
}

#[test]
fn missing_binary_fails_fast_with_enoent() {
    let (_d, log) = tmp();
    let start = Instant::now();
    let (err, pid) = fail_after_fork(&spec(&["gsup-no-such-binary-xyz"], &log));
    assert_eq!(err.stage, "exec");
    assert_eq!(err.errno, libc::ENOENT);
    assert!(start.elapsed() < Duration::from_secs(2));
    assert_eq!(wait_pid(pid), Exit::Code(127));
    assert_eq!(
        err.to_string(),
        "exec: No such file or directory (os error 2)"
    );

    let (err, pid) = fail_after_fork(&spec(&["/nonexistent/bin/x"], &log));
    assert_eq!((err.stage.as_str(), err.errno), ("exec", libc::ENOENT));
    wait_pid(pid);
}

#[test]
fn not_executable_is_eacces_direct_and_through_path() {
    let (d, log) = tmp();
    let file = d.path().join("gsup-noexec-script");
    fs::write(&file, "#!/bin/sh\necho hi\n").expect("write");
    let (err, pid) = fail_after_fork(&spec(&[file.to_str().expect("utf8")], &log));
    assert_eq!((err.stage.as_str(), err.errno), ("exec", libc::EACCES));
    wait_pid(pid);

    let mut s = spec(&["gsup-noexec-script"], &log);
    s.env = vec![(
        "PATH".into(),
        format!("{}:/usr/bin:/bin", d.path().display()),
    )];
    let (err, pid) = fail_after_fork(&s);
    assert_eq!((err.stage.as_str(), err.errno), ("exec", libc::EACCES));
    wait_pid(pid);
}

#[test]
fn path_comes_from_the_job_env_not_the_daemon() {
    let (d, log) = tmp();
    let bin = d.path().join("bin");
    fs::create_dir(&bin).expect("mkdir");
    std::os::unix::fs::symlink("/bin/echo", bin.join("gsup-test-echo")).expect("symlink");
    let mut s = spec(&["gsup-test-echo", "found"], &log);
    s.env = vec![("PATH".into(), format!("/nope:{}", bin.display()))];
    assert_eq!(run(&s), (Exit::Code(0), "found\n".into()));
    s.env = vec![("PATH".into(), "/nope".into())];
    let (err, pid) = fail_after_fork(&s);
    assert_eq!((err.stage.as_str(), err.errno), ("exec", libc::ENOENT));
    wait_pid(pid);
}

#[test]
fn chdir_to_a_missing_dir_fails_at_chdir() {
    let (_d, log) = tmp();
    let mut s = spec(&["true"], &log);
    s.chdir = Some("/nonexistent-gsup-dir".into());
    let (err, pid) = fail_after_fork(&s);
    assert_eq!((err.stage.as_str(), err.errno), ("chdir", libc::ENOENT));
    assert_eq!(wait_pid(pid), Exit::Code(127));

    s.chdir = Some("/usr/share".into());
    s.argv = vec!["pwd".into()];
    assert_eq!(run(&s), (Exit::Code(0), "/usr/share\n".into()));
}

#[test]
fn env_is_exactly_the_given_one() {
    let (_d, log) = tmp();
    let mut s = spec(&["env"], &log);
    s.env = vec![
        ("A".into(), "1".into()),
        ("PATH".into(), "/usr/bin:/bin".into()),
        ("B".into(), "x y=z".into()),
        ("GSUP_INSTANCE".into(), String::new()),
    ];
    let (exit, out) = run(&s);
    assert_eq!(exit, Exit::Code(0));
    assert_eq!(out, "A=1\nPATH=/usr/bin:/bin\nB=x y=z\nGSUP_INSTANCE=\n");
}

#[test]
fn bad_strings_fail_before_fork() {
    let (_d, log) = tmp();
    let err = fail_before_fork(&spec(&[], &log));
    assert_eq!((err.stage.as_str(), err.errno), ("argv", libc::EINVAL));
    let err = fail_before_fork(&spec(&["ec\0ho"], &log));
    assert_eq!((err.stage.as_str(), err.errno), ("argv", libc::EINVAL));
    let mut s = spec(&["true"], &log);
    s.env.push(("A=B".into(), "c".into()));
    let err = fail_before_fork(&s);
    assert_eq!((err.stage.as_str(), err.errno), ("env", libc::EINVAL));
    let s = spec(&["true"], Path::new("/proc/gsup-cannot/x.log"));
    let err = fail_before_fork(&s);
    assert_eq!(err.stage, "log");
}

#[test]
fn user_drop_to_nobody_with_its_groups() {
    if unsafe { libc::geteuid() } != 0 {
        eprintln!("skipped: needs root");
        return;
    }
    let (_d, log) = tmp();
    let mut s = spec(&["sh", "-c", "id -u; id -g; id -G"], &log);
    s.creds = resolve(Some(&UserSpec::Name("nobody".into())), None).expect("nobody");
    s.chdir = Some("/".into());
    let (exit, out) = run(&s);
    assert_eq!(exit, Exit::Code(0));
    let nogroup = nix::unistd::User::from_name("nobody")
        .expect("passwd")
        .expect("nobody")
        .gid
        .as_raw();
    assert_eq!(out, format!("65534\n{nogroup}\n{nogroup}\n"));
    // The drop happened in the child alone (raw syscalls in a CLONE_VM
    // child, not glibc's wrappers, which would broadcast it to this
    // process's threads): this multi-threaded process is still root.
    let status = fs::read_to_string("/proc/self/status").expect("status");
    assert!(status.contains("\nUid:\t0\t0\t0\t0\n"), "{status}");
    let threads = std::thread::spawn(|| unsafe { (libc::geteuid(), libc::getegid()) });
    assert_eq!(threads.join().expect("thread"), (0, 0));

    // numeric user and an explicit group
    fs::remove_file(&log).expect("rm");
    s.creds = resolve(Some(&UserSpec::Id(65534)), Some(&UserSpec::Id(4321))).expect("ids");
    let (_, out) = run(&s);
    assert_eq!(out, "65534\n4321\n4321\n");

    // a dir the user may not enter: chdir happens after the drop
    let (d, _) = tmp();
    let closed = d.path().join("closed");
    fs::create_dir(&closed).expect("mkdir");
    fs::set_permissions(&closed, std::os::unix::fs::PermissionsExt::from_mode(0o700))
        .expect("chmod");
    s.chdir = Some(closed);
    let (err, pid) = fail_after_fork(&s);
    assert_eq!((err.stage.as_str(), err.errno), ("chdir", libc::EACCES));
    wait_pid(pid);
}

#[test]
fn limits_umask_nice_oom_are_applied() {
    let (_d, log) = tmp();
    let mut s = spec(
        &[
            "sh",
            "-c",
            "ulimit -n; ulimit -Hn; ulimit -c; umask; cut -d' ' -f19 /proc/self/stat; cat /proc/self/oom_score_adj",
        ],
        &log,
    );
    s.limits = vec![
        Rlimit {
            resource: RlimitResource::Nofile,
            soft: RlimitValue::Value(256),
            hard: RlimitValue::Value(512),
        },
        Rlimit {
            resource: RlimitResource::Core,
            soft: RlimitValue::Unlimited,
            hard: RlimitValue::Unlimited,
        },
    ];
    s.umask = Some(0o027);
    s.nice = Some(7);
    s.oom_score_adj = Some(500);
    let (exit, out) = run(&s);
    assert_eq!(exit, Exit::Code(0));
    assert_eq!(out, "256\n512\nunlimited\n0027\n7\n500\n");

    s.limits = vec![Rlimit {
        resource: RlimitResource::Nofile,
        soft: RlimitValue::Value(512),
        hard: RlimitValue::Value(256),
    }];
    let (err, pid) = fail_after_fork(&s);
    assert_eq!((err.stage.as_str(), err.errno), ("rlimit", libc::EINVAL));
    wait_pid(pid);
}

#[test]
fn each_job_leads_a_new_session() {
    let (_d, log) = tmp();
    let (exit, out) = {
        let s = spec(&["cat", "/proc/self/stat"], &log);
        let pid = spawn(&s).expect("spawn");
        let exit = wait_pid(pid);
        let out = fs::read_to_string(&log).expect("log");
        let after_comm = &out[out.rfind(')').expect("comm") + 2..];
        let f: Vec<&str> = after_comm.split(' ').collect();
        // state ppid pgrp session
        assert_eq!(f[2], pid.to_string(), "pgid == pid");
        assert_eq!(f[3], pid.to_string(), "sid == pid");
        assert_eq!(f[1], std::process::id().to_string(), "our child");
        (exit, out)
    };
    assert_eq!(exit, Exit::Code(0));
    assert!(out.starts_with(|c: char| c.is_ascii_digit()));
}

#[test]
fn signals_and_fds_of_the_daemon_do_not_reach_the_job() {
    let (_d, log) = tmp();
    // Ignore TERM process-wide and block USR1 in this thread, as a daemon would.
    // (The Rust runtime already ignores SIGPIPE.)
    unsafe {
        libc::signal(libc::SIGTERM, libc::SIG_IGN);
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, libc::SIGUSR1);
        libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut());
    }
    // Signal 32 ignored too: glibc's own sigaction cannot touch it.
    unsafe {
        let ign = [1u64, 0, 0, 0]; // SIG_IGN, no flags, no restorer, empty mask
        libc::syscall(
            libc::SYS_rt_sigaction,
            32,
            ign.as_ptr(),
            std::ptr::null_mut::<u64>(),
            8usize,
        );
    }
    // An fd without close-on-exec must not leak either.
    let leaky = unsafe { libc::open(c"/dev/null".as_ptr(), libc::O_RDONLY) };
    assert!(leaky > 2);
    let s = spec(
        &[
            "sh",
            "-c",
            "grep -E '^Sig(Blk|Ign)' /proc/self/status; ls /proc/$$/fd; readlink /proc/$$/fd/0",
        ],
        &log,
    );
    let (exit, out) = run(&s);
    unsafe { libc::close(leaky) };
    assert_eq!(exit, Exit::Code(0));
    assert_eq!(
        out,
        "SigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\n0\n1\n2\n/dev/null\n"
    );
}

#[test]
fn log_is_appended_and_folders_created() {
    let (d, _) = tmp();
    let log = d.path().join("deep/er/job.log");
    let s = spec(&["echo", "one"], &log);
    assert_eq!(run(&s), (Exit::Code(0), "one\n".into()));
    let s = spec(&["sh", "-c", "echo two; echo err >&2"], &log);
    assert_eq!(run(&s), (Exit::Code(0), "one\ntwo\nerr\n".into()));
}

#[test]
fn null_and_inherit_stdio_run() {
    let (_d, log) = tmp();
    let mut s = spec(
        &["sh", "-c", "readlink /proc/$$/fd/1 > /dev/null && exit 4"],
        &log,
    );
    s.stdio = Stdio::Null;
    assert_eq!(run(&s).0, Exit::Code(4));
    s.stdio = Stdio::Inherit;
    s.argv = vec!["true".into()];
    assert_eq!(run(&s).0, Exit::Code(0));
}

/// A child's process settings stay its own: the spawning process and a
/// child spawned after it keep their `oom_score_adj` (a child that shared
/// the spawner's memory while the spawner ran on once changed both).
#[test]
fn oom_score_adj_stays_in_its_child() {
    let read = |pid: &str| {
        fs::read_to_string(format!("/proc/{pid}/oom_score_adj"))
            .expect("read")
            .trim()
            .to_string()
    };
    let own = read("self");
    let (_d, log) = tmp();
    let mut s = spec(&["sleep", "100"], &log);
    s.oom_score_adj = Some(700);
    let adjusted = spawn(&s).expect("spawn");
    s.oom_score_adj = None;
    let plain = spawn(&s).expect("spawn");
    assert_eq!(read(&adjusted.to_string()), "700");
    assert_eq!(read(&plain.to_string()), own);
    assert_eq!(read("self"), own);
    for pid in [adjusted, plain] {
        unsafe { libc::kill(pid, libc::SIGKILL) };
        assert_eq!(wait_pid(pid), Exit::Signal(libc::SIGKILL));
    }
}

/// (device, inode) of what descriptor `fd` of this process names.
fn names(fd: i32) -> (u64, u64) {
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    assert_eq!(unsafe { libc::fstat(fd, &mut st) }, 0, "fstat({fd})");
    (st.st_dev as u64, st.st_ino as u64)
}

/// The child shares the spawner's descriptor table until its first call
/// gives it its own (`spawn::slots`): the spawner's stdio must stay what it
/// was through spawns that succeed and spawns that fail, and no job's log
/// file may stay open in the spawner afterwards.
#[test]
fn the_spawners_descriptors_stay_its_own() {
    let (dir, log) = tmp();
    let before: Vec<_> = (0..3).map(names).collect();
    let mut spawner = gsup::spawn::Spawner::new();
    for round in 0..20 {
        let ok = spawner
            .spawn(&spec(&["sh", "-c", "echo out; echo err >&2"], &log))
            .expect("spawn");
        assert_eq!(wait_pid(ok), Exit::Code(0), "round {round}");
        let err = spawner
            .spawn(&spec(&["/nonexistent/program"], &log))
            .expect_err("no such program");
        assert_eq!(err.errno, libc::ENOENT);
        wait_pid(err.child.expect("a child"));
        let after: Vec<_> = (0..3).map(names).collect();
        assert_eq!(after, before, "round {round}: the spawner's stdio changed");
    }
    assert_eq!(fs::read_to_string(&log).expect("log").lines().count(), 40);
    let held: Vec<_> = fs::read_dir("/proc/self/fd")
        .expect("fd dir")
        .filter_map(|e| fs::read_link(e.ok()?.path()).ok())
        .filter(|target| target.starts_with(dir.path()))
        .collect();
    assert!(held.is_empty(), "the log is still open: {held:?}");
}
