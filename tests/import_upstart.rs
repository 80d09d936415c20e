//! `gsup import upstart` on a corpus of Ubuntu 12.04-14.04 style jobs: exact output for
//! several, `gsup check` clean on all, every stanza covered, FILE:LINE notes, exit codes.

mod common;

use common::gsup_bin;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/import/corpus")
}

fn conf_files() -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(corpus().join("init"))
        .expect("corpus")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".conf"))
        .map(|n| format!("init/{n}"))
        .collect();
    v.sort();
    v
}

/// Runs `gsup ARGS` in `dir`; (code, stdout, stderr).
fn run_in(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out: Output = Command::new(gsup_bin())
        .current_dir(dir)
        .args(args)
        .output()
        .expect("run gsup");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Imports the whole corpus into `out`.
fn import_corpus(out: &Path) -> (i32, String, String) {
    let files = conf_files();
    let mut args = vec!["import", "upstart"];
    args.extend(files.iter().map(String::as_str));
    let out_s = out.to_str().expect("utf8");
    args.extend(["--out", out_s]);
    run_in(&corpus(), &args)
}

/// Every stanza the importer maps appears in the corpus, so that the
/// corpus cannot lose its coverage unnoticed.
#[test]
fn import_corpus_covers_every_stanza() {
    let files = conf_files();
    assert!(files.len() >= 15, "{files:?}");
    let all: String = files
        .iter()
        .map(|f| fs::read_to_string(corpus().join(f)).expect("read"))
        .collect::<Vec<_>>()
        .join("\n");
    let lines: Vec<&str> = all.lines().map(str::trim_start).collect();
    for stanza in [
        "start on",
        "stop on",
        "exec ",
        "script",
        "end script",
        "pre-start exec",
        "pre-start script",
        "post-start exec",
        "post-start script",
        "pre-stop exec",
        "pre-stop script",
        "post-stop exec",
        "post-stop script",
        "respawn",
        "respawn limit",
        "expect fork",
        "expect daemon",
        "expect stop",
        "instance ",
        "env ",
        "setuid ",
        "setgid ",
        "chdir ",
        "console log",
        "console none",
        "console output",
        "console owner",
        "kill signal",
        "kill timeout",
        "normal exit",
        "task",
        "limit ",
        "nice ",
        "umask ",
        "reload signal",
        "description",
        "author",
        "oom score",
        "oom never",
        "manual",
        "emits",
        "usage",
        "version",
        "export",
        "chroot",
        "apparmor",
        "cgroup",
        "#",
    ] {
        assert!(
            lines.iter().any(|l| l.starts_with(stanza)),
            "no `{stanza}` in the corpus"
        );
    }
    assert!(all.contains("\\\n"), "no line continuation in the corpus");
}

/// The whole corpus imports; several files are exactly as expected; the
/// rest load; `gsup check` finds no error in the output, and only the
/// references to Upstart jobs that are not in the corpus.
#[test]
fn import_corpus_exact_output_and_check_clean() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("services.d");
    let (code, stdout, _) = import_corpus(&out);
    assert_eq!(code, 1, "rsyncd.conf and ssh.conf drop stanzas");
    assert_eq!(
        stdout.lines().filter(|l| l.starts_with("wrote ")).count(),
        conf_files().len()
    );
    let expected_dir = corpus().join("expected");
    let mut compared = 0;
    for e in fs::read_dir(&expected_dir).expect("expected dir") {
        let e = e.expect("entry");
        let want = fs::read_to_string(e.path()).expect("expected file");
        let got = fs::read_to_string(out.join(e.file_name()))
            .unwrap_or_else(|_| panic!("{:?} not written", e.file_name()));
        assert_eq!(got, want, "{:?} differs", e.file_name());
        compared += 1;
    }
    assert!(compared >= 5, "{compared} exact files");
    let (code, report, err) = run_in(
        tmp.path(),
        &["check", "--config-dir", out.to_str().expect("utf8")],
    );
    assert_eq!(code, 0, "{report}{err}");
    assert!(
        report.contains(&format!(
            "{} jobs, 0 errors, 3 warnings",
            conf_files().len()
        )),
        "{report}"
    );
    let warnings: Vec<&str> = report
        .lines()
        .filter(|l| l.contains(": warning: "))
        .collect();
    for (job, reference) in [
        ("mysql", "stop_on: starting rc: no such job"),
        ("networking", "start_on: stopped udevtrigger: no such job"),
        ("tty1", "start_on: stopped rc: no such job"),
    ] {
        assert!(
            warnings
                .iter()
                .any(|w| w.contains(&format!("{job}.yaml")) && w.ends_with(reference)),
            "{report}"
        );
    }
    // The start order follows `start on started postgresql and started memcached`.
    assert!(report.contains("  2: app"), "{report}");
}

/// What is dropped is said on stderr with FILE:LINE and why, and exit is 1.
#[test]
fn import_dropped_stanzas_named_with_file_and_line() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (code, _, err) = run_in(
        &corpus(),
        &[
            "import",
            "upstart",
            "init/rsyncd.conf",
            "init/ssh.conf",
            "--out",
            tmp.path().to_str().expect("utf8"),
        ],
    );
    assert_eq!(code, 1, "{err}");
    for line in [
        "init/rsyncd.conf:8: dropped: `chroot /srv/jail`: gsup does not chroot jobs",
        "init/rsyncd.conf:9: dropped: `apparmor switch /usr/bin/rsync`: gsup does not load or switch AppArmor profiles",
        "init/rsyncd.conf:10: dropped: `cgroup memory backup`: gsup does not place jobs in cgroups of their own",
        "init/rsyncd.conf:11: dropped: `env RSYNC_OPTS`: takes the value from init's own environment; gsup's job environment is clean: give the value",
        "init/rsyncd.conf:12: dropped: `export RSYNC_OPTS`: gsup's job events carry JOB and INSTANCE only, not the job's variables",
        "init/ssh.conf:15: dropped: `expect stop`: gsup has no SIGSTOP handshake; a job says it is ready with `ready: notify`, `ready: {tcp: ...}` or `ready: {exec: ...}`",
    ] {
        assert!(
            err.lines().any(|l| l == line),
            "missing {line:?} in:\n{err}"
        );
    }
    assert_eq!(err.matches(": dropped: ").count(), 6, "{err}");
    // The unit still carries what could be carried, and says what was not.
    let rsyncd = fs::read_to_string(tmp.path().join("rsyncd.yaml")).expect("rsyncd");
    assert!(
        rsyncd.contains("# line 8: dropped: `chroot /srv/jail`"),
        "{rsyncd}"
    );
    assert!(
        rsyncd.contains("exec: [/usr/bin/rsync, --daemon, --no-detach, --config=/etc/rsyncd.conf]"),
        "{rsyncd}"
    );
}

/// Jobs that carry over whole exit 0, warnings and all.
#[test]
fn import_all_carried_over_is_exit_0() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (code, stdout, err) = run_in(
        &corpus(),
        &[
            "import",
            "upstart",
            "init/cron.conf",
            "init/app.conf",
            "--out",
            tmp.path().to_str().expect("utf8"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("init/cron.conf:11: warning: expect fork"),
        "{err}"
    );
    assert!(!err.contains("dropped"), "{err}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
}

/// An existing unit is not overwritten (and nothing else is written) without
/// `--force`; with it, the unit is replaced.
#[test]
fn import_refuses_to_overwrite_without_force() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    fs::create_dir_all(&out).expect("mkdir");
    fs::write(out.join("cron.yml"), "exec: [mine]\n").expect("write");
    let out_s = out.to_str().expect("utf8");
    let args = [
        "import",
        "upstart",
        "init/cron.conf",
        "init/hostname.conf",
        "--out",
        out_s,
    ];
    let (code, stdout, err) = run_in(&corpus(), &args);
    assert_eq!(code, 1, "{err}");
    assert!(stdout.is_empty(), "{stdout}");
    assert!(
        err.contains("cron.yml: exists; not overwritten (--force replaces it)"),
        "{err}"
    );
    assert!(err.contains("gsup: nothing written"), "{err}");
    assert_eq!(
        fs::read_to_string(out.join("cron.yml")).expect("kept"),
        "exec: [mine]\n"
    );
    assert!(!out.join("hostname.yaml").exists());
    let mut forced = args.to_vec();
    forced.push("--force");
    let (code, stdout, err) = run_in(&corpus(), &forced);
    assert_eq!(code, 0, "{err}");
    assert!(
        stdout.contains("replaced ") && stdout.contains("cron.yml"),
        "{stdout}"
    );
    let cron = fs::read_to_string(out.join("cron.yml")).expect("replaced");
    assert!(cron.contains("exec: [cron]"), "{cron}");
    assert!(
        !out.join("cron.yaml").exists(),
        "a twin would stop both from loading"
    );
    assert!(out.join("hostname.yaml").exists());
}

/// Usage errors are exit 2 and write nothing.
#[test]
fn import_usage_errors_are_2() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let out = tmp.path().join("out");
    let out_s = out.to_str().expect("utf8");
    let dup = tmp.path().join("other/init");
    fs::create_dir_all(&dup).expect("mkdir");
    fs::write(dup.join("cron.conf"), "exec cron\n").expect("write");
    let dup_s = dup.join("cron.conf").to_string_lossy().into_owned();
    for args in [
        vec!["import", "upstart", "--out", out_s],
        vec!["import", "upstart", "init/nope.conf", "--out", out_s],
        vec![
            "import",
            "upstart",
            "init/cron.conf",
            "../../import/corpus/expected/cron.yaml",
            "--out",
            out_s,
        ],
        vec![
            "import",
            "upstart",
            "init/cron.conf",
            &dup_s,
            "--out",
            out_s,
        ],
        vec!["import", "upstart", "init/cron.conf", "--out"],
        vec!["import", "monit", "nope.monitrc", "--out", out_s],
        vec!["import", "monit", "x", "--cpus", "0", "--out", out_s],
        vec!["import"],
    ] {
        let (code, _, err) = run_in(&corpus(), &args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(err.starts_with("gsup: "), "{args:?}: {err}");
        assert!(!out.exists(), "{args:?} wrote something");
    }
}

/// Without `--out` the units go to `./services.d`, created if missing, job
/// names under a dir named `init` keeping their folders.
#[test]
fn import_default_out_dir_and_names() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let init = tmp.path().join("etc/init/gitorious");
    fs::create_dir_all(&init).expect("mkdir");
    fs::write(init.join("unicorn.conf"), "exec /srv/unicorn\n").expect("write");
    fs::write(tmp.path().join("etc/init/cron.conf"), "exec cron\n").expect("write");
    let (code, stdout, err) = run_in(
        tmp.path(),
        &[
            "import",
            "upstart",
            "etc/init/gitorious/unicorn.conf",
            "etc/init/cron.conf",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        stdout,
        "wrote services.d/cron.yaml\nwrote services.d/gitorious/unicorn.yaml\n"
    );
    let unit =
        fs::read_to_string(tmp.path().join("services.d/gitorious/unicorn.yaml")).expect("unit");
    assert_eq!(
        unit,
        "# Imported from etc/init/gitorious/unicorn.conf by `gsup import upstart`.\nexec: [/srv/unicorn]\n"
    );
    let (code, report, _) = run_in(tmp.path(), &["check"]);
    assert_eq!(code, 0, "{report}");
    assert!(report.contains("2 jobs, 0 errors, 0 warnings"), "{report}");
}

/// Upstart's `NAME.override` beside a job is not read: said, exit 1.
#[test]
fn import_override_beside_is_reported() {
    let tmp = tempfile::tempdir().expect("tempdir");
    fs::write(tmp.path().join("cron.conf"), "exec cron\n").expect("write");
    fs::write(tmp.path().join("cron.override"), "manual\n").expect("write");
    let (code, _, err) = run_in(
        tmp.path(),
        &["import", "upstart", "cron.conf", "--out", "out"],
    );
    assert_eq!(code, 1, "{err}");
    assert!(
        err.starts_with("cron.conf:1: dropped: cron.override is not read: Upstart applies its stanzas after this file's"),
        "{err}"
    );
    assert!(tmp.path().join("out/cron.yaml").exists());
}
