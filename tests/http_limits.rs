//! `--http` is read-only and bounded: 405 for every changing method, 431
//! for oversized headers, idle or slow connections never keep a scrape out,
//! a bad or busy address is a clear error.

mod common;

use common::http::{self, call, get, request};
use common::{gsup_bin, wait_until};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

const SLEEP: &str = "exec: [sleep, \"1000\"]\nstart_on: startup\n";

/// `(name, state, pid, restarts)` of every job: what a request must not change.
fn fingerprint(d: &common::Daemon) -> Vec<String> {
    let (_, out, _) = d.run(&["list", "--json"]);
    out.lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("json");
            format!(
                "{} {} {} {} {}",
                v["name"], v["goal"], v["state"], v["pid"], v["restarts"]
            )
        })
        .collect()
}

#[test]
fn only_get_and_head_are_answered_and_nothing_changes() {
    let (d, addr) = http::start(&[("a", SLEEP), ("b", SLEEP)], &[]);
    wait_until(Duration::from_secs(10), "a and b run", || {
        d.status_json("a")["state"] == "running" && d.status_json("b")["state"] == "running"
    });
    let before = fingerprint(&d);
    for method in ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        for path in ["/", "/status.json", "/metrics", "/log?job=a", "/stop/a"] {
            let raw = format!(
                "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 4\r\n\r\nstop"
            );
            let r = request(addr, raw.as_bytes());
            assert_eq!(r.status, 405, "{method} {path}: {}", r.text());
            assert_eq!(r.header("allow"), Some("GET, HEAD"), "{method} {path}");
        }
    }
    assert_eq!(fingerprint(&d), before, "a refused request changed a job");

    let head = call(addr, "HEAD", "/", &[]);
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty(), "HEAD has no body");
    let len: usize = head
        .header("content-length")
        .and_then(|l| l.parse().ok())
        .unwrap_or(0);
    assert!(len > 1000, "HEAD gives the page's length: {len}");
    assert_eq!(get(addr, "/nosuch").status, 404);
    assert_eq!(get(addr, "/index.html").status, 200);
}

#[test]
fn oversized_headers_are_refused() {
    let (_d, addr) = http::start(&[("a", SLEEP)], &[]);
    let big = format!(
        "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Pad: {}\r\nConnection: close\r\n\r\n",
        "a".repeat(20_000)
    );
    let r = request(addr, big.as_bytes());
    assert_eq!(r.status, 431, "{:?}", r.text());
    let many: String = (0..100).map(|i| format!("X-H{i}: v\r\n")).collect();
    let r = request(
        addr,
        format!("GET / HTTP/1.1\r\nHost: x\r\n{many}Connection: close\r\n\r\n").as_bytes(),
    );
    assert_eq!(r.status, 431, "100 header fields");
    assert_eq!(get(addr, "/metrics").status, 200, "the server carries on");
}

/// True once the server has closed `s` (EOF or reset); false while open.
fn closed(mut s: &TcpStream) -> bool {
    let mut b = [0u8; 64];
    match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => false,
        Err(e) => !matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
    }
}

#[test]
fn idle_and_slow_connections_do_not_keep_a_scrape_out() {
    let (d, addr) = http::start(&[("a", SLEEP)], &[]);
    // 200 connections (the limit is 64): half silent, half sending their
    // headers a few bytes at a time and never finishing.
    let idle: Vec<TcpStream> = (0..200)
        .map(|i| {
            let mut s = TcpStream::connect(addr).expect("connect");
            if i % 2 == 1 {
                s.write_all(b"GET /metrics HTTP/1.1\r\nX-Slow: ")
                    .expect("write");
            }
            s
        })
        .collect();
    let r = get(addr, "/metrics");
    assert_eq!(r.status, 200, "a scrape among 200 idle connections");
    assert!(r.text().contains("gsup_unit_up{unit=\"a\""));
    for s in &idle {
        s.set_nonblocking(true).expect("nonblocking");
    }
    // The newest idle connections are still open: the scrape did not wait
    // for the header timeout (5 s) to free a slot; it took the oldest one's.
    let newest = idle.len() - 10;
    assert!(
        idle[newest..].iter().all(|s| !closed(s)),
        "the scrape waited for idle connections to time out"
    );
    // At most 64 stay open: the oldest were closed to make room.
    wait_until(
        Duration::from_secs(5),
        "the oldest connections closed",
        || idle.iter().filter(|s| closed(s)).count() >= 200 + 1 - 64,
    );
    // A client that never finishes its headers is cut off after 5 s.
    wait_until(Duration::from_secs(15), "slow connections closed", || {
        idle.iter().all(closed)
    });
    assert_eq!(d.run(&["status", "a"]).0, 0, "the daemon still answers");
}

#[test]
fn a_bad_or_busy_address_is_a_clear_error() {
    let dir = common::temp_root();
    let run = |addr: &str| {
        let mut child = Command::new(gsup_bin())
            .args(["daemon", "--config-dir"])
            .arg(dir.path())
            .arg("--log-dir")
            .arg(dir.path().join("log"))
            .arg("--socket")
            .arg(dir.path().join("gsup.sock"))
            .args(["--http", addr])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn gsup");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while matches!(child.try_wait(), Ok(None)) {
            if std::time::Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("gsup daemon --http {addr} did not exit");
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let code = child.wait().ok().and_then(|s| s.code());
        let mut err = String::new();
        let _ = child.stderr.take().map(|mut e| e.read_to_string(&mut err));
        (code.unwrap_or(-1), err)
    };
    let (code, err) = run("localhost:http");
    assert_eq!(code, 2, "{err}");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let busy = taken.local_addr().expect("addr").to_string();
    let (code, err) = run(&busy);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains(&format!("cannot bind --http {busy}")), "{err}");
    assert!(
        !dir.path().join("gsup.sock").exists(),
        "no socket left behind"
    );
}
