//! The supervisor: the one owner of all job state and the one event loop that
//! turns signals, control requests, probe results and timers into job inputs.
//! The loop only waits and forwards; every decision is in `core` and `job`.

pub mod core;
pub mod env;
pub mod follow;
pub mod page;
pub mod readiness;
pub mod reload;
pub mod requests;
pub mod seams;
pub mod shutdown;
pub mod timers;
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
    /// `--http ADDR`: serve the status page and metrics there (off: None).
    pub http: Option<std::net::SocketAddr>,
}

/// Runs the daemon in the foreground until shutdown; returns the exit code.
pub fn run(opts: DaemonOptions) -> i32 {
    init_logging(opts.log_json);
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            error!("cannot build the runtime: {e}");
            return 1;
        }
    };
    rt.block_on(daemon(opts))
}

fn init_logging(json: bool) {
    use std::io::IsTerminal;
    let b = tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        // A log line that cannot be written is lost, not reported: the
        // report would go to the same closed stderr, where `eprintln!` panics.
        .log_internal_errors(false)
        .with_target(false)
        .with_ansi(std::io::stderr().is_terminal());
    let _ = if json {
        b.json().try_init()
    } else {
        b.try_init()
    };
}

async fn daemon(opts: DaemonOptions) -> i32 {
    crate::sys::tune_allocator();
    // Signal streams first: a SIGCHLD must not be lost before the first spawn.
    let streams = (
        signal(SignalKind::child()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
        signal(SignalKind::user_defined1()),
    );
    let (Ok(mut chld), Ok(mut term), Ok(mut int), Ok(mut usr1)) = streams else {
        error!("cannot install signal handlers");
        return 1;
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
        match bind_http(addr) {
            Ok(l) => {
                let at = l.local_addr().map_or(addr, |a| a);
                info!("http: listening on {at}");
                tokio::spawn(crate::http::serve(l, source, Default::default()));
            }
            Err(e) if nix::unistd::getpid().as_raw() == 1 => {
                error!("cannot bind --http {addr}: {e}; running without it");
            }
            Err(e) => {
                error!("cannot bind --http {addr}: {e}");
                return 1;
            }
        }
    }

    let listener = match server::bind(&opts.socket) {
        Ok(l) => l,
        Err(e) => {
            error!("cannot bind {}: {e}", opts.socket.display());
            return 1;
        }
    };
    let (call_tx, mut calls) = mpsc::channel::<Call>(64);
    tokio::spawn(server::serve(listener, access_policy(&opts), call_tx));
    let (ready_tx, mut ready_rx) = mpsc::unbounded_channel();
    let mut probes = ProbeRunner::new(ready_tx);
    let runtime_dir = crate::control::page::runtime_dir(&opts.socket);
    env::raise_nofile();
    let mut sup = Supervisor::new(Box::new(RealSys), opts.log_dir.clone(), runtime_dir);
    sup.watch = watch::WatchState::new(opts.cycle, opts.alert_command.clone());
    sup.follow.enable();
    match page::own_dir(&sup.runtime_dir) {
        Ok(()) => sup.enable_page(crate::control::page::path_for(&opts.socket)),
        Err(e) => warn!("no status page: {e}; status goes over the socket"),
    }
    load(&mut sup, &opts);
    let (cfg_tx, mut cfg_rx) = mpsc::unbounded_channel();
    let _watcher = reload::watch_config(&opts.config_dir, cfg_tx);
    let now = Instant::now();
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
    sup.drain(now);
    sup.publish();
    info!(socket = %opts.socket.display(), jobs = sup.defs.len(), "ready");

    while !sup.finished() {
        turns += 1;
        for cmd in sup.probe_out.drain(..) {
            probes.run(cmd);
        }
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
            _ = term.recv() => sup.begin_shutdown(false, Instant::now()),
            _ = int.recv() => sup.begin_shutdown(false, Instant::now()),
            _ = usr1.recv() => info!("SIGUSR1: the daemon log is stderr; nothing to reopen"),
            Some(call) = calls.recv() => sup.handle(call, Instant::now()),
            Some(key) = ready_rx.recv() => sup.on_probe_ready(key, Instant::now()),
            Some(()) = cfg_rx.recv() => sup.on_config_changed(Instant::now()),
            wake = sup.follow.next() => sup.on_follow_wake(wake, Instant::now()),
            Some(req) = snapshots.recv() => req.answer(http_snapshot(&sup, started, turns)),
            _ = sleep => sup.on_timers(Instant::now()),
        }
        // Before the next await: answers given in this turn go out after it.
        sup.publish();
    }
    sup.remove_page();
    kill_leftovers(&mut sup);
    let _ = std::fs::remove_file(&opts.socket);
    // Only what we made: the notify sockets, then the dir if it is empty.
    let _ = std::fs::remove_dir_all(sup.runtime_dir.join("notify"));
    let _ = std::fs::remove_dir(&sup.runtime_dir);
    info!("exiting");
    0
}

/// Loads the config dir: every good unit off a dependency cycle.
fn load(sup: &mut Supervisor, opts: &DaemonOptions) {
    sup.config_dir = Some(opts.config_dir.clone());
    let (report, _) = load_checked(&opts.config_dir);
    for d in &report.diagnostics {
        warn!("{d}");
    }
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
    for j in report.jobs.iter().filter(|j| j.unit.log.max_size.is_some()) {
        warn!(job = %j.name, "`log: max_size` is accepted, but log rotation is not built yet: the log grows without bound");
    }
    (report, cycle)
}

/// The shutdown order: the dependency graph's stop waves (start waves reversed).
pub fn stop_waves(sup: &Supervisor) -> Vec<Vec<String>> {
    let graph = DepGraph::build(sup.defs.values().map(|d| {
        let start = d.start_on.as_ref().map(|m| m.expr());
        let stop = d.stop_on.as_ref().map(|m| m.expr());
        (d.name.as_str(), start, stop)
    }));
    let mut waves = graph.stop_waves();
    // A job the graph leaves out (on a cycle made by a reload) still stops, first.
    let listed: std::collections::BTreeSet<&String> = waves.iter().flatten().collect();
    let missing: Vec<String> = sup
        .defs
        .keys()
        .filter(|n| !listed.contains(n))
        .cloned()
        .collect();
    if !missing.is_empty() {
        waves.insert(0, missing);
    }
    waves
}

/// Binds `--http ADDR` (std's bind sets `SO_REUSEADDR`, so a restarted
/// daemon gets its port back at once).
fn bind_http(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(l)
}

/// What `--http` shows, taken in one loop turn from the state the loop
/// holds (no /proc read: the source reads unwatched jobs' memory off the
/// loop): every status as `list --json` gives it, the start waves, each
/// instance's log file, the counters.
fn http_snapshot(sup: &Supervisor, started: Instant, turns: u64) -> crate::http::Snapshot {
    let now = Instant::now();
    let jobs: Vec<_> = sup
        .defs
        .keys()
        .flat_map(|name| sup.lines_of(name, |k| sup.held_status(k, now)))
        .collect();
    let mut waves = stop_waves(sup);
    waves.reverse();
    let logs = jobs
        .iter()
        .filter(|j| {
            sup.defs
                .get(&j.name)
                .is_some_and(|d| d.unit.console == crate::unit::Console::Log)
        })
        .map(|j| {
            let key = (j.name.clone(), j.instance.clone());
            (key, env::log_path(&sup.log_dir, &j.name, &j.instance))
        })
        .collect();
    crate::http::Snapshot {
        taken: std::time::SystemTime::now(),
        jobs,
        waves,
        logs,
        daemon: crate::http::DaemonStats {
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            uptime_s: now.saturating_duration_since(started).as_secs(),
            rss_bytes: None,
            open_fds: None,
            loop_turns: turns,
            reaped: sup.reaped_total,
            spawn_failures: sup.spawn_failures_total,
        },
    }
}

/// After the last wave: SIGKILL to every child still left (orphans of jobs
/// re-parented to us, which left their job's group), then reap them, so that
/// the daemon exits leaving no process behind. Only our own children are touched.
fn kill_leftovers(sup: &mut Supervisor) {
    let mut left = own_children();
    if left.is_empty() {
        return;
    }
    warn!(pids = ?left, "killing processes left after the last job stopped");
    for &pid in &left {
        let _ = sup
            .sys
            .signal(crate::sys::KillTarget::Pid(pid), crate::unit::Signal::KILL);
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while !left.is_empty() && Instant::now() < deadline {
        let reaped = sup.sys.reap();
        left.retain(|p| !reaped.iter().any(|(r, _)| r == p));
        if !left.is_empty() {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
}

/// Pids of this process's children, from /proc/self/task/*/children.
fn own_children() -> Vec<i32> {
    let mut out = Vec::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for t in tasks.flatten() {
        if let Ok(s) = std::fs::read_to_string(t.path().join("children")) {
            out.extend(s.split_whitespace().filter_map(|w| w.parse::<i32>().ok()));
        }
    }
    out
}

fn access_policy(opts: &DaemonOptions) -> AccessPolicy {
    let control_gid = opts
        .control_group
        .as_ref()
        .and_then(|g| match g.parse::<u32>() {
            Ok(id) => Some(id),
            Err(_) => nix::unistd::Group::from_name(g)
                .ok()
                .flatten()
                .map(|gr| gr.gid.as_raw()),
        });
    AccessPolicy {
        daemon_uid: nix::unistd::geteuid().as_raw(),
        control_gid,
    }
}
