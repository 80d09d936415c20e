//! Bench of a cgroup per job at cold start (run by bench/cgroup.sh): makes N
//! job groups, starts N `sleep`s each placed in its group by writing "0" to
//! its cgroup.procs before exec, N unplaced (then moved in by pid, to time
//! the move alone), the same with clone3 and CLONE_INTO_CGROUP, kills and
//! removes them.
//! Signals only processes it started, through their groups.
//!
//! usage: GSUP_BENCH_CGROUP=DIR cgroup_churn [N=1000]
//! DIR is a cgroup the caller made and removes; the bench joins it first.

use gsup::contain::{Cgroups, JobCgroup};
use std::os::fd::{AsRawFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn sleeper(place: Option<RawFd>) -> Child {
    let mut cmd = Command::new("sleep");
    cmd.arg("1000")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only write(2) between fork and exec; both variants take the
    // pre_exec path, so the baseline forks the same way.
    unsafe {
        cmd.pre_exec(move || {
            if let Some(fd) = place
                && libc::write(fd, b"0".as_ptr().cast(), 1) != 1
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    cmd.spawn()
        .unwrap_or_else(|e| fail(&format!("spawn sleep: {e}")))
}

/// `clone_args` of clone3(2), up to `cgroup` (CLONE_ARGS_SIZE_VER2).
#[repr(C)]
#[derive(Default)]
struct CloneArgs {
    flags: u64,
    pidfd: u64,
    child_tid: u64,
    parent_tid: u64,
    exit_signal: u64,
    stack: u64,
    stack_size: u64,
    tls: u64,
    set_tid: u64,
    set_tid_size: u64,
    cgroup: u64,
}

const CLONE_INTO_CGROUP: u64 = 0x2_0000_0000;

/// Starts `sleep 1000` with clone3 (a plain fork, or straight into the
/// group `into` with CLONE_INTO_CGROUP, kernel 5.7+) and waits for its exec,
/// as `Command::spawn` does. Returns the pid.
fn clone3_sleeper(into: Option<RawFd>) -> i32 {
    let (pid, report) = clone3_start(into, None);
    wait_exec(report);
    pid
}

/// Waits until the child that holds the other end of `report` has exec'd.
fn wait_exec(report: RawFd) {
    let mut byte = 0u8;
    // SAFETY: read until the child's exec closes its copy, then close ours.
    unsafe {
        while libc::read(report, (&mut byte as *mut u8).cast(), 1) > 0 {}
        libc::close(report);
    }
}

/// clone3 of `sleep 1000`, placed at birth (`into`) or by the child's own
/// write of "0" to `write0` before exec, or neither. Returns the pid and the
/// read end of a pipe that reaches EOF at the child's exec.
fn clone3_start(into: Option<RawFd>, write0: Option<RawFd>) -> (i32, RawFd) {
    let path = c"/bin/sleep";
    let argv = [c"sleep".as_ptr(), c"1000".as_ptr(), std::ptr::null()];
    let envp = [std::ptr::null::<libc::c_char>()];
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills the two ints.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        fail("pipe2");
    }
    let mut args = CloneArgs {
        exit_signal: libc::SIGCHLD as u64,
        ..CloneArgs::default()
    };
    if let Some(fd) = into {
        args.flags |= CLONE_INTO_CGROUP;
        args.cgroup = fd as u64;
    }
    // SAFETY: clone3 without CLONE_VM is a fork of this single-threaded
    // process; the child only calls execve and _exit.
    let pid = unsafe {
        libc::syscall(
            libc::SYS_clone3,
            &mut args as *mut CloneArgs,
            std::mem::size_of::<CloneArgs>(),
        )
    };
    if pid == 0 {
        // SAFETY: in the child: write, execve on static strings, else _exit.
        unsafe {
            if let Some(fd) = write0
                && libc::write(fd, b"0".as_ptr().cast(), 1) != 1
            {
                libc::_exit(126);
            }
            libc::execve(path.as_ptr(), argv.as_ptr(), envp.as_ptr());
            libc::_exit(127);
        }
    }
    if pid < 0 {
        fail(&format!("clone3: {}", std::io::Error::last_os_error()));
    }
    // SAFETY: our copy of the write end, not used again.
    unsafe { libc::close(fds[1]) };
    (pid as i32, fds[0])
}

/// Starts one `sleep` per group in waves of up to 200 children in flight
/// (as the daemon's spawn waves), each placed by its own write of "0"
/// (`placed`) or not, and waits for every exec. Returns the pids.
fn wave(groups: &[JobCgroup], placed: bool) -> Vec<i32> {
    let mut pids = Vec::with_capacity(groups.len());
    for chunk in groups.chunks(200) {
        let mut in_flight = Vec::with_capacity(chunk.len());
        for g in chunk {
            let procs = placed.then(|| {
                g.open_procs()
                    .unwrap_or_else(|e| fail(&format!("open: {e}")))
            });
            let (pid, report) = clone3_start(None, procs.as_ref().map(|p| p.as_raw_fd()));
            pids.push(pid);
            in_flight.push((report, procs));
        }
        for (report, procs) in in_flight {
            wait_exec(report);
            drop(procs);
        }
    }
    pids
}

fn fail(why: &str) -> ! {
    eprintln!("cgroup_churn: {why}");
    std::process::exit(1);
}

fn line(what: &str, n: usize, took: Duration) {
    let per = took.as_secs_f64() * 1e6 / n as f64;
    println!(
        "{what:<28} {:>9.1} ms total {per:>8.1} us/group",
        took.as_secs_f64() * 1e3
    );
}

fn main() {
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(1000);
    let Ok(dir) = std::env::var("GSUP_BENCH_CGROUP") else {
        fail("set GSUP_BENCH_CGROUP to a cgroup made for the bench (bench/cgroup.sh does)");
    };
    if let Err(e) = std::fs::write(format!("{dir}/cgroup.procs"), "0") {
        fail(&format!("join {dir}: {e}"));
    }
    let started = Instant::now();
    let cg = Cgroups::detect("gsup-bench").unwrap_or_else(|why| fail(&why));
    line("detect (once)", 1, started.elapsed());
    println!("controllers: [{}]", cg.controllers().join(" "));

    let t = Instant::now();
    let groups: Vec<JobCgroup> = (0..n)
        .map(|i| {
            cg.create(&format!("bench/job{i}"), "")
                .unwrap_or_else(|e| fail(&format!("create: {e}")))
        })
        .collect();
    line("create", n, t.elapsed());

    // Placed and unplaced spawns alternate, so that a busy machine slows both alike.
    let (mut placed_t, mut bare_t) = (Duration::ZERO, Duration::ZERO);
    let mut placed: Vec<Child> = Vec::with_capacity(n);
    let mut bare: Vec<Child> = Vec::with_capacity(n);
    for g in &groups {
        let t = Instant::now();
        let procs = g
            .open_procs()
            .unwrap_or_else(|e| fail(&format!("open: {e}")));
        placed.push(sleeper(Some(procs.as_raw_fd())));
        drop(procs);
        placed_t += t.elapsed();
        let t = Instant::now();
        bare.push(sleeper(None));
        bare_t += t.elapsed();
    }
    line("spawn, placed in its group", n, placed_t);
    line("spawn, not placed (baseline)", n, bare_t);

    // clone3 straight into the group, against a plain clone3.
    let (mut into_t, mut plain_t) = (Duration::ZERO, Duration::ZERO);
    let mut cloned: Vec<i32> = Vec::with_capacity(2 * n);
    for g in &groups {
        let t = Instant::now();
        cloned.push(clone3_sleeper(Some(g.dir_fd().as_raw_fd())));
        into_t += t.elapsed();
        let t = Instant::now();
        cloned.push(clone3_sleeper(None));
        plain_t += t.elapsed();
    }
    line("clone3 CLONE_INTO_CGROUP", n, into_t);
    line("clone3, not placed (baseline)", n, plain_t);
    let t = Instant::now();
    cloned.extend(wave(&groups, true));
    line("wave of 200, placed by write", n, t.elapsed());
    let t = Instant::now();
    let unplaced = wave(&groups, false);
    line("wave of 200, not placed", n, t.elapsed());
    for pid in &unplaced {
        // SAFETY: our own child, not yet reaped.
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }
    cloned.extend(unplaced);
    for pid in cloned.iter().skip(1).step_by(2) {
        // SAFETY: our own child, not yet reaped.
        unsafe { libc::kill(*pid, libc::SIGKILL) };
    }

    // The migration alone: the unplaced ones moved in by pid from here.
    let t = Instant::now();
    for (g, c) in groups.iter().zip(&bare) {
        let procs = g.path().join("cgroup.procs");
        if let Err(e) = std::fs::write(&procs, c.id().to_string()) {
            fail(&format!("move {}: {e}", c.id()));
        }
    }
    line("move in by pid, back to back", n, t.elapsed());

    // The same move when each follows a spawn, as in a daemon starting jobs
    // one by one: no write right before it, so each may wait out an RCU
    // grace period (the cgroup's thread-group lock; see docs/containment.md).
    let mut spaced_t = Duration::ZERO;
    for g in &groups {
        let c = sleeper(None);
        let t = Instant::now();
        let moved = std::fs::write(g.path().join("cgroup.procs"), c.id().to_string());
        spaced_t += t.elapsed();
        if let Err(e) = moved {
            fail(&format!("move {}: {e}", c.id()));
        }
        bare.push(c);
    }
    line("move in by pid, after a spawn", n, spaced_t);

    let t = Instant::now();
    for g in &groups {
        g.kill().unwrap_or_else(|e| fail(&format!("kill: {e}")));
    }
    line("kill (cgroup.kill)", n, t.elapsed());
    for g in &groups {
        if !g.wait_empty(Duration::from_secs(30)).unwrap_or(false) {
            fail(&format!("{} did not empty", g.path().display()));
        }
    }
    line("kill until all empty", n, t.elapsed());
    for c in placed.iter_mut().chain(bare.iter_mut()) {
        let _ = c.wait();
    }
    for pid in cloned {
        // SAFETY: waitpid on our own child.
        unsafe { libc::waitpid(pid, std::ptr::null_mut(), 0) };
    }

    let t = Instant::now();
    for g in &groups {
        g.remove().unwrap_or_else(|e| fail(&format!("remove: {e}")));
    }
    line("remove", n, t.elapsed());
    drop(groups);
    cg.release();
}
