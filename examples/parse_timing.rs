//! Times every input of a fuzz corpus through its parser and prints the slowest,
//! to back the "no input over 100 ms" claim with a number. Reads files only.
//!
//! `cargo run --release --example parse_timing -- unit|expr|rule DIR...`

use std::path::Path;
use std::time::{Duration, Instant};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((kind, dirs)) = args.split_first() else {
        eprintln!("usage: parse_timing unit|expr|rule DIR...");
        std::process::exit(2);
    };
    let mut worst = (Duration::ZERO, String::new());
    let mut total = Duration::ZERO;
    let mut count = 0u64;
    for dir in dirs {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            let Ok(bytes) = std::fs::read(entry.path()) else {
                continue;
            };
            let text = String::from_utf8_lossy(&bytes);
            let started = Instant::now();
            match kind.as_str() {
                "unit" => drop(gsup::unit::parse(Path::new("fuzz.yaml"), &text)),
                "expr" => drop(gsup::expr::parse(&text)),
                _ => drop(gsup::rule::parse(&text, true)),
            }
            let took = started.elapsed();
            total += took;
            count += 1;
            if took > worst.0 {
                worst = (took, entry.path().display().to_string());
            }
        }
    }
    println!(
        "{kind}: {count} inputs, total {:.1} ms, slowest {:.3} ms ({})",
        total.as_secs_f64() * 1e3,
        worst.0.as_secs_f64() * 1e3,
        worst.1
    );
}
