//! SPEC 7 through the real daemon: a job floods 200 MB of numbered lines into
//! `log: {max_size: 1MB, keep: 2}`; disk, the daemon's memory and descriptors stay bounded.
//!
//! Alone in its binary: the figures (worst `gsup status`, the daemon's RSS,
//! the job's time) are printed, and no other test of this file competes.

mod common;

use common::{Daemon, wait_until};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const MAX: u64 = 1 << 20;
/// `seq 1 N` writes about 204 MB.
const N: u64 = 25_000_000;

/// A `kB` field of `/proc/PID/status`.
fn status_kb(pid: i32, field: &str) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
}

/// A task run once before counting descriptors: the spawner keeps one
/// `/dev/null` open for every child's stdin from its first spawn on.
const WARM: &str = "type: task\nexec: [true]\n";

/// The daemon's descriptors once `warm` has run and its log is closed.
fn warmed_fds(d: &Daemon, daemon: i32) -> usize {
    assert_eq!(d.run(&["start", "warm"]).0, 0);
    let mut last = 0;
    wait_until(Duration::from_secs(10), "fds settle", || {
        let now = fd_count(daemon);
        std::mem::replace(&mut last, now) == now
    });
    last
}

/// How many descriptors process `pid` holds.
fn fd_count(pid: i32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
}

/// Samples, every millisecond, the daemon's RSS and whether the writer is
/// asleep on its full pipe (`wchan` `pipe_write`: back-pressure).
struct Sampler {
    stop: Arc<AtomicBool>,
    thread: JoinHandle<(u64, u32, u32)>,
}

impl Sampler {
    fn start(daemon: i32, writers: Vec<i32>) -> Sampler {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::spawn(move || {
            let (mut rss, mut blocked, mut samples) = (0, 0, 0);
            while !flag.load(Ordering::Relaxed) {
                rss = status_kb(daemon, "VmRSS:").unwrap_or(0).max(rss);
                for p in &writers {
                    if let Ok(w) = fs::read_to_string(format!("/proc/{p}/wchan")) {
                        samples += 1;
                        // `pipe_write`, or `anon_pipe_write` on newer kernels.
                        blocked += u32::from(w.trim().ends_with("pipe_write"));
                    }
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            (rss, blocked, samples)
        });
        Sampler { stop, thread }
    }

    /// The peak RSS (kB), and of how many samples the writer was blocked.
    fn stop(self) -> (u64, u32, u32) {
        self.stop.store(true, Ordering::Relaxed);
        self.thread.join().expect("sampler")
    }
}

/// The numbers of a log file, gsup's own lines left out; panics on a line
/// that is neither (a split line).
fn numbers(path: &Path) -> Vec<u64> {
    let text = fs::read_to_string(path).expect("read log");
    text.lines()
        .filter(|l| !l.starts_with("gsup: "))
        .map(|l| {
            l.parse()
                .unwrap_or_else(|_| panic!("{path:?}: not a whole line: {l:?}"))
        })
        .collect()
}

#[test]
fn a_200_mb_flood_through_the_daemon_keeps_3_mb_every_kept_line_and_a_quick_status() {
    let unit = format!("exec: [seq, \"1\", \"{N}\"]\nlog: {{max_size: 1MB, keep: 2}}\n");
    let d = Daemon::start(&[("flood", &unit), ("warm", WARM)], &[]);
    let daemon = d.daemon_host_pid();
    let fds_before = warmed_fds(&d, daemon);
    // The same writer alone, into /dev/null: how fast it goes unhindered.
    let t = Instant::now();
    let alone = Command::new("seq")
        .args(["1", &N.to_string()])
        .stdout(Stdio::null())
        .status()
        .expect("seq");
    assert!(alone.success());
    let alone = t.elapsed();

    let started = Instant::now();
    let (code, out, err) = d.run(&["start", "flood"]);
    assert_eq!(code, 0, "{out}{err}");
    let sampler = Sampler::start(daemon, d.job_processes());

    let (mut worst_status, mut worst_json, mut calls) = (Duration::ZERO, Duration::ZERO, 0u32);
    let mut fds_during = 0usize;
    let mut done = false;
    while !done {
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "the flood did not end"
        );
        let t = Instant::now();
        let (_, line, _) = d.run(&["status", "flood"]);
        worst_status = worst_status.max(t.elapsed());
        let t = Instant::now();
        let _ = d.run(&["status", "--json", "flood"]);
        worst_json = worst_json.max(t.elapsed());
        calls += 1;
        done = line.starts_with("flood stop/");
        fds_during = fds_during.max(fd_count(daemon));
        std::thread::sleep(Duration::from_millis(20));
    }
    let elapsed = started.elapsed();
    let (peak_rss, blocked, samples) = sampler.stop();
    assert!(
        blocked > 0,
        "the writer never waited on its pipe: no back-pressure seen"
    );
    let hwm = status_kb(daemon, "VmHWM:").unwrap_or(0);
    let st = d.status_json("flood");
    assert_eq!(st["last_exit"], "exit 0", "seq was not hurt: {st}");

    let dir = &d.logs;
    wait_until(Duration::from_secs(30), "gsup's last line", || {
        fs::read_to_string(dir.join("flood.log")).is_ok_and(|t| t.ends_with("gsup: exited 0\n"))
    });
    wait_until(Duration::from_secs(10), "fds back to before", || {
        fd_count(daemon) == fds_before
    });
    eprintln!(
        "daemon flood: {:.0} MB in {elapsed:.2?} ({:.1} MB/s); worst `gsup status` {worst_status:.2?}, \
         worst `status --json` {worst_json:.2?} over {calls} calls; daemon RSS peak {peak_rss} kB \
         (VmHWM {hwm} kB); fds {fds_before} before, {fds_during} during, {} after; the writer \
         asleep on its full pipe in {blocked} of {samples} samples; alone into /dev/null it \
         takes {alone:.2?}",
        (1..=N).map(|i| i.ilog10() as u64 + 2).sum::<u64>() as f64 / 1e6,
        204.0 / elapsed.as_secs_f64(),
        fd_count(daemon)
    );
    assert!(peak_rss < 32 * 1024, "daemon RSS {peak_rss} kB");
    assert!(hwm < 32 * 1024, "daemon VmHWM {hwm} kB");
    // Loose: a loaded 2-core machine may be slow; the figure is printed above.
    assert!(
        worst_status < Duration::from_secs(2),
        "status took {worst_status:?}"
    );

    let mut names: Vec<String> = fs::read_dir(dir)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("flood"))
        .collect();
    names.sort();
    assert_eq!(names, ["flood.log", "flood.log.1", "flood.log.2"]);
    let files = ["flood.log.2", "flood.log.1", "flood.log"].map(|n| dir.join(n));
    let mut on_disk = 0;
    let mut kept: Vec<u64> = Vec::new();
    for p in &files {
        let len = fs::metadata(p).expect("meta").len();
        assert!(len <= MAX, "{p:?} is {len} bytes");
        on_disk += len;
        kept.extend(numbers(p));
    }
    assert!(on_disk <= 3 * MAX, "{on_disk} bytes on disk");
    assert_eq!(kept.last(), Some(&N), "the last line is there");
    let gap = kept.windows(2).position(|w| w[1] != w[0] + 1);
    assert_eq!(gap, None, "a gap or a split line among the kept lines");
    assert!(kept.len() > 250_000, "{} lines kept", kept.len());
    assert_eq!(d.shutdown(), 0);
}

/// A job that crashes and respawns until its limit, twice: every run's lines
/// and gsup's own in order, none lost, and no descriptor left.
#[test]
fn respawns_lose_no_line_keep_order_and_leak_no_fd() {
    let unit = "exec: [sh, -c, \"echo run $$$$ begins; echo run $$$$ ends; exit 1\"]\n\
                respawn: true\nrespawn_limit: {count: 4, interval: 60s}\n";
    let d = Daemon::start(&[("crashy", unit), ("warm", WARM)], &[]);
    let daemon = d.daemon_host_pid();
    let before = warmed_fds(&d, daemon);
    // Ready when spawned: `start` may answer before the first crash.
    let _ = d.run(&["start", "crashy"]);
    wait_until(Duration::from_secs(10), "crashy failed", || {
        d.run(&["status", "crashy"]).1.trim() == "crashy stop/failed"
    });
    let (code, _, err) = d.run(&["start", "--no-wait", "crashy"]);
    assert_eq!(code, 0, "{err}");
    wait_until(Duration::from_secs(10), "crashy failed again", || {
        d.run(&["status", "crashy"]).1.trim() == "crashy stop/failed"
    });
    let log = d.logs.join("crashy.log");
    wait_until(Duration::from_secs(10), "the last line", || {
        fs::read_to_string(&log)
            .is_ok_and(|t| t.matches("gsup: stopped: respawn limit").count() == 2)
    });
    let text = fs::read_to_string(&log).expect("log");
    // The pipe of each main process is read only once gsup's `started`
    // line is written: every run's lines in order, none missing.
    let mut lines = text.lines();
    for run in 0..10 {
        let started = lines.next().expect("started");
        let pid = started
            .strip_prefix("gsup: started, pid ")
            .unwrap_or_else(|| panic!("run {run}: {started:?} in\n{text}"));
        let begin = format!("run {pid} begins");
        let end = format!("run {pid} ends");
        assert_eq!(lines.next(), Some(begin.as_str()), "{text}");
        assert_eq!(lines.next(), Some(end.as_str()), "{text}");
        assert_eq!(lines.next(), Some("gsup: exited 1"), "{text}");
        if run % 5 < 4 {
            let want = format!("gsup: respawning (restart {})", run - run / 5 + 1);
            assert_eq!(lines.next(), Some(want.as_str()), "{text}");
        } else {
            let want = "gsup: stopped: respawn limit (4 in 1m)";
            assert_eq!(lines.next(), Some(want), "{text}");
        }
    }
    assert_eq!(lines.next(), None, "{text}");
    let st = d.status_json("crashy");
    assert_eq!(st["last_exit"], "exit 1 (respawn limit)", "{st}");
    wait_until(Duration::from_secs(10), "fds back to before", || {
        fd_count(daemon) == before
    });
    assert_eq!(d.shutdown(), 0);
}
