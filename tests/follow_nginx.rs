//! SPEC 4 with the real nginx (`daemon on;`): a binary upgrade as an operator
//! does it, followed by gsup with no restart and no failed HTTP request.

mod common;

use common::{Daemon, status_pid, wait_until};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

const T: Duration = Duration::from_secs(15);
const NGINX: &str = "/usr/sbin/nginx";

fn status(d: &Daemon) -> (String, Option<i32>) {
    let (_, out, _) = d.run(&["status", "nginx"]);
    let first = out.lines().next().unwrap_or("").to_string();
    let pid = status_pid(&first);
    (first, pid)
}

fn read_pid(path: &Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// One GET over loopback; true on an HTTP 200 with the body `ok`.
fn get(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n").is_err() {
        return false;
    }
    let mut buf = String::new();
    let _ = s.read_to_string(&mut buf);
    buf.starts_with("HTTP/1.1 200") && buf.ends_with("ok\n")
}

#[test]
fn nginx_binary_upgrade_followed() {
    if !Path::new(NGINX).exists() {
        let msg = "nginx missing: apt-get install -y nginx-light";
        assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
        eprintln!("skipped: {msg}");
        return;
    }
    let dir = tempfile::tempdir().expect("tmp");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let p = dir.path().display().to_string();
    let conf = format!(
        "daemon on;\nworker_processes 2;\npid {p}/nginx.pid;\nerror_log {p}/error.log;\n\
         events {{ worker_connections 64; }}\n\
         http {{ access_log off; client_body_temp_path {p}/body;\n\
         server {{ listen 127.0.0.1:{port}; location / {{ return 200 \"ok\\n\"; }} }} }}\n"
    );
    std::fs::write(dir.path().join("nginx.conf"), conf).expect("conf");
    let pf = dir.path().join("nginx.pid");
    let unit = format!(
        "exec: [{NGINX}, -c, {p}/nginx.conf]\npidfile: {}\nready: pidfile\nreload_signal: USR2\nkill_signal: QUIT\nkill_timeout: 3s\n",
        pf.display()
    );
    let d = Daemon::start(&[("nginx", &unit)], &[]);
    let (code, _, err) = d.run(&["start", "nginx"]);
    assert_eq!(code, 0, "start: {err}\n{}", d.stderr());
    let mut old = 0;
    wait_until(T, "status names the master", || {
        let (line, pid) = status(&d);
        old = pid.unwrap_or(0);
        line.contains("start/running") && pid.is_some() && pid == read_pid(&pf)
    });
    wait_until(T, "nginx answers", || get(port));

    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let poller = std::thread::spawn(move || {
        let (mut ok, mut failed) = (0u32, 0u32);
        let end = Instant::now() + Duration::from_secs(30);
        while !flag.load(Ordering::Relaxed) && Instant::now() < end && ok + failed < 1500 {
            if get(port) {
                ok += 1;
            } else {
                failed += 1;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        (ok, failed)
    });

    let (code, _, err) = d.run(&["reload", "nginx"]);
    assert_eq!(code, 0, "reload: {err}");
    let oldbin = dir.path().join("nginx.pid.oldbin");
    let mut new = 0;
    wait_until(T, "new master followed", || {
        let (line, pid) = status(&d);
        assert!(line.contains("start/running"), "{line}");
        new = pid.unwrap_or(0);
        oldbin.exists() && new != old && Some(new) == read_pid(&pf)
    });
    // The operator retires the old master.
    d.kill(old, libc::SIGQUIT);
    wait_until(T, "old master gone", || {
        let (line, _) = status(&d);
        assert!(line.contains("start/running"), "{line}");
        d.host_pid(old).is_none() && !oldbin.exists()
    });
    // A few more requests against the new master alone.
    let settle = Instant::now() + Duration::from_millis(300);
    wait_until(T, "a moment of traffic", || Instant::now() > settle);
    stop.store(true, Ordering::Relaxed);
    let (ok, failed) = poller.join().expect("poller");
    eprintln!("nginx upgrade {old} -> {new}: {ok} requests ok, {failed} failed");
    assert_eq!(failed, 0);
    assert!(ok >= 10, "only {ok} requests");
    let (line, pid) = status(&d);
    assert!(line.contains("start/running"), "{line}");
    assert_eq!(pid, Some(new));
    let (_, out, _) = d.run(&["status", "--json", "nginx"]);
    assert!(out.contains("\"restarts\":0"), "{out}");
    let log = d.stderr();
    let want = format!("main process {old} replaced by {new} (pidfile)");
    assert!(log.contains(&want), "no {want:?} in:\n{log}");
    assert!(!log.contains("refused"), "{log}");
    d.assert_no_zombies();

    let (code, _, err) = d.run(&["stop", "nginx"]);
    assert_eq!(code, 0, "stop: {err}");
    wait_until(T, "nothing left", || d.job_processes().is_empty());
    d.assert_no_zombies();
    assert_eq!(d.shutdown(), 0);
}
