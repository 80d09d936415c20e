//! A timing probe, not a correctness test: `spawn` of N `sleep`s through the
//! library, against the cold-start target. Ignored by default; run with
//! `cargo test --release --test spawn_bench -- --ignored --nocapture`.
//! ONE test: it reaps with reap_all, which takes any child of this process.

use gsup::reap::reap_all;
use gsup::spawn::{SpawnSpec, Stdio, spawn, start};
use gsup::sys::{KillTarget, RealSys, Sys};
use gsup::unit::Signal;
use std::time::{Duration, Instant};

#[test]
#[ignore]
fn spawn_1000_sleeps() {
    let n: usize = std::env::var("SPAWN_BENCH_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1000);
    let dir = tempfile::tempdir().expect("tempdir");
    let specs: Vec<SpawnSpec> = (0..n)
        .map(|i| SpawnSpec {
            argv: vec!["sleep".into(), "100000".into()],
            env: vec![
                ("PATH".into(), gsup::spawn::DEFAULT_PATH.into()),
                ("GSUP_JOB".into(), format!("job{i}")),
                ("GSUP_INSTANCE".into(), String::new()),
            ],
            stdio: Stdio::File(dir.path().join(format!("job{i}.log"))),
            ..SpawnSpec::default()
        })
        .collect();
    let t = Instant::now();
    let mut pids: Vec<i32> = specs.iter().map(|s| spawn(s).expect("spawn")).collect();
    let took = t.elapsed();
    println!(
        "spawn() x {n}: {:.3} s ({:.0} us each, each returns once its child has exec'd)",
        took.as_secs_f64(),
        took.as_secs_f64() * 1e6 / n as f64
    );
    let t = Instant::now();
    let started: Vec<_> = specs.iter().map(|s| start(s).expect("start")).collect();
    pids.extend(started.into_iter().map(|s| s.wait().expect("exec")));
    let took = t.elapsed();
    println!(
        "start() x {n} then wait() each: {:.3} s (all exec'd)",
        took.as_secs_f64()
    );
    let mut sys = RealSys;
    for &pid in &pids {
        sys.signal(KillTarget::Group(pid), Signal::KILL)
            .expect("kill own child");
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut left = pids.len();
    while left > 0 {
        left -= reap_all().len();
        assert!(Instant::now() < deadline, "{left} children not reaped");
        std::thread::sleep(Duration::from_millis(1));
    }
}
