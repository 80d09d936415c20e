//! The supervisor: the one owner of all job state and the one event loop that
//! turns signals, control requests, probe results and timers into job inputs.
//! The loop only waits and forwards; every decision is in `core` and `job`.

pub mod adopt;
pub mod core;
pub mod env;
pub mod finish;
pub mod follow;
pub mod joblog;
pub mod jobs;
pub mod launch;
pub mod named;
pub mod page;
pub mod pids;
pub mod readiness;
pub mod reexec;
pub mod reload;
pub mod requests;
pub mod saved;
pub mod shutdown;
pub mod signals;
pub mod snapshot;
pub mod timers;
pub mod usage;
pub mod waiters;
pub mod watch;

use self::core::Supervisor;
use crate::control::Call;
use crate::control::server::{self, AccessPolicy};
use crate::expr::Event;
use crate::graph::DepGraph;
use crate::sys::RealSys;
use readiness::ProbeRunner;
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tracing::{error, info, warn};

/// Options of `gsup daemon`, resolved by the CLI.
#[derive(Debug, Clone)]
pub struct DaemonOptions {
    pub config_dir: PathBuf,
    pub log_dir: PathBuf,
    pub socket: PathBuf,
    /// Default watchdog cycle (`--cycle`, default 5s).
    pub cycle: Duration,
    /// `--alert-command`, run without a shell on `alert`.
    pub alert_command: Option<Vec<String>>,
    /// `--control-group`: members may use changing commands.
    pub control_group: Option<String>,
    /// `--log-format json`.
    pub log_json: bool,
    /// `--containment`: cgroups where they can be used (`auto`), or forced.
    pub containment: ContainmentMode,
    /// `--init`: behave as PID 1 (for tests in a PID namespace).
    pub init: bool,
    /// `--http ADDR`: serve the status page and metrics there (off: None).
    pub http: Option<std::net::SocketAddr>,
    /// The listening control socket inherited across `gsup reexec`.
    pub inherit_socket_fd: Option<i32>,
}

/// `--containment`: how job processes are held together.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ContainmentMode {
    /// cgroups where the daemon may create them, else the subreaper.
    #[default]
    Auto,
    /// cgroups, or the daemon does not start.
    Cgroup,
    /// The subreaper alone, even where cgroups could be used.
    Subreaper,
}

/// The kernel the daemon runs on, with the containment `mode` asks for.
fn real_sys(mode: ContainmentMode, runtime_dir: &std::path::Path) -> Result<RealSys, String> {
    use crate::contain::{Cgroups, domain_for};
    if mode == ContainmentMode::Subreaper {
        info!("containment: subreaper (--containment subreaper)");
        return Ok(RealSys::with_cgroups(None));
    }
    match Cgroups::detect(&domain_for(runtime_dir)) {
        Ok(domain) => {
            info!(domain = %domain.path().display(), "containment: cgroup");
            Ok(RealSys::with_cgroups(Some(domain)))
        }
        Err(why) if mode == ContainmentMode::Auto => {
            info!("containment: subreaper ({why})");
            Ok(RealSys::with_cgroups(None))
        }
        Err(why) => Err(format!("--containment cgroup: {why}")),
    }
}

/// How the daemon's loop ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// A shutdown: every job stopped and every process left ended.
    Shutdown { reboot: bool },
    /// The daemon could not start or run on; the exit code.
    Fatal(i32),
}

/// Runs the daemon in the foreground until shutdown; returns the exit code.
/// As PID 1 it never returns: it powers off or reboots at the end, and on
/// a fatal error (a panic included) it executes itself again.
pub fn run(opts: DaemonOptions) -> i32 {
    // Before anything is opened: no descriptor of ours may land on 0-2.
    crate::sys::ensure_stdio();
    init_logging(opts.log_json);
    let pid1 = std::process::id() == 1;
    let ended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run_runtime(&opts)))
        .unwrap_or(Ended::Fatal(101));
    match ended {
        Ended::Shutdown { reboot } if pid1 && finish::in_initial_pid_ns() => power_off(reboot),
        Ended::Shutdown { .. } => 0,
        Ended::Fatal(_) if pid1 => start_over(),
        Ended::Fatal(code) => code,
    }
}

fn run_runtime(opts: &DaemonOptions) -> Ended {
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!("cannot build the runtime: {e}");
            return Ended::Fatal(1);
        }
    };
    rt.block_on(daemon(opts.clone()))
}

/// PID 1 of the machine, every process ended: sync, then `reboot(2)`.
/// Never returns: if the kernel refuses, the daemon waits on, reaping.
fn power_off(reboot: bool) -> ! {
    use nix::sys::reboot::RebootMode;
    nix::unistd::sync();
    let mode = if reboot {
        RebootMode::RB_AUTOBOOT
    } else {
        RebootMode::RB_POWER_OFF
    };
    info!(?mode, "calling reboot(2)");
    let Err(e) = nix::sys::reboot::reboot(mode);
    error!("reboot(2) failed: {e}; waiting (reaping) until the machine is turned off");
    loop {
        crate::reap::reap_all();
        std::thread::sleep(Duration::from_secs(1));
    }
}

/// PID 1 after a fatal error: execute the binary again, with the state it
/// saved, once a second until it works. Never returns.
fn start_over() -> ! {
    use std::os::unix::ffi::OsStrExt;
    let orig: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let mut args = reexec::argv(&orig, -1);
    args.truncate(args.len() - 2);
    let cargs: Vec<std::ffi::CString> = args
        .iter()
        .filter_map(|a| std::ffi::CString::new(a.as_bytes()).ok())
        .collect();
    loop {
        std::thread::sleep(Duration::from_secs(1));
        let bin = reexec::binary();
        error!("fatal error as PID 1: executing {} again", bin.display());
        match std::ffi::CString::new(bin.as_os_str().as_bytes()) {
            Ok(path) => {
                let Err(e) = nix::unistd::execv(&path, &cargs);
                error!("cannot execute {}: {e}", bin.display());
            }
            Err(_) => error!("the binary's path holds a NUL byte"),
        }
        crate::reap::reap_all();
    }
}

fn init_logging(json: bool) {
    crate::logs::DaemonLog::install(json);
}

async fn daemon(opts: DaemonOptions) -> Ended {
    crate::sys::tune_allocator();
    // Signal handlers first: a SIGCHLD must not be lost before the first
    // spawn, and no signal may end the daemon once it runs.
    let mut chld = match signal(SignalKind::child()) {
        Ok(s) => s,
        Err(e) => {
            error!("cannot install the SIGCHLD handler: {e}");
            return Ended::Fatal(1);
        }
    };
    let mut sigs = match signals::install() {
        Ok(rx) => rx,
        Err(e) => {
            error!("cannot install signal handlers: {e}");
            return Ended::Fatal(1);
        }
    };
    if let Err(e) = crate::reap::become_subreaper() {
        warn!("cannot become a child subreaper: {e}");
    }
    let started = Instant::now();
    let mut turns: u64 = 0;
    // Before the socket: a busy --http address leaves nothing behind.
    // Without `--http` the source is dropped here and its arm never fires.
    let (source, mut snapshots) = crate::http::loop_source(4);
    if let Some(addr) = opts.http {
        match snapshot::bind_http(addr) {
            Ok(l) => {
                let at = l.local_addr().map_or(addr, |a| a);
                info!("http: listening on {at}");
                tokio::spawn(crate::http::serve(l, source, Default::default()));
            }
            Err(e) if opts.init || nix::unistd::getpid().as_raw() == 1 => {
                error!("cannot bind --http {addr}: {e}; running without it");
            }
            Err(e) => {
                error!("cannot bind --http {addr}: {e}");
                return Ended::Fatal(1);
            }
        }
    }
    let inherited = opts.inherit_socket_fd.and_then(|fd| {
        crate::control::socket::inherit(fd, &opts.socket)
            .inspect_err(|e| error!("{e}; binding the socket afresh"))
            .ok()
    });
    let listener = match inherited.map_or_else(|| server::bind(&opts.socket), Ok) {
        Ok(l) => l,
        Err(e) => {
            error!("cannot bind {}: {e}", opts.socket.display());
            return Ended::Fatal(1);
        }
    };
    // A close-on-exec copy of the listener, handed over on `gsup reexec`.
    let kept_listener = std::os::fd::AsFd::as_fd(&listener)
        .try_clone_to_owned()
        .inspect_err(|e| warn!("no copy of the control socket for reexec: {e}"))
        .ok();
    let (call_tx, mut calls) = mpsc::channel::<Call>(64);
    tokio::spawn(server::serve(listener, access_policy(&opts), call_tx));
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let mut probes = ProbeRunner::new(ready_tx);

    let runtime_dir = crate::control::page::runtime_dir(&opts.socket);
    env::raise_nofile();
    let sys = match real_sys(opts.containment, &runtime_dir) {
        Ok(sys) => sys,
        Err(e) => {
            error!("{e}");
            return Ended::Fatal(1);
        }
    };
    let mut sup = Supervisor::new(Box::new(sys), opts.log_dir.clone(), runtime_dir.clone());
    sup.watch = watch::WatchState::new(opts.cycle, opts.alert_command.clone());
    // The page, the saved state and the notify sockets live in the runtime
    // dir only when it is the daemon's own: never written through a link.
    let own_dir = match page::own_dir(&runtime_dir) {
        Ok(()) => {
            sup.enable_page(crate::control::page::path_for(&opts.socket));
            true
        }
        Err(e) => {
            warn!("no status page: {e}; status goes over the socket, and no state is saved");
            false
        }
    };
    // The state is read and written through this descriptor only: the
    // dir was opened without following a link, and must be the daemon's.
    sup.state_dir = match crate::logs::safe::open_dir_path(&runtime_dir, true) {
        Ok((fd, _)) if own_dir => Some(fd),
        Ok(_) => None,
        Err(e) => {
            warn!("no saved state (jobs are not taken back after a crash): {e}");
            None
        }
    };
    let handed = joblog::handed_over(
        sup.state_dir.as_ref().map(std::os::fd::AsFd::as_fd),
        &runtime_dir,
    );
    sup.start_logs(handed);
    load(&mut sup, &opts);
    let now = Instant::now();
    if !(own_dir && take_back(&mut sup, &runtime_dir, now)) {
        sup.dispatch(&Event {
            name: "startup".into(),
            env: Vec::new(),
        });
        sup.dispatch(&Event {
            name: "runlevel".into(),
            env: vec![
                ("RUNLEVEL".into(), "2".into()),
                ("PREVLEVEL".into(), "N".into()),
            ],
        });
    }
    // Children that ended while no handler was installed (across a
    // re-exec, or before a crash) left a zombie and no SIGCHLD: reap now.
    let reaped = sup.sys.reap();
    sup.on_reaped(reaped, now);
    sup.drain(now);
    sup.publish();
    sup.save_state(Instant::now());
    info!(socket = %opts.socket.display(), jobs = sup.jobs.len(), "ready");

    let (loaded_tx, mut loaded_rx) = mpsc::unbounded_channel();
    while !sup.finished() {
        for cmd in sup.probe_out.drain(..) {
            probes.run(cmd);
        }
        if let Some(dir) = sup.take_load() {
            // Reading and parsing (and user lookups) never run on the loop.
            let tx = loaded_tx.clone();
            tokio::task::spawn_blocking(move || {
                let _ = tx.send(load_checked(&dir));
            });
        }
        turns += 1;
        let deadline = sup.next_deadline();
        let sleep = async move {
            match deadline {
                Some(d) => tokio::time::sleep_until(d.into()).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = chld.recv() => {
                let reaped = sup.sys.reap();
                sup.on_reaped(reaped, Instant::now());
            }
            Some(sig) = sigs.recv() => sup.on_signal(sig, Instant::now()),
            Some(call) = calls.recv() => sup.handle(call, Instant::now()),
            Some(key) = ready_rx.recv() => sup.on_probe_ready(key, Instant::now()),
            ev = sup.sys.next_event() => sup.on_sys_event(ev, Instant::now()),
            Some(loaded) = loaded_rx.recv() => sup.on_loaded(loaded, Instant::now()),
            Some(req) = snapshots.recv() => req.answer(snapshot::http_snapshot(&sup, started, turns)),
            _ = sleep => sup.on_timers(Instant::now()),
        }
        // Before the next await: answers given in this turn go out after it.
        sup.publish();
        sup.save_state(Instant::now());
        if std::mem::take(&mut sup.reexec) {
            reexec::replace(&mut sup, kept_listener.as_ref()).await;
        }
    }
    sup.remove_page();
    // A clean end: the next daemon starts afresh.
    if let Some(dir) = sup.state_dir.as_ref() {
        saved::Saved::remove_at(std::os::fd::AsFd::as_fd(dir));
    }
    let reboot = sup.shutdown.as_ref().is_some_and(|s| s.reboot);
    sup.sys.groups_release();
    finish::end_the_rest(&mut *sup.sys, ends_everything(&opts), finish::TERM_GRACE);
    let _ = std::fs::remove_file(&opts.socket);
    // Only what we made: the notify sockets, then the dir if it is empty.
    if own_dir {
        let _ = std::fs::remove_dir_all(runtime_dir.join("notify"));
        let _ = std::fs::remove_dir(&runtime_dir);
    }
    info!("exiting");
    Ended::Shutdown { reboot }
}

/// Takes back the jobs of a daemon that ran before this one in this boot
/// (its saved state); true when there was one, and then `startup` and
/// `runlevel 2` are not emitted again. Without a state it can read, the
/// jobs are taken back from what their cgroups hold (`Saved::from_groups`)
/// and false is returned: `startup` then starts what does not run, and
/// nothing that runs is started a second time.
fn take_back(sup: &mut Supervisor, runtime_dir: &std::path::Path, now: Instant) -> bool {
    let read = match sup.state_dir.as_ref() {
        Some(dir) => saved::Saved::read_at(std::os::fd::AsFd::as_fd(dir), runtime_dir),
        None => Ok(None),
    };
    let (saved, children, from_state) = match read {
        Ok(Some(s)) if s.this_boot() => {
            // A re-exec keeps the pid: the jobs are still our children.
            let children = s.pid == sup.sys.own_pid();
            (s, children, true)
        }
        Ok(Some(_)) => {
            info!("the saved state is from before the last boot; starting afresh");
            return false;
        }
        Ok(None) => match from_groups(sup) {
            Some((s, c)) => (s, c, false),
            None => return false,
        },
        Err(e) => {
            warn!("cannot read the saved state: {e}");
            match from_groups(sup) {
                Some((s, c)) => (s, c, false),
                None => return false,
            }
        }
    };
    let adopted = sup.adopt(&saved, children, now);
    info!(
        running = adopted.running.len(),
        lost = adopted.lost.len(),
        resting = adopted.resting.len(),
        "jobs taken back from the {} (daemon {}){}",
        if from_state {
            "saved state"
        } else {
            "job groups"
        },
        saved.pid,
        if from_state {
            "; startup not emitted again"
        } else {
            ""
        }
    );
    from_state
}

/// A state made from the job groups that hold processes, when there are any.
fn from_groups(sup: &Supervisor) -> Option<(saved::Saved, bool)> {
    let groups = sup.sys.populated_groups();
    if groups.is_empty() {
        return None;
    }
    let own = sup.sys.own_pid();
    let (saved, children) = saved::Saved::from_groups(&groups, sup.sys.procs(), own);
    warn!(
        groups = groups.len(),
        jobs = saved.instances.len(),
        "no saved state to read, but job groups hold processes: taking those jobs back \
         from their groups (groups of instance jobs are left alone)"
    );
    Some((saved, children))
}

/// Loads the config dir: every good unit off a dependency cycle.
fn load(sup: &mut Supervisor, opts: &DaemonOptions) {
    sup.reload.config_dir = Some(opts.config_dir.clone());
    let (report, _) = load_checked(&opts.config_dir);
    for d in &report.diagnostics {
        warn!("{d}");
    }
    sup.watch_config_dirs(&report.dirs);
    sup.add_jobs(report.jobs);
}

/// Loads `dir` and drops the jobs on a dependency cycle (logged, and returned
/// by name so that reload keeps their old definitions).
pub fn load_checked(dir: &std::path::Path) -> (crate::loader::LoadReport, Vec<String>) {
    let mut report = crate::loader::load_dir(dir);
    let graph = DepGraph::from_jobs(&report.jobs);
    for cycle in graph.cycles() {
        error!("dependency cycle, not loaded: {}", cycle.join(" -> "));
    }
    let cycle: Vec<String> = graph.rejected().iter().cloned().collect();
    report.jobs.retain(|j| !graph.on_cycle(&j.name));
    (report, cycle)
}

/// The shutdown order: the dependency graph's stop waves (start waves reversed).
pub fn stop_waves(sup: &Supervisor) -> Vec<Vec<String>> {
    let graph = DepGraph::build(sup.jobs.defs().map(|d| {
        let start = d.start_on.as_ref().map(|m| m.expr());
        let stop = d.stop_on.as_ref().map(|m| m.expr());
        (d.name.as_str(), start, stop)
    }));
    let mut waves = graph.stop_waves();
    // A job the graph leaves out (on a cycle made by a reload) still stops, first.
    let listed: std::collections::BTreeSet<&String> = waves.iter().flatten().collect();
    let missing: Vec<String> = sup
        .jobs
        .names()
        .filter(|n| !listed.contains(n))
        .cloned()
        .collect();
    if !missing.is_empty() {
        waves.insert(0, missing);
    }
    waves
}

/// Whether the end of a shutdown ends every process (PID 1's duty) or
/// only the daemon's descendants. `--init` asks for PID 1's behaviour in a
/// PID namespace; in the machine's own namespace it is refused, since
/// there it would end processes that are not the daemon's at all.
fn ends_everything(opts: &DaemonOptions) -> bool {
    if std::process::id() == 1 {
        return true;
    }
    if !opts.init {
        return false;
    }
    if finish::in_initial_pid_ns() {
        warn!("--init outside a PID namespace: ending only the daemon's own descendants");
        return false;
    }
    true
}

fn access_policy(opts: &DaemonOptions) -> AccessPolicy {
    let control_gid = opts
        .control_group
        .as_ref()
        .and_then(|g| crate::users::group_id(g).ok().flatten());
    AccessPolicy {
        daemon_uid: nix::unistd::geteuid().as_raw(),
        control_gid,
    }
}
