//! The daemon raises its own soft open-file limit (for the watchdog's kept-open
//! /proc files) and gives jobs the limit it started with. Own test binary: it
//! lowers this process's limit first.

mod common;

use common::Daemon;
use std::fs;

fn limits_line(pid: i32) -> String {
    let text = fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
    text.lines()
        .find(|l| l.starts_with("Max open files"))
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .expect("Max open files line")
}

#[test]
fn daemon_raises_its_nofile_and_jobs_keep_the_original() {
    // SAFETY: setrlimit with a valid struct, on this test process alone.
    let rc = unsafe {
        libc::setrlimit(
            libc::RLIMIT_NOFILE,
            &libc::rlimit {
                rlim_cur: 512,
                rlim_max: 4096,
            },
        )
    };
    assert_eq!(rc, 0);
    let out = tempfile::tempdir().expect("tempdir");
    let plain = out.path().join("plain");
    let own = out.path().join("own");
    let unit = |file: &std::path::Path, extra: &str| {
        format!(
            "exec: [sh, -c, \"ulimit -Sn > {f}.tmp; ulimit -Hn >> {f}.tmp; mv {f}.tmp {f}; exec sleep 1000\"]\nready: {{exec: [test, -e, {f}]}}\n{extra}",
            f = file.display()
        )
    };
    let d = Daemon::start(
        &[
            ("plain", &unit(&plain, "")),
            ("own", &unit(&own, "limits: {nofile: [100, 200]}\n")),
        ],
        &[],
    );
    assert_eq!(d.run(&["start", "plain"]).0, 0);
    assert_eq!(d.run(&["start", "own"]).0, 0);
    assert_eq!(fs::read_to_string(&plain).expect("plain"), "512\n4096\n");
    assert_eq!(fs::read_to_string(&own).expect("own"), "100\n200\n");
    assert_eq!(
        limits_line(d.daemon_host_pid()),
        "Max open files 4096 4096 files"
    );
    assert_eq!(d.shutdown(), 0);
}
