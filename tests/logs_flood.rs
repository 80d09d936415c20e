//! A job writing numbered lines as fast as it can, 200 MB through the log
//! thread with `{max_size: 1MB, keep: 2}`: bounded disk and memory, exact
//! rotation, nothing lost. Alone in its binary so the memory figure is its own.

use gsup::logs::{LogHub, LogId, LogSpec};
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Instant;

const MAX: u64 = 1 << 20;
/// `seq 1 N` writes about 204 MB.
const N: u64 = 25_000_000;

/// A field of `/proc/self/status` in kB.
fn status_kb(field: &str) -> u64 {
    let s = fs::read_to_string("/proc/self/status").expect("status");
    s.lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse().ok())
        .expect("field")
}

/// The first and last number of each file the rotation rule makes of
/// `1..=n`, one per line, oldest first (only the last `keep + 1`).
fn expected_files(n: u64, max: u64, keep: usize) -> Vec<(u64, u64)> {
    let mut files = std::collections::VecDeque::new();
    let (mut first, mut size) = (1u64, 0u64);
    for i in 1..=n {
        let len = i.ilog10() as u64 + 2;
        if size > 0 && size + len > max {
            files.push_back((first, i - 1));
            if files.len() > keep {
                files.pop_front();
            }
            first = i;
            size = 0;
        }
        size += len;
    }
    files.push_back((first, n));
    if files.len() > keep + 1 {
        files.pop_front();
    }
    files.into_iter().collect()
}

fn numbers(text: &str) -> Vec<u64> {
    text.lines()
        .map(|l| {
            l.parse()
                .unwrap_or_else(|_| panic!("not a whole number line: {l:?}"))
        })
        .collect()
}

#[test]
fn a_flood_of_200_mb_keeps_3_mb_and_every_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("log");
    let spec = LogSpec {
        max_size: Some(MAX),
        keep: 2,
        timestamps: false,
    };
    let rss_before = status_kb("VmRSS:");
    let started = Instant::now();
    let mut hub = LogHub::start(&dir).expect("hub");
    let id = LogId::new("flood", "");
    let w = hub.open(&id, spec).expect("open");
    let mut seq = Command::new("seq")
        .args(["1", &N.to_string()])
        .stdout(Stdio::from(w))
        .stderr(Stdio::inherit())
        .spawn()
        .expect("seq");
    // Sample our memory while the flood runs (the log thread is in this process).
    let mut peak = 0;
    let status = loop {
        peak = peak.max(status_kb("VmRSS:"));
        if let Some(s) = seq.try_wait().expect("wait") {
            break s;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    assert!(
        status.success(),
        "seq was not slowed down but hurt: {status}"
    );
    hub.close(&id);
    // Dropping the hub writes what the pipe still holds, then ends the thread.
    drop(hub);
    let elapsed = started.elapsed();
    peak = peak.max(status_kb("VmRSS:"));
    let growth_kb = peak.saturating_sub(rss_before);
    eprintln!(
        "flood: {:.0} MB in {elapsed:.2?}; RSS before {rss_before} kB, peak {peak} kB (+{growth_kb} kB), VmHWM {} kB",
        (1..=N).map(|i| i.ilog10() as u64 + 2).sum::<u64>() as f64 / 1e6,
        status_kb("VmHWM:")
    );
    assert!(growth_kb < 16 * 1024, "the hub side grew by {growth_kb} kB");

    let mut names: Vec<String> = fs::read_dir(&dir)
        .expect("ls")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["flood.log", "flood.log.1", "flood.log.2"]);
    let path = |n: &str| dir.join(n);
    let files = [path("flood.log.2"), path("flood.log.1"), path("flood.log")];
    let on_disk: u64 = files
        .iter()
        .map(|p| fs::metadata(p).expect("meta").len())
        .sum();
    assert!(on_disk <= 3 * MAX, "{on_disk} bytes on disk");
    let want = expected_files(N, MAX, 2);
    for (p, (first, last)) in files.iter().zip(&want) {
        let nums = numbers(&fs::read_to_string(p).expect("read"));
        assert!(fs::metadata(p).expect("meta").len() <= MAX, "{p:?}");
        assert_eq!(
            (nums.first().copied(), nums.last().copied()),
            (Some(*first), Some(*last)),
            "{p:?}: rotated elsewhere than the rule says, so a byte was lost or added"
        );
        assert!(
            nums.windows(2).all(|w| w[1] == w[0] + 1),
            "{p:?}: a gap or a split line"
        );
    }
    assert_no_tail_files(&dir);
}

fn assert_no_tail_files(dir: &Path) {
    for e in fs::read_dir(dir).expect("ls") {
        let name = e.expect("entry").file_name();
        assert!(!name.to_string_lossy().ends_with(".tail"), "{name:?} left");
    }
}
