//! What `--http` shows, taken in one loop turn: every status as the socket gives
//! it, at most once a second. It reads no file: each tree is measured off the loop.

use super::core::Supervisor;
use std::time::Instant;

/// Binds `--http ADDR` (std's bind sets `SO_REUSEADDR`, so a restarted
/// daemon gets its port back at once).
pub fn bind_http(addr: std::net::SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let l = std::net::TcpListener::bind(addr)?;
    l.set_nonblocking(true)?;
    tokio::net::TcpListener::from_std(l)
}

/// Every status as `list --json` gives it, the start waves, each
/// instance's log file, and the daemon's counters.
pub fn http_snapshot(sup: &Supervisor, started: Instant, turns: u64) -> crate::http::Snapshot {
    let now = Instant::now();
    // Statuses from the state the loop holds; what measures each tree (its
    // group's open files, the pids to walk) goes to the source, which reads
    // it off the loop.
    let mut trees = Vec::new();
    let mut jobs = Vec::new();
    // One pass over the instances, in the order of the names (the same
    // order `list` gives), rather than a lookup of each.
    let mut instances = sup.jobs.instances().peekable();
    for name in sup.jobs.names() {
        let mut any = false;
        while let Some((key, inst)) = instances.next_if(|(k, _)| k.0 <= *name) {
            any |= key.0 == *name;
            let st = sup.status_from(key, inst, now);
            if let Some(main) = st.pid {
                trees.push(sup.measure_of(key, main, jobs.len()));
            }
            jobs.push(st);
        }
        if !any {
            jobs.extend(sup.lines_of(name, |_| None));
        }
    }
    let mut waves = sup.jobs.waves(|| super::stop_waves(sup)).to_vec();
    waves.reverse();
    let logs = crate::http::LogFiles {
        dir: Some(sup.launcher.log_dir.clone()),
        elsewhere: sup
            .jobs
            .defs()
            .filter(|d| d.unit.console != crate::unit::Console::Log)
            .map(|d| d.name.clone())
            .collect(),
    };
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
        trees,
    }
}
