//! The real `gsup` client and the real control server, with a scripted
//! supervisor standing in for the daemon: output formats, exit codes, rights,
//! bad messages and `log -f` across rotation, independent of the supervisor.

mod common;

use common::{gsup_bin, temp_root, wait_until};
use gsup::control::Call;
use gsup::control::proto::{JobStatus, Request, Response};
use gsup::control::server::{AccessPolicy, bind, serve};
use gsup::job::{Goal, State};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

fn job(name: &str, instance: &str, running: bool) -> JobStatus {
    JobStatus {
        name: name.into(),
        instance: instance.into(),
        goal: if running { Goal::Start } else { Goal::Stop },
        state: if running {
            State::Running
        } else {
            State::Waiting
        },
        pid: running.then_some(4242),
        memory_bytes: running.then_some(12_897_484),
        cpu_percent: running.then_some(0.44),
        uptime_s: running.then_some(3725),
        restarts: 1,
        last_exit: running.then(|| "signal KILL".to_string()),
        failing_checks: Vec::new(),
        reason: None,
        ..JobStatus::new(name, instance, Goal::Stop, State::Waiting, None)
    }
}

/// The scripted supervisor: `web` runs, `idle` waits, `worker (high)` runs.
fn answer(request: &Request, log: &Path) -> Response {
    let known = |n: &str| match n {
        "web" => Some(job("web", "", true)),
        "idle" => Some(job("idle", "", false)),
        "worker" => Some(job("worker", "high", true)),
        _ => None,
    };
    let one = |n: &str| {
        known(n).map_or_else(
            || Response::err(4, format!("no such job: {n}")),
            |s| Response::ok(vec![s]),
        )
    };
    match request {
        Request::Status { jobs, .. } if jobs.is_empty() => {
            answer(&Request::List { brief: false }, log)
        }
        Request::Status { jobs, .. } => {
            let mut out = Vec::new();
            for j in jobs {
                match known(j) {
                    Some(s) => out.push(s),
                    None => return Response::err(4, format!("no such job: {j}")),
                }
            }
            Response::ok(out)
        }
        Request::List { .. } => Response::ok(vec![
            job("idle", "", false),
            job("web", "", true),
            job("worker", "high", true),
        ]),
        Request::Start { job, .. } | Request::Restart { job, .. } | Request::Reload { job, .. } => {
            one(job)
        }
        Request::Stop { job, .. } => known(job).map_or_else(
            || Response::err(4, format!("no such job: {job}")),
            |_| {
                Response::ok(vec![JobStatus {
                    pid: None,
                    ..self::job(job, "", false)
                }])
            },
        ),
        Request::Emit { .. }
        | Request::ReloadConfig
        | Request::Shutdown { .. }
        | Request::Reexec
        | Request::DaemonLog { .. } => Response::ok(Vec::new()),
        Request::LogPath { job, .. } => match known(job) {
            Some(_) => Response {
                log_path: Some(log.to_path_buf()),
                ..Response::ok(Vec::new())
            },
            None => Response::err(4, format!("no such job: {job}")),
        },
    }
}

struct Fake {
    root: tempfile::TempDir,
    socket: PathBuf,
    log: PathBuf,
}

impl Fake {
    fn start(policy: AccessPolicy) -> Fake {
        let root = temp_root();
        std::fs::set_permissions(root.path(), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
        let socket = root.path().join("run/gsup.sock");
        let log = root.path().join("web.log");
        let (sock, logp) = (socket.clone(), log.clone());
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = bind(&sock).expect("bind");
                let (tx, mut rx) = tokio::sync::mpsc::channel::<Call>(8);
                tokio::spawn(serve(listener, policy, tx));
                while let Some(call) = rx.recv().await {
                    let _ = call.reply.send(answer(&call.request, &logp));
                }
            });
        });
        let s = socket.clone();
        wait_until(Duration::from_secs(5), "fake daemon listens", || {
            std::os::unix::net::UnixStream::connect(&s).is_ok()
        });
        Fake { root, socket, log }
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        self.run_as(None, args)
    }

    fn run_as(&self, nobody: Option<()>, args: &[&str]) -> (i32, String, String) {
        let mut cmd = match nobody {
            Some(()) => {
                let mut c = Command::new("setpriv");
                c.args(["--reuid=65534", "--regid=65534", "--clear-groups"])
                    .arg(gsup_bin());
                c
            }
            None => Command::new(gsup_bin()),
        };
        let out = cmd
            .args(args)
            .arg("--socket")
            .arg(&self.socket)
            .stdin(Stdio::null())
            .output()
            .expect("run gsup");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn root_policy() -> AccessPolicy {
    AccessPolicy {
        daemon_uid: 0,
        control_gid: None,
    }
}

#[test]
fn status_lines_and_exit_codes() {
    let f = Fake::start(root_policy());
    assert_eq!(
        f.run(&["status", "web"]),
        (0, "web start/running, process 4242\n".into(), String::new())
    );
    assert_eq!(
        f.run(&["status", "idle"]),
        (3, "idle stop/waiting\n".into(), String::new())
    );
    assert_eq!(f.run(&["status", "web", "idle"]).0, 3);
    assert_eq!(
        f.run(&["status", "nope"]),
        (4, String::new(), "gsup: no such job: nope\n".into())
    );
    assert_eq!(
        f.run(&["list"]),
        (
            0,
            "idle stop/waiting\nweb start/running, process 4242\nworker (high) start/running, process 4242\n".into(),
            String::new()
        )
    );
    assert_eq!(
        f.run(&["start", "web"]).1,
        "web start/running, process 4242\n"
    );
    assert_eq!(
        f.run(&["stop", "web"]),
        (0, "web stop/waiting\n".into(), String::new())
    );
    assert_eq!(f.run(&["start", "nope", "A=b"]).0, 4);
    assert_eq!(
        f.run(&["emit", "deploy", "WHO=alice", "--no-wait"]),
        (0, String::new(), String::new())
    );
    assert_eq!(f.run(&["reload-config"]).0, 0);
    assert_eq!(f.run(&["shutdown", "--reboot"]).0, 0);
}

#[test]
fn verbose_and_json_formats() {
    let f = Fake::start(root_policy());
    assert_eq!(
        f.run(&["status", "-v", "web", "idle"]).1,
        "web start/running, process 4242\n    memory 12.3 MB, cpu 0.4%, uptime 1h02m, restarts 1, last exit: signal KILL\n\
         idle stop/waiting\n    memory -, cpu -, uptime -, restarts 1, last exit: -\n"
    );
    let (code, out, _) = f.run(&["list", "--json"]);
    assert_eq!(code, 0);
    let objs: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).expect("json"))
        .collect();
    assert_eq!(objs.len(), 3);
    assert_eq!(objs[1]["name"], "web");
    assert_eq!(objs[1]["pid"], 4242);
    assert_eq!(objs[1]["memory_bytes"], 12_897_484);
    assert_eq!(objs[1]["uptime_s"], 3725);
    assert_eq!(objs[1]["last_exit"], "signal KILL");
    assert_eq!(objs[2]["instance"], "high");
    assert!(objs[0]["pid"].is_null());
}

#[test]
fn rights_come_from_the_socket_peer() {
    let f = Fake::start(root_policy());
    let (code, out, err) = f.run_as(Some(()), &["start", "web"]);
    assert_eq!((code, out.as_str()), (1, ""));
    assert_eq!(
        err,
        "gsup: permission denied: changing jobs needs root; you are uid 65534\n"
    );
    assert_eq!(f.run_as(Some(()), &["status", "web"]).0, 0);
    assert_eq!(f.run_as(Some(()), &["list"]).0, 0);

    let g = Fake::start(AccessPolicy {
        daemon_uid: 0,
        control_gid: Some(65534),
    });
    assert_eq!(g.run_as(Some(()), &["start", "web"]).0, 0);
    let h = Fake::start(AccessPolicy {
        daemon_uid: 0,
        control_gid: Some(4242),
    });
    assert_eq!(h.run_as(Some(()), &["shutdown"]).0, 1);
}

#[test]
fn garbage_and_oversized_requests_are_answered_2_and_the_server_goes_on() {
    let f = Fake::start(root_policy());
    let ask = |bytes: &[u8]| {
        let mut s = std::os::unix::net::UnixStream::connect(&f.socket).expect("connect");
        let _ = s.write_all(bytes);
        let mut line = String::new();
        BufReader::new(&s).read_line(&mut line).expect("read");
        serde_json::from_str::<Response>(&line).expect("response")
    };
    let r = ask(b"\x00\xffgarbage\n");
    assert_eq!(r.code, 2);
    let big = vec![b'x'; 70 * 1024];
    let r = ask(&big);
    assert_eq!(
        (r.code, r.error.as_deref()),
        (2, Some("bad request: request longer than 65536 bytes"))
    );
    let _silent = std::os::unix::net::UnixStream::connect(&f.socket).expect("connect");
    assert_eq!(f.run(&["status", "web"]).0, 0);
}

#[test]
fn log_tail_and_follow_across_rotation() {
    let f = Fake::start(root_policy());
    assert_eq!(f.run(&["log", "web"]).0, 1, "no log file yet");
    std::fs::write(&f.log, "a\nb\nc\nd\n").expect("write log");
    assert_eq!(
        f.run(&["log", "web", "-n", "2"]),
        (0, "c\nd\n".into(), String::new())
    );
    assert_eq!(f.run(&["log", "web"]).1, "a\nb\nc\nd\n");
    assert_eq!(f.run(&["log", "nope"]).0, 4);

    let mut child = Command::new(gsup_bin())
        .args([
            "--socket",
            f.socket.to_str().expect("utf8"),
            "log",
            "-f",
            "-n",
            "1",
            "web",
        ])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn log -f");
    let mut rd = BufReader::new(child.stdout.take().expect("stdout"));
    let mut line = String::new();
    let mut next = |line: &mut String| {
        line.clear();
        rd.read_line(line).expect("read");
        line.clone()
    };
    assert_eq!(next(&mut line), "d\n");
    let mut w = std::fs::OpenOptions::new()
        .append(true)
        .open(&f.log)
        .expect("open");
    w.write_all(b"e\n").expect("append");
    assert_eq!(next(&mut line), "e\n");
    // Rotation: rename, then a new file at the same path.
    std::fs::rename(&f.log, f.root.path().join("web.log.1")).expect("rotate");
    w.write_all(b"f\n").expect("append to the old file");
    std::fs::write(&f.log, "g\n").expect("new log");
    assert_eq!(next(&mut line), "f\n");
    assert_eq!(next(&mut line), "g\n");
    child.kill().expect("kill our own log -f");
    child.wait().expect("reap");
}

#[test]
fn log_follow_waits_for_a_log_that_does_not_exist_yet() {
    let f = Fake::start(root_policy());
    let mut child = Command::new(gsup_bin())
        .args([
            "--socket",
            f.socket.to_str().expect("utf8"),
            "log",
            "-f",
            "web",
        ])
        .stdout(Stdio::piped())
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn log -f");
    let mut rd = BufReader::new(child.stdout.take().expect("stdout"));
    std::fs::write(&f.log, "born\n").expect("create log");
    let mut line = String::new();
    rd.read_line(&mut line).expect("read");
    assert_eq!(line, "born\n");
    child.kill().expect("kill our own log -f");
    child.wait().expect("reap");
}
