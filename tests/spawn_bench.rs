//! A timing probe, not a correctness test: `spawn` of N `sleep`s through the
//! library, against the cold-start target. Ignored by default; run with
//! `cargo test --release --test spawn_bench -- --ignored --nocapture`.
//! ONE test: it reaps with reap_all, which takes any child of this process.

use gsup::reap::reap_all;
use gsup::spawn::{SpawnSpec, Spawner, Stdio};
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
    let (_, hard) = nix::sys::resource::getrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE)
        .expect("getrlimit");
    nix::sys::resource::setrlimit(nix::sys::resource::Resource::RLIMIT_NOFILE, hard, hard)
        .expect("setrlimit");
    let mut pids = Vec::new();
    let report = |what: &str, t: Instant| {
        let took = t.elapsed().as_secs_f64();
        println!(
            "{what} x {n}: {took:.3} s ({:.0} us each)",
            took * 1e6 / n as f64
        );
    };
    let mut spawner = Spawner::new();
    let t = Instant::now();
    pids.extend(specs.iter().map(|s| spawner.spawn(s).expect("spawn")));
    report("spawn(), creating each log file", t);
    let t = Instant::now();
    pids.extend(specs.iter().map(|s| spawner.spawn(s).expect("spawn")));
    report("spawn(), log files exist", t);
    let mut sys = RealSys::default();
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
