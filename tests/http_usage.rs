//! Memory and CPU of each job's whole tree on `--http` (`/status.json`, read off
//! the loop): the cgroup's kept-open files, and the `/proc` walk without cgroups.

mod common;

use common::http;
use serde_json::Value;
use std::time::Duration;

const T: Duration = Duration::from_secs(20);
const MB: u64 = 1 << 20;

/// `sh` with two children holding about 50 MB each; `sh` itself holds little.
fn family() -> String {
    let hold = "import time; b = bytearray(52 << 20); time.sleep(1000)";
    let py = common::python();
    format!(
        "exec: [/bin/sh, -c, '\"$0\" -c \"$1\" & \"$0\" -c \"$1\" & wait', '{py}', '{hold}']\nstart_on: startup\n"
    )
}

const BUSY: &str = "exec: [/bin/sh, -c, 'while :; do :; done']\nstart_on: startup\n";

/// The `/status.json` object of `job` (a fresh snapshot at most 1 s old).
fn status(addr: std::net::SocketAddr, job: &str) -> Value {
    let reply = http::get(addr, "/status.json");
    assert_eq!(reply.status, 200);
    let all: Vec<Value> = serde_json::from_slice(&reply.body).expect("json array");
    all.into_iter()
        .find(|o| o["name"] == job)
        .unwrap_or_else(|| panic!("{job} missing"))
}

fn check(extra: &[&str], containment: Option<&str>) {
    let (d, addr) = http::start(&[("family", &family()), ("busy", BUSY)], extra);
    if let Some(c) = containment {
        assert_eq!(d.status_json("family")["containment"], c);
    }
    // The tree's memory, not the main process's alone.
    common::wait_until(T, "family memory >= 100 MB on /status.json", || {
        status(addr, "family")["memory_bytes"]
            .as_u64()
            .is_some_and(|m| m >= 100 * MB)
    });
    // CPU: seconds at once, a percent from the second snapshot on.
    common::wait_until(T, "busy cpu_percent > 5 on /status.json", || {
        status(addr, "busy")["cpu_percent"]
            .as_f64()
            .is_some_and(|c| c > 5.0)
    });
    let busy = status(addr, "busy");
    assert!(
        busy["cpu_seconds"].as_f64().is_some_and(|s| s > 0.0),
        "{busy}"
    );
    // The loop's own answer for the same tree agrees on the order of size.
    let socket = d.status_json("family")["memory_bytes"]
        .as_u64()
        .unwrap_or(0);
    assert!(socket >= 100 * MB, "gsup status: {socket}");
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}

#[test]
fn http_tree_usage_from_the_cgroup_or_the_walk() {
    check(&[], None);
}

#[test]
fn http_tree_usage_from_a_proc_walk() {
    check(&["--containment", "subreaper"], Some("subreaper"));
}
