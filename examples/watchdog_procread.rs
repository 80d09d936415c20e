//! Bench of the ways to read one process's figures from /proc (run by bench/watchdog.sh):
//! open+read+close per cycle vs pread on a descriptor kept open, for stat and children.
//! Reads only /proc of the pids it is given; signals nothing.
//!
//! usage: watchdog_procread PIDFILE_DIR [ROUNDS=100]

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;

fn cpu_seconds() -> f64 {
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage fills the struct we own.
    unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

fn timed(label: &str, rounds: u32, n: usize, mut f: impl FnMut()) {
    let c0 = cpu_seconds();
    for _ in 0..rounds {
        f();
    }
    let per = (cpu_seconds() - c0) / f64::from(rounds);
    println!(
        "watchdog_procread: {label:<40} {:.3} ms per round of {n} ({:.2} us each)",
        per * 1e3,
        per * 1e6 / n as f64
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dir = args.first().cloned().unwrap_or_default();
    let rounds: u32 = args.get(1).and_then(|c| c.parse().ok()).unwrap_or(100);
    let mut pids: Vec<i32> = Vec::new();
    for e in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        if let Ok(t) = std::fs::read_to_string(e.path())
            && let Ok(p) = t.trim().parse()
        {
            pids.push(p);
        }
    }
    let n = pids.len();
    let mut buf = String::with_capacity(1024);
    let mut raw = vec![0u8; 4096];
    for file in ["stat", "statm", "schedstat"] {
        timed(
            &format!("open+read+close /proc/PID/{file}"),
            rounds,
            n,
            || {
                for p in &pids {
                    buf.clear();
                    if let Ok(mut f) = File::open(format!("/proc/{p}/{file}")) {
                        let _ = f.read_to_string(&mut buf);
                    }
                }
            },
        );
    }
    timed("open+read+close task/PID/children", rounds, n, || {
        for p in &pids {
            buf.clear();
            if let Ok(mut f) = File::open(format!("/proc/{p}/task/{p}/children")) {
                let _ = f.read_to_string(&mut buf);
            }
        }
    });
    for file in ["stat", "statm", "schedstat"] {
        let fds: Vec<File> = pids
            .iter()
            .filter_map(|p| File::open(format!("/proc/{p}/{file}")).ok())
            .collect();
        timed(
            &format!("pread on kept-open /proc/PID/{file}"),
            rounds,
            n,
            || {
                for f in &fds {
                    let _ = f.read_at(&mut raw, 0);
                }
            },
        );
    }
    let child_fds: Vec<File> = pids
        .iter()
        .filter_map(|p| File::open(format!("/proc/{p}/task/{p}/children")).ok())
        .collect();
    timed("pread on kept-open task/PID/children", rounds, n, || {
        for f in &child_fds {
            let _ = f.read_at(&mut raw, 0);
        }
    });
}
