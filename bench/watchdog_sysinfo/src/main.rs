//! Comparison bench: CPU per cycle of sysinfo's `refresh_processes_specifics` over
//! the given pids (memory + CPU only), as gsup's watchdog would need every cycle.
//! Reads /proc through sysinfo only; signals nothing.
//!
//! usage: watchdog_sysinfo PIDFILE_DIR [CYCLES=100]

use sysinfo::{Pid, ProcessRefreshKind, ProcessesToUpdate, System};

fn cpu_seconds() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args.first().cloned().unwrap_or_default();
    let cycles: u32 = args.get(1).and_then(|c| c.parse().ok()).unwrap_or(100);
    let mut pids: Vec<Pid> = Vec::new();
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if let Ok(t) = std::fs::read_to_string(e.path()) {
            if let Ok(p) = t.trim().parse::<usize>() {
                pids.push(Pid::from(p));
            }
        }
    }
    let kind = ProcessRefreshKind::nothing().with_memory().with_cpu();
    let Ok(mut sys) = System::new() else {
        eprintln!("watchdog_sysinfo: sysinfo unavailable");
        std::process::exit(1);
    };
    sys.refresh_processes_specifics(ProcessesToUpdate::Some(&pids), true, kind);
    let c0 = cpu_seconds();
    let mut mem = 0u64;
    for _ in 0..cycles {
        sys.refresh_processes_specifics(ProcessesToUpdate::Some(&pids), true, kind);
        mem = pids.iter().filter_map(|p| sys.process(*p)).map(|p| p.memory()).sum();
    }
    let c1 = cpu_seconds();
    println!(
        "watchdog_sysinfo: {} pids, {cycles} cycles: {:.3} ms CPU per cycle (memory+cpu refresh, \
         no descendant discovery); total rss {} MB",
        pids.len(),
        (c1 - c0) / f64::from(cycles) * 1e3,
        mem >> 20
    );
}
