//! Shared harness for integration tests: a real `gsup daemon` in its own PID
//! namespace, the real client, and polling helpers. It never signals by name.
#![allow(dead_code)]

pub mod http;

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A fake kernel for `Supervisor` tests: every spawn succeeds with the next
/// pid after the one given, signals succeed, nothing ever dies.
pub struct NextPid(pub i32);

impl gsup::sys::Sys for NextPid {
    fn spawn(&mut self, _: &gsup::spawn::SpawnSpec) -> Result<i32, gsup::spawn::SpawnError> {
        self.0 += 1;
        Ok(self.0)
    }
    fn signal(&mut self, _: gsup::sys::KillTarget, _: gsup::unit::Signal) -> Result<(), i32> {
        Ok(())
    }
    fn reap(&mut self) -> Vec<(i32, gsup::job::Exit)> {
        Vec::new()
    }
}

/// A test fixture under `tests/fixtures/`.
pub fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The real python3 interpreter: `python3` may be a shim (pyenv) that forks
/// helpers of its own, which would pass for a fixture's workers.
pub fn python() -> String {
    static PY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PY.get_or_init(|| {
        let out = Command::new("python3")
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3");
        String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_string()
    })
    .clone()
}

/// The `gsup` binary under test.
pub fn gsup_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_gsup"))
}

/// Polls `cond` every 5 ms until it holds or `timeout` passes; panics with
/// `what` on timeout. The only way tests wait.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return;
        }
        if Instant::now() > deadline {
            panic!("timed out after {timeout:?} waiting for: {what}");
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A fresh temporary directory holding `services.d/`, `log/` and the socket.
pub fn temp_root() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("gsup-test-")
        .tempdir()
        .expect("tempdir")
}

/// Writes unit files: `(job name, YAML text)`; the name may hold slashes.
pub fn write_units(config: &Path, units: &[(&str, &str)]) {
    for (name, text) in units {
        let path = config.join(format!("{name}.yaml"));
        fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        fs::write(&path, text).expect("write unit");
    }
}

/// A daemon running inside `unshare --pid --fork --mount-proc`, as PID 2 under
/// a `sh` that is PID 1 of the namespace (so gsup runs as an ordinary daemon).
pub struct Daemon {
    pub root: tempfile::TempDir,
    pub config: PathBuf,
    pub logs: PathBuf,
    pub socket: PathBuf,
    child: Child,
    finished: bool,
    /// The daemon's arguments after `gsup daemon` (to start it again).
    extra: Vec<String>,
    /// Daemons started again in the namespace (`start_again`), through nsenter.
    again: Vec<Child>,
    /// The namespace's init outlives the daemon (`start_persistent`).
    persistent: bool,
}

impl Daemon {
    /// `start` in a namespace whose init outlives the daemon (a loop that
    /// reaps), so that a test can kill the daemon and `start_again` one on
    /// the same config while the jobs run on.
    pub fn start_persistent(units: &[(&str, &str)], extra: &[&str]) -> Daemon {
        let root = temp_root();
        let stderr = fs::File::create(root.path().join("daemon.stderr")).expect("stderr file");
        let script = "trap '' TERM INT HUP; \"$@\" & while :; do wait; sleep 0.05; done";
        let mut d = Daemon::launch_script(root, units, extra, stderr.into(), script);
        d.persistent = true;
        d
    }

    /// `start` with the daemon as PID 1 of its namespace (the `sh` execs it):
    /// its shutdown ends every process of the namespace. `ns_init_host_pid`
    /// is then the daemon.
    pub fn start_as_init(units: &[(&str, &str)], extra: &[&str]) -> Daemon {
        let root = temp_root();
        let stderr = fs::File::create(root.path().join("daemon.stderr")).expect("stderr file");
        Daemon::launch_script(root, units, extra, stderr.into(), "exec \"$@\"")
    }

    /// `start` with the daemon's descriptor limit (soft and hard) set to `nofile`.
    pub fn start_with_nofile(units: &[(&str, &str)], nofile: u32) -> Daemon {
        let root = temp_root();
        let stderr = fs::File::create(root.path().join("daemon.stderr")).expect("stderr file");
        let script = format!("prlimit --nofile={nofile} \"$@\" & wait $!");
        Daemon::launch_script(root, units, &[], stderr.into(), &script)
    }

    /// Starts another daemon with the same arguments inside the namespace
    /// (as a grandchild of the test, through nsenter; stderr appended), and
    /// waits until its socket answers.
    pub fn start_again(&mut self) {
        let stderr = fs::OpenOptions::new()
            .append(true)
            .open(self.root.path().join("daemon.stderr"))
            .expect("stderr file");
        let init = self.ns_init_host_pid().to_string();
        let child = Command::new("nsenter")
            .args(["--target", &init, "--pid", "--mount", "--"])
            .arg(gsup_bin())
            .arg("daemon")
            .arg("--config-dir")
            .arg(&self.config)
            .arg("--log-dir")
            .arg(&self.logs)
            .arg("--socket")
            .arg(&self.socket)
            .args(&self.extra)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr)
            .spawn()
            .expect("nsenter");
        self.again.push(child);
        self.wait_answers();
    }

    /// Starts a daemon on these units with extra daemon flags, and waits until
    /// its socket answers `gsup list`.
    pub fn start(units: &[(&str, &str)], extra: &[&str]) -> Daemon {
        Daemon::start_in(temp_root(), units, extra)
    }

    /// `start` in a root dir the test has prepared (the socket is
    /// `ROOT/gsup.sock`, its runtime dir `ROOT/gsup.d`).
    pub fn start_in(root: tempfile::TempDir, units: &[(&str, &str)], extra: &[&str]) -> Daemon {
        let stderr = fs::File::create(root.path().join("daemon.stderr")).expect("stderr file");
        Daemon::launch(root, units, extra, stderr.into(), "")
    }

    /// `start` with the daemon's stderr a pipe the test holds
    /// (`take_stderr`); `stderr()` is then empty.
    pub fn start_piped(units: &[(&str, &str)]) -> Daemon {
        Daemon::launch(temp_root(), units, &[], Stdio::piped(), "")
    }

    /// `start` with shell redirections applied to the daemon's command line
    /// (`"0<&- 1>&- 2>&-"` starts it with its standard descriptors closed).
    pub fn start_redirected(units: &[(&str, &str)], redirs: &str) -> Daemon {
        let root = temp_root();
        let stderr = fs::File::create(root.path().join("daemon.stderr")).expect("stderr file");
        Daemon::launch(root, units, &[], stderr.into(), redirs)
    }

    fn launch(
        root: tempfile::TempDir,
        units: &[(&str, &str)],
        extra: &[&str],
        stderr: Stdio,
        redirs: &str,
    ) -> Daemon {
        let script = format!("\"$@\" {redirs} & wait $!");
        Daemon::launch_script(root, units, extra, stderr, &script)
    }

    fn launch_script(
        root: tempfile::TempDir,
        units: &[(&str, &str)],
        extra: &[&str],
        stderr: Stdio,
        script: &str,
    ) -> Daemon {
        let config = root.path().join("services.d");
        let logs = root.path().join("log");
        let socket = root.path().join("gsup.sock");
        fs::create_dir_all(&config).expect("mkdir config");
        write_units(&config, units);
        let mut cmd = Command::new("unshare");
        cmd.args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            "sh",
            "-c",
            script,
            "sh",
        ])
        .arg(gsup_bin())
        .arg("daemon")
        .arg("--config-dir")
        .arg(&config)
        .arg("--log-dir")
        .arg(&logs)
        .arg("--socket")
        .arg(&socket)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
        let child = cmd.spawn().expect("spawn unshare");
        let mut d = Daemon {
            root,
            config,
            logs,
            socket,
            child,
            finished: false,
            extra: extra.iter().map(|s| s.to_string()).collect(),
            again: Vec::new(),
            persistent: false,
        };
        d.wait_answers();
        d.finished = false;
        d
    }

    /// Waits until the socket answers `gsup list`.
    fn wait_answers(&self) {
        let sock = self.socket.clone();
        let bin = gsup_bin();
        wait_until(Duration::from_secs(10), "daemon socket answers", || {
            sock.exists()
                && Command::new(&bin)
                    .arg("--socket")
                    .arg(&sock)
                    .arg("list")
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .map(|s| s.success())
                    .unwrap_or(false)
        });
    }

    /// Runs the client against this daemon.
    pub fn gsup(&self, args: &[&str]) -> Output {
        Command::new(gsup_bin())
            .arg("--socket")
            .arg(&self.socket)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("run gsup client")
    }

    /// Runs the client and returns (exit code, stdout, stderr).
    pub fn run(&self, args: &[&str]) -> (i32, String, String) {
        let out = self.gsup(args);
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The read end of a `start_piped` daemon's stderr.
    pub fn take_stderr(&mut self) -> Option<std::process::ChildStderr> {
        self.child.stderr.take()
    }

    /// The namespace (and so the daemon) is still there.
    pub fn running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// The daemon's stderr so far (its own log).
    pub fn stderr(&self) -> String {
        fs::read_to_string(self.root.path().join("daemon.stderr")).unwrap_or_default()
    }

    /// Host pid of the namespace's PID 1 (the `sh`).
    pub fn ns_init_host_pid(&self) -> i32 {
        let unshare = self.child.id() as i32;
        let mut found = 0;
        wait_until(Duration::from_secs(5), "namespace init appears", || {
            found = children_of(unshare).into_iter().next().unwrap_or(0);
            found != 0
        });
        found
    }

    /// Host pid of the gsup daemon (PID 2 of the namespace).
    pub fn daemon_host_pid(&self) -> i32 {
        let mut found = 0;
        wait_until(Duration::from_secs(5), "daemon process appears", || {
            found = self.find_daemon().unwrap_or(0);
            found != 0
        });
        found
    }

    /// Host pid of the gsup daemon in the namespace (not a zombie), if any.
    fn find_daemon(&self) -> Option<i32> {
        let init = children_of(self.child.id() as i32).into_iter().next()?;
        let ns = pid_ns(init);
        let bin = gsup_bin();
        let is_daemon = |p: i32| {
            fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| {
                let mut words = c.split(|&b| b == 0);
                words.next() == Some(bin.as_os_str().as_encoded_bytes())
                    && words.next() == Some(b"daemon".as_slice())
            }) && proc_state(p).is_some_and(|s| s != 'Z')
        };
        children_of(init)
            .into_iter()
            .find(|&p| is_daemon(p))
            .or_else(|| {
                all_pids()
                    .into_iter()
                    .find(|&p| p != init && pid_ns(p) == ns && is_daemon(p))
            })
    }

    /// Host pid of the process the daemon calls `ns_pid` (pids in status lines
    /// are the namespace's). Signal only through this.
    pub fn host_pid(&self, ns_pid: i32) -> Option<i32> {
        let ns = pid_ns(self.ns_init_host_pid())?;
        for pid in all_pids() {
            if pid_ns(pid) != Some(ns) {
                continue;
            }
            if nspid_chain(pid).last() == Some(&ns_pid) {
                return Some(pid);
            }
        }
        None
    }

    /// Sends `sig` to the process the daemon calls `ns_pid`.
    pub fn kill(&self, ns_pid: i32, sig: i32) {
        let host = self
            .host_pid(ns_pid)
            .unwrap_or_else(|| panic!("no process {ns_pid} in the namespace"));
        // SAFETY: kill(2) on a pid verified to be in our own test namespace.
        let rc = unsafe { libc::kill(host, sig) };
        assert_eq!(rc, 0, "kill({host}, {sig})");
    }

    /// Host pids of every process in the namespace, except its `sh` and gsup.
    pub fn job_processes(&self) -> Vec<i32> {
        let init = self.ns_init_host_pid();
        let daemon = self.daemon_host_pid();
        let Some(ns) = pid_ns(init) else {
            return Vec::new();
        };
        all_pids()
            .into_iter()
            .filter(|&p| p != init && p != daemon && pid_ns(p) == Some(ns))
            .collect()
    }

    /// Zombies in the namespace (state `Z`).
    pub fn zombies(&self) -> Vec<i32> {
        let init = self.ns_init_host_pid();
        let Some(ns) = pid_ns(init) else {
            return Vec::new();
        };
        all_pids()
            .into_iter()
            .filter(|&p| pid_ns(p) == Some(ns) && proc_state(p) == Some('Z'))
            .collect()
    }

    /// Asserts that no zombie is left, polling briefly (a just-killed process is
    /// a zombie until gsup reaps it).
    pub fn assert_no_zombies(&self) {
        wait_until(
            Duration::from_secs(5),
            "no zombies in the namespace",
            || self.zombies().is_empty(),
        );
    }

    /// `gsup status --json JOB`: one object per instance.
    pub fn statuses(&self, job: &str) -> Vec<serde_json::Value> {
        let (_, out, _) = self.run(&["status", "--json", job]);
        out.lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }

    /// The first object of `gsup status --json JOB`, or `null`.
    pub fn status_json(&self, job: &str) -> serde_json::Value {
        self.statuses(job).into_iter().next().unwrap_or_default()
    }

    /// `gsup shutdown`, then waits for the daemon to exit; returns its exit code.
    pub fn shutdown(mut self) -> i32 {
        let _ = self.run(&["shutdown"]);
        if self.persistent {
            // The namespace's init stays: wait for the daemon alone (its
            // exit code is its parent's to see; 0 once it is gone).
            wait_until(Duration::from_secs(30), "the daemon exits", || {
                self.find_daemon().is_none()
            });
            self.finished = true;
            return 0;
        }
        self.wait_exit(Duration::from_secs(30))
    }

    /// Waits for the namespace to end; returns the daemon's exit code (as
    /// reported through `sh`'s `wait`).
    pub fn wait_exit(&mut self, timeout: Duration) -> i32 {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.finished = true;
                return status.code().unwrap_or(-1);
            }
            if Instant::now() > deadline {
                panic!(
                    "daemon did not exit within {timeout:?}; stderr:\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

impl Drop for Daemon {
    /// Ends the namespace. A test that did not shut the daemon down still
    /// gets SPEC 8's check: no zombie has gsup as its parent.
    fn drop(&mut self) {
        let daemon = self.find_daemon();
        if let Some(daemon) = daemon.filter(|_| !self.finished && !std::thread::panicking()) {
            let zombies = || {
                children_of(daemon)
                    .into_iter()
                    .filter(|&p| proc_state(p) == Some('Z'))
                    .collect::<Vec<_>>()
            };
            let deadline = Instant::now() + Duration::from_secs(5);
            while !zombies().is_empty() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            let left = zombies();
            if !left.is_empty() {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("zombies left with gsup as parent: {left:?}");
            }
        }
        if !self.finished || self.persistent {
            end_namespace(&mut self.child);
        }
        for mut c in self.again.drain(..) {
            let _ = c.kill();
            let _ = c.wait();
        }
        remove_cgroup_domain(&gsup::control::page::runtime_dir(&self.socket));
    }
}

/// Ends the PID namespace of `unshare` (run with `--fork --kill-child`):
/// kills `unshare`, whose death should kill the namespace's init, and kills
/// that init too, through a pidfd taken while it was still `unshare`'s child
/// (so never another process), and waits until it is gone: once, a
/// namespace's init outlived its `unshare` and kept a test daemon running
/// for an hour, and a daemon killed while it started made its cgroup after
/// the harness had looked for it.
pub fn end_namespace(unshare: &mut std::process::Child) {
    let inits: Vec<i32> = children_of(unshare.id() as i32)
        .into_iter()
        .filter_map(|pid| {
            // SAFETY: pidfd_open with no flags; the result is checked.
            let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
            i32::try_from(fd).ok().filter(|&fd| fd >= 0)
        })
        .collect();
    let _ = unshare.kill();
    let _ = unshare.wait();
    for fd in inits {
        // SAFETY: a pidfd this function opened; a process already gone is
        // ESRCH. The pidfd turns readable once the init has exited, which
        // the kernel lets it do only after every other process of its
        // namespace: then nothing of the namespace runs (or holds a cgroup).
        unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                fd,
                libc::SIGKILL,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            );
            let mut pfd = libc::pollfd {
                fd,
                events: libc::POLLIN,
                revents: 0,
            };
            libc::poll(&mut pfd, 1, 5000);
            libc::close(fd);
        }
    }
}

/// Removes the cgroup domain a daemon with this runtime dir made (its job
/// groups and its own leaf), when a test ended it without a shutdown: the
/// namespace is gone, so the groups are empty. Best effort.
pub fn remove_cgroup_domain(runtime_dir: &Path) {
    let (Ok(mountinfo), Ok(own)) = (
        fs::read_to_string("/proc/self/mountinfo"),
        fs::read_to_string("/proc/self/cgroup"),
    ) else {
        return;
    };
    let Ok(found) = gsup::contain::locate(&mountinfo, &own) else {
        return;
    };
    let mut domain = found.mount_point.clone();
    domain.extend(&found.rel);
    domain.push(gsup::contain::domain_for(runtime_dir));
    if !domain.exists() {
        return;
    }
    // The namespace's processes die a moment after its init: wait for it.
    let deadline = Instant::now() + Duration::from_secs(5);
    while fs::read_to_string(domain.join("cgroup.events")).is_ok_and(|e| e.contains("populated 1"))
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    if let Ok(rd) = fs::read_dir(&domain) {
        for e in rd.flatten() {
            if e.file_type().is_ok_and(|t| t.is_dir()) {
                let _ = fs::remove_dir(e.path());
            }
        }
    }
    let _ = fs::remove_dir(&domain);
}

/// Every pid in the host's /proc.
pub fn all_pids() -> Vec<i32> {
    let Ok(rd) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    rd.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok())
        .collect()
}

/// Children of `pid` (from /proc/PID/task/*/children).
pub fn children_of(pid: i32) -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(rd) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return out;
    };
    for t in rd.flatten() {
        if let Ok(s) = fs::read_to_string(t.path().join("children")) {
            out.extend(s.split_whitespace().filter_map(|w| w.parse::<i32>().ok()));
        }
    }
    out
}

/// Inode of the pid namespace of `pid`.
pub fn pid_ns(pid: i32) -> Option<u64> {
    fs::metadata(format!("/proc/{pid}/ns/pid"))
        .ok()
        .map(|m| m.ino())
}

/// The `NSpid:` line of /proc/PID/status: the pid in each nested namespace.
pub fn nspid_chain(pid: i32) -> Vec<i32> {
    let Ok(s) = fs::read_to_string(format!("/proc/{pid}/status")) else {
        return Vec::new();
    };
    s.lines()
        .find(|l| l.starts_with("NSpid:"))
        .map(|l| {
            l[6..]
                .split_whitespace()
                .filter_map(|w| w.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The one-letter state of `pid` from /proc/PID/stat.
pub fn proc_state(pid: i32) -> Option<char> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = s.rfind(')')?;
    s[after + 1..].trim_start().chars().next()
}

/// True while `pid` (host) exists and is not a zombie.
pub fn alive(pid: i32) -> bool {
    matches!(proc_state(pid), Some(c) if c != 'Z')
}

/// Parses the pid out of a status line (`NAME start/running, process 42`).
pub fn status_pid(line: &str) -> Option<i32> {
    line.split("process ")
        .nth(1)?
        .split(|c: char| !c.is_ascii_digit())
        .next()?
        .parse()
        .ok()
}

/// How many processes in the daemon's namespace have exactly this command line.
pub fn count_argv(d: &Daemon, argv: &[&str]) -> usize {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    d.job_processes()
        .into_iter()
        .filter(|p| std::fs::read(format!("/proc/{p}/cmdline")).is_ok_and(|c| c == want))
        .count()
}

/// `name (instance) -> (goal/state, pid, restarts)` from `list --json`.
pub fn snapshot(d: &Daemon) -> std::collections::BTreeMap<String, (String, Option<i64>, u64)> {
    let (_, out, _) = d.run(&["list", "--json"]);
    out.lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| {
            let name = format!(
                "{} ({})",
                v["name"].as_str().unwrap_or(""),
                v["instance"].as_str().unwrap_or("")
            );
            let state = format!(
                "{}/{}",
                v["goal"].as_str().unwrap_or(""),
                v["state"].as_str().unwrap_or("")
            );
            let restarts = v["restarts"].as_u64().unwrap_or(0);
            (name, (state, v["pid"].as_i64(), restarts))
        })
        .collect()
}
