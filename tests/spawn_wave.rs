//! A start wave through the real daemon, each child spawned as posix_spawn
//! does: good and failing jobs mixed in one wave.

mod common;

use common::{Daemon, wait_until};
use std::time::Duration;

const T: Duration = Duration::from_secs(30);

/// 300 jobs start together: 200 run `sleep`, 50 name a missing binary (exec
/// fails after PATH search), 50 a missing `chdir` (fails before exec).
/// Each job must end in its own
/// state with its own reason, the daemon must live on, and nothing is left.
#[test]
fn a_mixed_wave_of_300_ends_each_job_in_its_own_state() {
    let mut units = Vec::new();
    for i in 0..300 {
        let body = match i % 6 {
            0 => "exec: [gsup-no-such-binary-wave]\nstart_on: startup\n",
            1 => "exec: [sleep, \"1000\"]\nchdir: /gsup-no-such-dir\nstart_on: startup\n",
            _ => "exec: [sleep, \"1000\"]\nstart_on: startup\n",
        };
        units.push((format!("job{i:03}"), body));
    }
    let refs: Vec<(&str, &str)> = units.iter().map(|(n, b)| (n.as_str(), *b)).collect();
    let d = Daemon::start(&refs, &[]);
    let settled = || {
        let (_, out, _) = d.run(&["list"]);
        let running = out.lines().filter(|l| l.contains("start/running")).count();
        let failed = out.lines().filter(|l| l.contains("stop/failed")).count();
        (running, failed)
    };
    wait_until(T, "200 running and 100 failed", || settled() == (200, 100));
    for i in 0..300 {
        let name = format!("job{i:03}");
        let (code, out, _) = d.run(&["status", "-v", &name]);
        match i % 6 {
            0 => {
                assert_eq!(code, 3, "{name}: {out}");
                assert!(
                    out.contains("exec") && out.contains("No such file"),
                    "{name}: {out}"
                );
            }
            1 => {
                assert_eq!(code, 3, "{name}: {out}");
                assert!(out.contains("chdir"), "{name}: {out}");
            }
            _ => assert_eq!(code, 0, "{name}: {out}"),
        }
    }
    assert_eq!(d.job_processes().len(), 200, "one sleep per good job");
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}
