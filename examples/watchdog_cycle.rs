//! Bench of the watchdog cycle (run by bench/watchdog.sh): CPU time per cycle of
//! `Watchdog::run_cycle` over many watched jobs, each with one `totalmem` check.
//! Reads only /proc of the pids it is given; signals nothing.
//!
//! usage: [WATCHDOG_UNCACHED=1] watchdog_cycle PIDFILE_DIR [CYCLES=100]  one job per pid file
//!        watchdog_cycle --tree PID [CYCLES=100]     one job: PID and all descendants

use gsup::procfs::{CachedProc, RealProc};
use gsup::rule::{Action, Check, Condition, Op, Resource, Value, Window};
use gsup::watchdog::{JobKey, WatchSpec, Watchdog, sample_tree};
use std::time::{Duration, Instant};

fn cpu_seconds() -> (f64, f64) {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    (secs(ru.ru_utime), secs(ru.ru_stime))
}

fn totalmem_check() -> Check {
    Check {
        source: "if totalmem > 300 MB for 3 cycles then restart".into(),
        condition: Condition::Resource {
            resource: Resource::TotalMem,
            op: Op::Gt,
            value: Value::Bytes(300 << 20),
        },
        window: Window::Consecutive(3),
        action: Action::Restart,
    }
}

fn pids_from_dir(dir: &str) -> Vec<i32> {
    let mut pids = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        eprintln!("watchdog_cycle: cannot read {dir}");
        std::process::exit(2);
    };
    for e in entries.flatten() {
        if let Ok(text) = std::fs::read_to_string(e.path())
            && let Ok(pid) = text.trim().parse::<i32>()
        {
            pids.push(pid);
        }
    }
    pids.sort();
    pids
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (jobs_pids, label) = match args.first().map(String::as_str) {
        Some("--tree") => {
            let pid: i32 = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(0);
            (vec![pid], "one job, whole tree")
        }
        Some(dir) => (pids_from_dir(dir), "one job per pid"),
        None => {
            eprintln!("usage: watchdog_cycle PIDFILE_DIR|--tree PID [CYCLES]");
            std::process::exit(2);
        }
    };
    let cycle_arg = if args.first().map(String::as_str) == Some("--tree") {
        2
    } else {
        1
    };
    let cycles: u32 = args
        .get(cycle_arg)
        .and_then(|c| c.parse().ok())
        .unwrap_or(100);

    let cycle = Duration::from_secs(1);
    // WATCHDOG_UNCACHED=1: open+read+close every file every cycle (the first design).
    let uncached = std::env::var_os("WATCHDOG_UNCACHED").is_some();
    let mut w = if uncached {
        Watchdog::with_sampler(cycle, Box::new(CachedProc::with_budget(0)))
    } else {
        Watchdog::new(cycle)
    };
    let label = if uncached {
        format!("{label}, uncached")
    } else {
        format!("{label}, kept-open descriptors")
    };
    let t0 = Instant::now();
    let mut jobs = Vec::new();
    for (i, pid) in jobs_pids.iter().enumerate() {
        let key = JobKey {
            name: format!("p{i}"),
            instance: String::new(),
        };
        let spec = WatchSpec {
            cycle: None,
            checks: vec![totalmem_check()],
            child_checks: vec![],
        };
        w.watch(key.clone(), spec, t0);
        jobs.push((key, *pid, 0u32));
    }
    let procs: usize = jobs_pids
        .iter()
        .map(|&p| sample_tree(&RealProc::default(), p).map_or(0, |s| s.procs.len()))
        .sum();

    // The clock is simulated (one cycle per call) so the figure is CPU, not waiting.
    let (u0, s0) = cpu_seconds();
    let wall0 = Instant::now();
    let mut fired = 0;
    for k in 1..=cycles {
        fired += w.run_cycle(t0 + cycle * k, &jobs).len();
    }
    let wall = wall0.elapsed().as_secs_f64();
    let (u1, s1) = cpu_seconds();
    let per = |x: f64| x / f64::from(cycles) * 1e3;
    println!(
        "watchdog_cycle: {label}: {} jobs, {procs} processes, {cycles} cycles: \
         {:.3} ms CPU per cycle (user {:.3}, sys {:.3}), wall {:.3} ms per cycle, {fired} actions",
        jobs.len(),
        per(u1 - u0 + s1 - s0),
        per(u1 - u0),
        per(s1 - s0),
        per(wall),
    );
    println!(
        "watchdog_cycle: at a 1 s cycle: {:.4} CPU-s per 30 s",
        (u1 - u0 + s1 - s0) / f64::from(cycles) * 30.0
    );
}
