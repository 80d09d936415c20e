//! The log thread with real child processes writing into its pipes: output
//! reaches the file through the pipe, notes in order, shared pipes, timestamps,
//! reopen, handover, file modes. Never signals anything.

mod common;

use common::wait_until;
use gsup::logs::{LogHub, LogId, LogSpec};
use std::fs;
use std::io::Write;
use std::os::fd::OwnedFd;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const T: Duration = Duration::from_secs(10);

fn plain() -> LogSpec {
    LogSpec {
        max_size: None,
        keep: 5,
        timestamps: false,
    }
}

/// `sh -c SCRIPT` with stdout and stderr on `fd`, stdin piped.
fn job(script: &str, fd: OwnedFd) -> Child {
    let err = fd.try_clone().expect("dup");
    Command::new("sh")
        .args(["-c", script])
        .stdin(Stdio::piped())
        .stdout(Stdio::from(fd))
        .stderr(Stdio::from(err))
        .spawn()
        .expect("spawn sh")
}

fn read(p: &Path) -> String {
    fs::read_to_string(p).unwrap_or_default()
}

/// True when this process has `path` open.
fn holds_open(path: &Path) -> bool {
    fs::read_dir("/proc/self/fd")
        .expect("fds")
        .filter_map(Result::ok)
        .any(|e| fs::read_link(e.path()).is_ok_and(|l| l == path))
}

/// `open_first`: the thread reads the new pipe only after `release`, so
/// the line given there precedes a process that writes at once; the pipe of
/// the run before is read to its end, then closed.
#[test]
fn open_first_puts_the_started_line_before_the_first_output() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut hub = LogHub::start(&tmp.path().join("log")).expect("hub");
    let id = LogId::new("quick", "");
    let path = hub.path(&id);
    let mut want = String::new();
    for run in 0..20 {
        let w = hub.open_first(&id, plain()).expect("open_first");
        let mut child = job(&format!("echo run {run}; echo done {run}"), w);
        // Its output is in the pipe before the line is given.
        assert!(child.wait().expect("wait").success());
        hub.release(&id, Some(&format!("gsup: started, pid {}", child.id())));
        hub.note(&id, &format!("gsup: exited {run}"));
        want.push_str(&format!(
            "gsup: started, pid {}\nrun {run}\ndone {run}\ngsup: exited {run}\n",
            child.id()
        ));
    }
    hub.close(&id);
    wait_until(T, "every run written", || read(&path) == want);
    wait_until(T, "file closed after EOF", || !holds_open(&path));
}

#[test]
fn output_goes_through_the_pipe_and_notes_fall_in_order() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("log");
    let mut hub = LogHub::start(&dir).expect("hub");
    let id = LogId::new("web/unicorn", "");
    let w = hub.open(&id, plain()).expect("open");
    let path = hub.path(&id);
    assert_eq!(path, dir.join("web/unicorn.log"));
    // The job writes only once told to, after the daemon's note.
    let mut child = job("read x; echo out; echo err >&2; printf 'no newline'", w);
    hub.note_first(&id, &format!("gsup: started, pid {}", child.id()));
    writeln!(child.stdin.take().expect("stdin"), "go").expect("go");
    assert!(child.wait().expect("wait").success());
    hub.note(&id, "gsup: exited 0");
    hub.close(&id);
    let pid = child.id();
    wait_until(T, "the note after the exit", || {
        read(&path).contains("exited")
    });
    assert_eq!(
        read(&path),
        format!("gsup: started, pid {pid}\nout\nerr\nno newline\ngsup: exited 0\n")
    );
    wait_until(T, "file closed after EOF", || !holds_open(&path));
    let meta = fs::metadata(&path).expect("meta");
    assert_eq!(meta.permissions().mode() & 0o7777, 0o640);
    assert_eq!(meta.uid(), nix::unistd::geteuid().as_raw());
    let folder = fs::metadata(dir.join("web")).expect("folder");
    assert_eq!(folder.permissions().mode() & 0o7777, 0o755);
}

#[test]
fn one_instance_one_pipe_until_close() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut hub = LogHub::start(&tmp.path().join("log")).expect("hub");
    let id = LogId::new("w", "high");
    let a = hub.open(&id, plain()).expect("open");
    let b = hub.open(&id, plain()).expect("open again");
    let ino = |fd: &OwnedFd| nix::sys::stat::fstat(fd).expect("fstat").st_ino;
    assert_eq!(ino(&a), ino(&b), "a hook and a respawn share the pipe");
    let other = hub.open(&LogId::new("w", "low"), plain()).expect("other");
    assert_ne!(ino(&a), ino(&other));
    hub.close(&id);
    let c = hub.open(&id, plain()).expect("after close");
    assert_ne!(ino(&a), ino(&c), "a new run, a new pipe");
    assert_eq!(hub.path(&id), tmp.path().join("log/w-high.log"));
    for fd in [&a, &b, &c] {
        let flags = nix::fcntl::fcntl(fd, nix::fcntl::FcntlArg::F_GETFD).expect("getfd");
        assert_ne!(flags & libc::FD_CLOEXEC, 0, "close-on-exec");
    }
}

#[test]
fn timestamps_prefix_each_line_and_note() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut hub = LogHub::start(&tmp.path().join("log")).expect("hub");
    let id = LogId::new("ts", "");
    let spec = LogSpec {
        timestamps: true,
        ..plain()
    };
    let w = hub.open(&id, spec).expect("open");
    let mut child = job("echo a; echo b", w);
    assert!(child.wait().expect("wait").success());
    hub.note(&id, "gsup: exited 0");
    let path = hub.path(&id);
    wait_until(T, "note", || read(&path).contains("exited"));
    let text = read(&path);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    for (line, want) in lines.iter().zip(["a", "b", "gsup: exited 0"]) {
        let (stamp, rest) = line.split_once(' ').expect("a stamp");
        assert_eq!(rest, want);
        let b = stamp.as_bytes();
        assert_eq!(b.len(), 24, "{stamp}");
        assert!(
            stamp.ends_with('Z') && b[10] == b'T' && b[19] == b'.',
            "{stamp}"
        );
        assert!(stamp.starts_with("20"), "{stamp}");
    }
}

#[test]
fn a_note_without_a_pipe_opens_the_file() {
    let tmp = tempfile::tempdir().expect("tmp");
    let hub = LogHub::start(&tmp.path().join("log")).expect("hub");
    let id = LogId::new("a/b/c", "x/y");
    hub.note(&id, "gsup: exec: No such file\nor directory");
    let path = tmp.path().join("log/a/b/c-x%2Fy.log");
    assert_eq!(hub.path(&id), path);
    wait_until(T, "note written", || !read(&path).is_empty());
    assert_eq!(read(&path), "gsup: exec: No such file or directory\n");
}

#[test]
fn reopen_follows_an_outside_logrotate() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut hub = LogHub::start(&tmp.path().join("log")).expect("hub");
    let id = LogId::new("r", "");
    let w = hub.open(&id, plain()).expect("open");
    let path = hub.path(&id);
    let mut child = job("echo one; read x; echo two", w);
    wait_until(T, "first line", || read(&path) == "one\n");
    let old = path.with_extension("log.old");
    fs::rename(&path, &old).expect("mv");
    hub.reopen();
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "go").expect("go");
    assert!(child.wait().expect("wait").success());
    wait_until(T, "second line in the new file", || read(&path) == "two\n");
    assert_eq!(read(&old), "one\n");
}

#[test]
fn a_handover_keeps_the_pipe_and_the_line() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("log");
    let mut hub = LogHub::start(&dir).expect("hub");
    let id = LogId::new("h", "");
    let w = hub.open(&id, plain()).expect("open");
    let path = hub.path(&id);
    let mut child = job("echo a; printf 'half'; read x; echo ' line'; echo b", w);
    wait_until(T, "first line", || read(&path) == "a\n");
    // `half` is in the thread's carry or still in the pipe: either way it
    // must end up whole on its line.
    let handed = hub.export();
    assert_eq!(handed.len(), 1);
    assert_eq!(handed[0].id, id);
    assert!(handed[0].write.is_some(), "the run was open");
    let mut hub = LogHub::start_with(&dir, handed).expect("new hub");
    let mut stdin = child.stdin.take().expect("stdin");
    writeln!(stdin, "go").expect("go");
    assert!(child.wait().expect("wait").success());
    hub.close(&id);
    wait_until(T, "rest of the output", || read(&path).ends_with("b\n"));
    assert_eq!(read(&path), "a\nhalf line\nb\n");
    let again = hub.open(&id, plain()).expect("open");
    drop(again);
}

#[test]
fn rotation_through_a_real_pipe_keeps_keep_files() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mut hub = LogHub::start(&tmp.path().join("log")).expect("hub");
    let id = LogId::new("rot", "");
    let spec = LogSpec {
        max_size: Some(1000),
        keep: 2,
        timestamps: false,
    };
    let w = hub.open(&id, spec).expect("open");
    let mut child = job(
        "i=0; while [ $i -lt 1000 ]; do echo \"line $i\"; i=$((i+1)); done",
        w,
    );
    assert!(child.wait().expect("wait").success());
    hub.note(&id, "gsup: exited 0");
    let path = hub.path(&id);
    wait_until(T, "the last line", || {
        read(&path).ends_with("gsup: exited 0\n")
    });
    let names: Vec<String> = {
        let mut v: Vec<String> = fs::read_dir(tmp.path().join("log"))
            .expect("ls")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    assert_eq!(names, ["rot.log", "rot.log.1", "rot.log.2"]);
    let files = [
        path.with_extension("log.2"),
        path.with_extension("log.1"),
        path.clone(),
    ];
    let all: String = files.iter().map(|p| read(p)).collect();
    let mut last = None;
    for (i, f) in files.iter().enumerate() {
        let text = read(f);
        assert!(text.len() <= 1000, "{f:?} is {} bytes", text.len());
        if i < 2 {
            let next_line = read(&files[i + 1]).lines().next().unwrap_or("").len() + 1;
            assert!(text.len() + next_line > 1000, "{f:?} rotated early");
        }
    }
    for line in all.lines().filter(|l| l.starts_with("line ")) {
        let n: u32 = line[5..].parse().expect("number");
        if let Some(prev) = last {
            assert_eq!(n, prev + 1, "a gap or a split line");
        }
        last = Some(n);
    }
    assert_eq!(last, Some(999));
}
