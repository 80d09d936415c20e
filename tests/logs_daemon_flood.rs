//! SPEC 7 through the real daemon: a job floods 200 MB of numbered lines into
//! `log: {max_size: 1MB, keep: 2}`; disk, the daemon's memory and descriptors stay bounded.
//!
//! Alone in its binary: the figures (worst `gsup status`, the daemon's RSS,
//! the job's time) are printed, and no other test of this file competes.

mod common;

use common::{Daemon, wait_until};
use std::fs;
use std::path::Path;
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

/// How many descriptors process `pid` holds.
fn fd_count(pid: i32) -> usize {
    fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count())
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
    let d = Daemon::start(&[("flood", &unit)], &[]);
    let daemon = d.daemon_host_pid();
    let fds_before = fd_count(daemon);
    let started = Instant::now();
    let (code, out, err) = d.run(&["start", "flood"]);
    assert_eq!(code, 0, "{out}{err}");

    let (mut worst_status, mut worst_json, mut calls) = (Duration::ZERO, Duration::ZERO, 0u32);
    let (mut peak_rss, mut fds_during) = (0u64, 0usize);
    let (mut blocked, mut samples) = (0u32, 0u32);
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
        peak_rss = peak_rss.max(status_kb(daemon, "VmRSS:").unwrap_or(0));
        fds_during = fds_during.max(fd_count(daemon));
        // Back-pressure: the writer sleeps in pipe_write while the disk catches up.
        for p in d.job_processes() {
            if let Ok(w) = fs::read_to_string(format!("/proc/{p}/wchan")) {
                samples += 1;
                blocked += u32::from(w.trim() == "pipe_write");
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let elapsed = started.elapsed();
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
         (VmHWM {hwm} kB); fds {fds_before} before, {fds_during} during, {} after; writer in \
         pipe_write in {blocked} of {samples} samples",
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

/// A job that crashes and respawns until its limit: one pipe for the whole
/// run, every run's lines and gsup's own in order, and no descriptor left.
#[test]
fn respawns_share_one_pipe_lose_no_line_and_leak_no_fd() {
    let unit = "exec: [sh, -c, \"echo run $$ begins; echo run $$ ends; exit 1\"]\n\
                respawn: true\nrespawn_limit: {count: 4, interval: 60s}\n";
    let d = Daemon::start(&[("crashy", unit)], &[]);
    let daemon = d.daemon_host_pid();
    let before = fd_count(daemon);
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
    // `started` goes into the pipe just after the spawn: the job's first
    // line may come before it, never its last.
    let started: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("gsup: started, pid "))
        .collect();
    assert_eq!(started.len(), 10, "{text}");
    let mut lines = text.lines().filter(|l| !l.starts_with("gsup: started"));
    for (run, pid) in started.iter().enumerate() {
        let begin = format!("run {pid} begins");
        let end = format!("run {pid} ends");
        assert_eq!(lines.next(), Some(begin.as_str()), "{text}");
        assert_eq!(lines.next(), Some(end.as_str()), "{text}");
        let at = |l: &str| text.find(l).expect("line");
        assert!(
            at(&format!("gsup: started, pid {pid}\n")) < at(&end),
            "{text}"
        );
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
