//! Helpers for the `--http` tests: a daemon with the HTTP side on a free
//! port, a raw HTTP/1.1 client, and the third-party tools the tests drive.
#![allow(dead_code)]

use super::{Daemon, wait_until};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Command, Stdio};
use std::time::Duration;

/// A daemon on `units` serving HTTP on a port the kernel picked; returns it
/// with the address it logged.
pub fn start(units: &[(&str, &str)], extra: &[&str]) -> (Daemon, SocketAddr) {
    let mut args = vec!["--http", "127.0.0.1:0"];
    args.extend_from_slice(extra);
    let d = Daemon::start(units, &args);
    let mut addr = None;
    wait_until(
        Duration::from_secs(10),
        "daemon logs its http address",
        || {
            addr = d
                .stderr()
                .lines()
                .find_map(|l| l.split("http: listening on ").nth(1)?.trim().parse().ok());
            addr.is_some()
        },
    );
    (d, addr.expect("address"))
}

/// One HTTP response, as read off the wire.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    /// A header's value (names compared without case).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// Sends `raw` bytes on a new connection and reads the answer until the
/// server closes it (send `Connection: close`). Status 0: no answer at all.
pub fn request(addr: SocketAddr, raw: &[u8]) -> Reply {
    let mut s = TcpStream::connect(addr).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    // The server may answer and close before it has read everything (431).
    let _ = s.write_all(raw);
    let mut buf = Vec::new();
    let _ = s.read_to_end(&mut buf);
    parse(&buf)
}

/// `METHOD PATH` with `Connection: close` and extra header lines.
pub fn call(addr: SocketAddr, method: &str, path: &str, headers: &[&str]) -> Reply {
    let mut raw = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for h in headers {
        raw.push_str(h);
        raw.push_str("\r\n");
    }
    raw.push_str("\r\n");
    request(addr, raw.as_bytes())
}

/// `GET PATH`.
pub fn get(addr: SocketAddr, path: &str) -> Reply {
    call(addr, "GET", path, &[])
}

fn parse(buf: &[u8]) -> Reply {
    let end = buf
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or(buf.len());
    let head = String::from_utf8_lossy(&buf[..end]);
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let body = buf.get(end + 4..).unwrap_or_default().to_vec();
    Reply {
        status,
        headers,
        body,
    }
}

/// A port free right now on 127.0.0.1 (for the demo's web server).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// True when a test needing `what` can run. Missing: under `CI=true` the
/// test fails; elsewhere it is skipped with the install command.
pub fn available(found: bool, what: &str, install: &str) -> bool {
    if found {
        return true;
    }
    if std::env::var("CI").is_ok_and(|v| v == "true") {
        panic!("{what} is missing; CI must install it: {install}");
    }
    eprintln!("SKIPPED: {what} is missing; install it with: {install}");
    false
}

/// A Python interpreter that can import `module`: the one on PATH, else
/// Debian's (apt's python3-* packages install there).
pub fn python_with(module: &str) -> Option<String> {
    [super::python(), "/usr/bin/python3".to_string()]
        .into_iter()
        .find(|py| {
            Command::new(py)
                .args(["-c", &format!("import {module}")])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success())
        })
}

/// Debian's `chromium`, when installed.
pub fn chromium() -> Option<String> {
    let ok = Command::new("chromium")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| "chromium".to_string())
}

/// Runs headless Chromium on `url` with `args` (`--dump-dom`,
/// `--screenshot=FILE`...), in a PID namespace of its own so that none of
/// its processes outlives the call, with a fresh profile. Returns stdout.
pub fn run_chromium(url: &str, args: &[&str]) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = Command::new("unshare")
        .args([
            "--pid",
            "--fork",
            "--mount-proc",
            "--kill-child",
            "chromium",
        ])
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn chromium");
    let mut out = child.stdout.take().expect("stdout");
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while matches!(child.try_wait(), Ok(None)) {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("chromium did not finish within 90 s on {url}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.wait();
    reader.join().expect("reader")
}
