//! Bench of job log throughput (run by bench/logs.sh): a writer child prints
//! numbered lines as fast as it can into gsup's log thread, a file, or another logger.
//! Signals nothing; only its own children are waited for.
//!
//! usage: log_bench writer BYTES                      numbered lines on stdout
//!        log_bench gsup DIR BYTES MAX KEEP           writer -> LogHub -> DIR/bench.log
//!        log_bench direct FILE BYTES                 writer -> FILE (O_APPEND)
//!        log_bench pipe BYTES CMD [ARG]...           writer | CMD
//!
//! Prints one line: `MODE MB/s LOGGER_CPU_S_PER_GB WRITER_CPU_S_PER_GB`.

use gsup::logs::{LogHub, LogId, LogSpec};
use std::io::Write;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let num = |i: usize| -> u64 { args.get(i).and_then(|s| s.parse().ok()).unwrap_or(0) };
    match args.get(1).map(String::as_str) {
        Some("writer") => writer(num(2)),
        Some("gsup") => gsup(&args[2], num(3), num(4), num(5) as u32),
        Some("direct") => direct(&args[2], num(3)),
        Some("pipe") => pipe(num(2), &args[3..]),
        _ => {
            eprintln!("usage: see the head of examples/log_bench.rs");
            std::process::exit(2);
        }
    }
}

/// Numbered lines of 64 bytes, written in 64 kB blocks, `bytes` in all.
fn writer(bytes: u64) {
    let mut out = std::io::stdout().lock();
    let mut buf = Vec::with_capacity(1 << 16);
    let mut written = 0u64;
    let mut n = 0u64;
    while written < bytes {
        buf.clear();
        while buf.len() + 64 <= 1 << 16 {
            n += 1;
            let _ = writeln!(
                buf,
                "{n:012} the quick brown fox jumps over the lazy dog ..."
            );
        }
        if out.write_all(&buf).is_err() {
            std::process::exit(1);
        }
        written += buf.len() as u64;
    }
}

/// Spawns this binary as the writer with stdout on `out`.
fn spawn_writer(bytes: u64, out: Stdio) -> std::process::Child {
    let me = std::env::current_exe().unwrap_or_else(|_| "log_bench".into());
    Command::new(me)
        .args(["writer", &bytes.to_string()])
        .stdout(out)
        .spawn()
        .expect("spawn the writer")
}

/// CPU seconds (user + system) of this process, or of its reaped children.
fn cpu(who: i32) -> f64 {
    // SAFETY: rusage is plain data; zeroed, then filled by getrusage.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: getrusage writes into a struct we own.
    unsafe { libc::getrusage(who, &mut ru) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(ru.ru_utime) + secs(ru.ru_stime)
}

fn report(mode: &str, bytes: u64, secs: f64, logger_cpu: f64, writer_cpu: f64) {
    let gb = bytes as f64 / 1e9;
    println!(
        "{mode:<12} {:>8.0} MB/s  logger {:>6.3} CPU s/GB  writer {:>6.3} CPU s/GB",
        bytes as f64 / 1e6 / secs,
        logger_cpu / gb,
        writer_cpu / gb
    );
}

fn gsup(dir: &str, bytes: u64, max: u64, keep: u32) {
    let start_cpu = cpu(libc::RUSAGE_SELF);
    let t0 = Instant::now();
    let mut hub = LogHub::start(std::path::Path::new(dir)).expect("log dir");
    let id = LogId::new("bench", "");
    let spec = LogSpec {
        max_size: (max > 0).then_some(max),
        keep,
        timestamps: std::env::var_os("TIMESTAMPS").is_some(),
    };
    let w: OwnedFd = hub.open(&id, spec).expect("open");
    let mut child = spawn_writer(bytes, Stdio::from(w));
    let _ = child.wait();
    hub.close(&id);
    drop(hub);
    let secs = t0.elapsed().as_secs_f64();
    let mode = if spec.timestamps {
        "gsup+stamps"
    } else {
        "gsup"
    };
    report(
        mode,
        bytes,
        secs,
        cpu(libc::RUSAGE_SELF) - start_cpu,
        cpu(libc::RUSAGE_CHILDREN),
    );
}

fn direct(file: &str, bytes: u64) {
    let f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .expect("file");
    let t0 = Instant::now();
    let mut child = spawn_writer(bytes, Stdio::from(f));
    let _ = child.wait();
    report(
        "direct",
        bytes,
        t0.elapsed().as_secs_f64(),
        0.0,
        cpu(libc::RUSAGE_CHILDREN),
    );
}

fn pipe(bytes: u64, cmd: &[String]) {
    let t0 = Instant::now();
    let mut logger = Command::new(&cmd[0])
        .args(&cmd[1..])
        .stdin(Stdio::piped())
        .spawn()
        .expect("spawn the logger");
    let input = logger.stdin.take().expect("stdin");
    let mut child = spawn_writer(bytes, Stdio::from(input));
    let _ = child.wait();
    let writer_cpu = cpu(libc::RUSAGE_CHILDREN);
    let _ = logger.wait();
    let secs = t0.elapsed().as_secs_f64();
    let name = std::path::Path::new(&cmd[0])
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let name = if cmd.iter().any(|a| a == "-b") {
        format!("{name} -b")
    } else {
        name
    };
    report(
        &name,
        bytes,
        secs,
        cpu(libc::RUSAGE_CHILDREN) - writer_cpu,
        writer_cpu,
    );
}
