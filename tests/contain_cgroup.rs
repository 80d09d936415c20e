//! `gsup::contain` against the real kernel: each case runs in a cgroup the
//! test makes under the cgroup2 mount and removes (after `cgroup.kill`) even on
//! panic, in a helper process that is PID 1 of its own PID namespace.
//!
//! Skips (with the reason) when not root, when no cgroup2 is mounted, or when
//! it is not writable; under `CI=true` a writable cgroup2 that still cannot
//! be used (no `unshare`, no `python3`) fails the test. Each outer test
//! re-runs this binary as `helper` with GSUP_CGROUP_CASE set, inside
//! `unshare --pid --fork --mount-proc`; the helper first moves itself into
//! the test's cgroup, then runs the case through `Cgroups::detect`.

mod common;

use gsup::contain::{CONTROLLERS, Cgroups, JobCgroup};
use gsup::unit::Signal;
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

const CASE: &str = "GSUP_CGROUP_CASE";
const DIR: &str = "GSUP_CGROUP_DIR";
const DOMAIN: &str = "gsup-t";
const LONG: Duration = Duration::from_secs(10);

// ---- outside: the test cgroup and the namespace ---------------------------

/// A cgroup made for one test under the cgroup2 mount's root; on drop every
/// process in it is killed (`cgroup.kill`) and its groups removed, deepest first.
struct TestGroup {
    path: PathBuf,
}

impl TestGroup {
    /// `None` (after saying why) when this machine cannot run the test.
    fn new() -> Option<TestGroup> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let ci = std::env::var("CI").as_deref() == Ok("true");
        if !nix::unistd::geteuid().is_root() {
            eprintln!("SKIP: cgroup tests need root (run: sudo cargo test --test contain_cgroup)");
            return None;
        }
        let mountinfo = fs::read_to_string("/proc/self/mountinfo").expect("mountinfo");
        let mount = match gsup::contain::locate(&mountinfo, "0::/\n") {
            Ok(found) => found.mount_point,
            Err(why) => {
                eprintln!("SKIP: no usable cgroup2 mount: {why}");
                return None;
            }
        };
        let n = N.fetch_add(1, Ordering::SeqCst);
        let path = mount.join(format!("gsup-test-{}-{n}", std::process::id()));
        if let Err(e) = fs::create_dir(&path) {
            eprintln!("SKIP: cgroup2 at {} is not writable: {e}", mount.display());
            return None;
        }
        let group = TestGroup { path };
        for (tool, install) in [("unshare", "util-linux"), ("python3", "python3")] {
            let found = Command::new(tool)
                .arg("--version")
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok();
            if !found {
                assert!(
                    !ci,
                    "cgroup2 is writable but `{tool}` is missing (apt-get install -y {install})"
                );
                eprintln!("SKIP: needs {tool} (apt-get install -y {install})");
                return None;
            }
        }
        Some(group)
    }

    fn populated(&self) -> bool {
        let events = fs::read_to_string(self.path.join("cgroup.events")).unwrap_or_default();
        events.lines().any(|l| l == "populated 1")
    }
}

impl Drop for TestGroup {
    fn drop(&mut self) {
        let _ = fs::write(self.path.join("cgroup.kill"), "1");
        for _ in 0..2000 {
            if !self.populated() {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        remove_tree(&self.path);
        // The pid files of the helper's processes (`start_in`).
        let prefix = format!(
            "{}-",
            self.path
                .file_name()
                .and_then(|n| n.to_str())
                .unwrap_or("?")
        );
        if let Ok(entries) = fs::read_dir(std::env::temp_dir()) {
            for e in entries.flatten() {
                if e.file_name().to_string_lossy().starts_with(&prefix) {
                    let _ = fs::remove_file(e.path());
                }
            }
        }
    }
}

fn remove_tree(dir: &Path) {
    if let Ok(entries) = fs::read_dir(dir) {
        for e in entries.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                remove_tree(&e.path());
            }
        }
    }
    let _ = fs::remove_dir(dir);
}

/// Runs `case` in the helper, in its own PID namespace, inside a fresh test
/// cgroup; fails unless the helper says the case passed.
fn run_case(case: &str) {
    let Some(group) = TestGroup::new() else {
        return;
    };
    let out = Command::new("unshare")
        .args(["--pid", "--fork", "--mount-proc", "--kill-child"])
        .arg(std::env::current_exe().expect("test binary"))
        .args(["helper", "--exact", "--nocapture", "--test-threads=1"])
        .env(CASE, case)
        .env(DIR, &group.path)
        .stdin(Stdio::null())
        .output()
        .expect("run unshare");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && stdout.contains(&format!("case {case} passed")),
        "helper for {case} failed: {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    assert!(
        !group.populated(),
        "processes left in {}",
        group.path.display()
    );
}

#[test]
fn detect_moves_the_daemon_into_its_leaf_and_enables_what_is_offered() {
    run_case("detect");
}

#[test]
fn kill_ends_setsid_escapers_and_a_double_forked_daemon() {
    run_case("kill_tree");
}

#[test]
fn kill_each_the_fallback_without_cgroup_kill_ends_them_too() {
    run_case("kill_each_tree");
}

#[test]
fn signal_all_term_reaches_a_setsid_grandchild() {
    run_case("term");
}

#[test]
fn a_group_the_job_made_inside_its_own_is_listed_signalled_and_removed() {
    run_case("nested");
}

#[test]
fn figures_come_from_cpu_stat_and_memory_current() {
    run_case("figures");
}

#[test]
fn remove_takes_an_empty_group_and_refuses_a_running_one() {
    run_case("remove");
}

#[test]
fn a_restarted_daemon_finds_its_groups_and_release_cleans_up() {
    run_case("readopt");
}

// ---- inside: the helper, PID 1 of its namespace ----------------------------

#[test]
fn helper() {
    let Ok(case) = std::env::var(CASE) else {
        return;
    };
    assert_eq!(
        std::process::id(),
        1,
        "the helper runs as PID 1 of its namespace"
    );
    let dir = PathBuf::from(std::env::var(DIR).expect("GSUP_CGROUP_DIR"));
    fs::write(dir.join("cgroup.procs"), "0").expect("join the test cgroup");
    match case.as_str() {
        "detect" => detect(&dir),
        "kill_tree" => kill_tree(false),
        "kill_each_tree" => kill_tree(true),
        "term" => term(),
        "nested" => nested(),
        "figures" => figures(),
        "remove" => remove(),
        "readopt" => readopt(&dir),
        other => panic!("unknown case {other}"),
    }
    println!("case {case} passed");
}

fn own_cgroup() -> String {
    fs::read_to_string("/proc/self/cgroup")
        .expect("cgroup")
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .expect("0:: line")
        .to_string()
}

fn cgroups() -> Cgroups {
    Cgroups::detect(DOMAIN).unwrap_or_else(|why| panic!("detect: {why}"))
}

/// Reaps every exited child (the helper is PID 1: orphans come to it).
fn reap() {
    // SAFETY: waitpid with WNOHANG on any child; no memory arguments but the status.
    while unsafe { libc::waitpid(-1, std::ptr::null_mut(), libc::WNOHANG) } > 0 {}
}

fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => !stat
            .rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z'),
        Err(_) => false,
    }
}

/// Starts `escapers.py MODE OUT` placed in `group` by its first child
/// writing "0" into the group's cgroup.procs before exec, and waits until
/// `count` processes have written their pids to OUT.
fn start_in(group: &JobCgroup, mode: &str, count: usize) -> (Child, Vec<i32>, PathBuf) {
    // Unique across helpers (each is PID 1 of its own namespace): the test
    // cgroup's name, and a count.
    static N: AtomicUsize = AtomicUsize::new(0);
    let tag = PathBuf::from(std::env::var(DIR).expect("GSUP_CGROUP_DIR"));
    let tag = tag
        .file_name()
        .and_then(|n| n.to_str())
        .expect("name")
        .to_string();
    let n = N.fetch_add(1, Ordering::SeqCst);
    let out = std::env::temp_dir().join(format!("{tag}-{mode}-{n}"));
    let _ = fs::remove_file(&out);
    let _ = fs::remove_file(out.with_extension("term"));
    let procs = group.open_procs().expect("open cgroup.procs");
    let fd = procs.as_raw_fd();
    let mut cmd = Command::new(common::python());
    cmd.arg(common::fixture("escapers.py"))
        .arg(mode)
        .arg(&out)
        .arg(group.path());
    // SAFETY: only write(2) between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::write(fd, b"0".as_ptr().cast(), 1) != 1 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().expect("spawn escapers.py");
    drop(procs);
    let mut pids = Vec::new();
    common::wait_until(LONG, &format!("{count} pids in {}", out.display()), || {
        pids = fs::read_to_string(&out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| l.parse().ok())
            .collect();
        pids.len() >= count
    });
    (child, pids, out)
}

fn detect(dir: &Path) {
    let offered = fs::read_to_string(dir.join("cgroup.controllers")).expect("controllers");
    let cg = cgroups();
    assert_eq!(cg.path(), dir.join(DOMAIN));
    let base = own_cgroup();
    assert!(
        base.ends_with(&format!("/{DOMAIN}/supervisor")),
        "the daemon sits in its own leaf: {base}"
    );
    let mut want: Vec<String> = CONTROLLERS
        .iter()
        .filter(|c| offered.split_whitespace().any(|o| o == **c))
        .map(|c| c.to_string())
        .collect();
    want.sort();
    let mut got = cg.controllers().to_vec();
    got.sort();
    assert_eq!(got, want, "offered: {offered}");
    // A second detect (a re-exec'd daemon) keeps the same base and leaf.
    let again = cgroups();
    assert_eq!(again.path(), cg.path());
    assert_eq!(own_cgroup(), base);
    // A job group is a leaf beside the daemon's.
    let g = cg.create("web/nginx", "").expect("create");
    assert_eq!(g.path(), dir.join(DOMAIN).join("web\\x2fnginx@"));
    assert!(g.events_path().exists());
    assert!(g.is_empty());
    assert!(Cgroups::detect("bad/name").is_err());
}

fn kill_tree(fallback: bool) {
    let cg = cgroups();
    let g = cg.create("web/nginx", "").expect("create");
    let (mut child, pids, _) = start_in(&g, "tree", 3);
    let listed = g.procs().expect("procs");
    for pid in &pids {
        assert!(listed.contains(pid), "{pid} in {listed:?}");
    }
    assert!(listed.contains(&(child.id() as i32)));
    if fallback {
        g.kill_each().expect("kill_each");
    } else {
        g.kill().expect("kill");
    }
    assert!(g.wait_empty(LONG).expect("wait"), "group empties");
    assert_eq!(g.procs().expect("procs"), Vec::<i32>::new());
    let _ = child.wait();
    common::wait_until(LONG, "every recorded pid is gone", || {
        reap();
        pids.iter().all(|p| !alive(*p))
    });
    // Not frozen after the fallback: a new process runs.
    let (mut again, _, _) = start_in(&g, "busy", 1);
    g.kill().expect("kill");
    assert!(g.wait_empty(LONG).expect("wait"));
    let _ = again.wait();
    g.remove().expect("remove");
}

fn term() {
    let cg = cgroups();
    let g = cg.create("resque", "high").expect("create");
    let (mut child, pids, out) = start_in(&g, "term", 2);
    let sent = g.signal_all(Signal::TERM).expect("signal_all");
    assert!(sent >= 2, "signalled {sent}");
    let term_file = PathBuf::from(format!("{}.term", out.display()));
    common::wait_until(LONG, "the setsid grandchild handles TERM", || {
        fs::read_to_string(&term_file).is_ok_and(|t| t == "term\n")
    });
    assert!(
        g.wait_empty(LONG).expect("wait"),
        "group empties after TERM"
    );
    let _ = child.wait();
    common::wait_until(LONG, "all gone", || {
        reap();
        pids.iter().all(|p| !alive(*p))
    });
    assert_eq!(g.signal_all(Signal::TERM).expect("empty"), 0);
    g.remove().expect("remove");
}

fn nested() {
    let cg = cgroups();
    let g = cg.create("lxc", "").expect("create");
    let (mut child, pids, _) = start_in(&g, "nested", 2);
    let inner = g.path().join("inner");
    let inner_procs = fs::read_to_string(inner.join("cgroup.procs")).expect("inner procs");
    assert_eq!(
        inner_procs.lines().count(),
        1,
        "one process in {}",
        inner.display()
    );
    let mut listed = g.procs().expect("procs");
    listed.sort();
    let mut want = pids.clone();
    want.sort();
    assert_eq!(listed, want);
    assert_eq!(g.signal_all(Signal::TERM).expect("signal_all"), 2);
    assert!(g.wait_empty(LONG).expect("wait"), "both die of TERM");
    let _ = child.wait();
    g.remove().expect("remove, inner group first");
    assert!(!g.path().exists());
}

fn figures() {
    let cg = cgroups();
    let g = cg.create("busy", "").expect("create");
    assert_eq!(
        g.cpu_usage(),
        Some(Duration::ZERO),
        "a new group used no CPU"
    );
    let has_memory = g.path().join("memory.current").exists();
    assert_eq!(has_memory, cg.controllers().iter().any(|c| c == "memory"));
    let (mut child, _, _) = start_in(&g, "busy", 1);
    common::wait_until(LONG, "cpu.stat counts the busy loop", || {
        g.cpu_usage()
            .is_some_and(|d| d >= Duration::from_millis(20))
    });
    match g.memory_bytes() {
        Some(bytes) => assert!(has_memory && bytes > 0, "memory.current {bytes}"),
        None => assert!(!has_memory, "memory.current exists but was not read"),
    }
    g.kill().expect("kill");
    assert!(g.wait_empty(LONG).expect("wait"));
    let _ = child.wait();
    let used = g.cpu_usage().expect("cpu.stat");
    assert!(
        used >= Duration::from_millis(20),
        "the dead still count: {used:?}"
    );
    g.remove().expect("remove");
}

fn remove() {
    let cg = cgroups();
    let empty = cg.create("empty", "").expect("create");
    empty.remove().expect("remove an empty group");
    assert!(!empty.path().exists());
    let g = cg.create("sleeper", "1").expect("create");
    let (mut child, _, _) = start_in(&g, "busy", 1);
    let err = g.remove().expect_err("refused while running");
    assert_eq!(err.raw_os_error(), Some(libc::EBUSY), "{err}");
    assert!(g.path().exists());
    let err = cg
        .create("sleeper", "1")
        .expect_err("a running group is not taken over");
    assert_eq!(err.raw_os_error(), Some(libc::EBUSY), "{err}");
    g.kill().expect("kill");
    assert!(g.wait_empty(LONG).expect("wait"));
    let _ = child.wait();
    g.remove().expect("remove once empty");
    assert!(!g.path().exists());
}

fn readopt(dir: &Path) {
    let cg = cgroups();
    let running = cg.create("git/daemon", "port 9418").expect("create");
    let idle = cg.create("resque", "").expect("create");
    let (mut child, _, _) = start_in(&running, "busy", 1);
    let pid = child.id() as i32;
    drop((running, idle, cg));

    // The daemon comes back (as after a re-exec: already in its leaf).
    let cg = cgroups();
    assert_eq!(
        cg.list_existing(),
        vec![
            ("git/daemon".to_string(), "port 9418".to_string()),
            ("resque".to_string(), String::new()),
        ]
    );
    let found = cg
        .open_existing("git/daemon", "port 9418")
        .expect("found again");
    assert_eq!(found.procs().expect("procs"), vec![pid]);
    assert!(cg.open_existing("git/daemon", "other").is_none());
    assert_eq!(cg.remove_empty(), vec!["resque@".to_string()]);
    assert_eq!(cg.list_existing().len(), 1);

    // At exit with a job still running: the group stays.
    let path = cg.path().to_path_buf();
    cg.release();
    assert!(found.path().exists());
    found.kill().expect("kill");
    assert!(found.wait_empty(LONG).expect("wait"));
    let _ = child.wait();

    // With nothing left, release removes the domain and moves the daemon back.
    let cg = cgroups();
    cg.release();
    assert!(!path.exists(), "{} removed", path.display());
    assert!(dir.exists());
    assert!(own_cgroup().ends_with(dir.file_name().and_then(|n| n.to_str()).expect("name")));
}
