//! SPEC 3's `gsup completions` and `gsup man`, and how status lines look: in
//! columns (and colour, unless `NO_COLOR`) on a terminal, Upstart's lines
//! byte for byte when piped. The terminal is a real pseudo-terminal (`script`).

mod common;

use clap::CommandFactory;
use common::{Daemon, gsup_bin, status_pid};
use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};

fn subcommands() -> Vec<String> {
    gsup::cli::Cli::command()
        .get_subcommands()
        .map(|s| s.get_name().to_owned())
        .collect()
}

fn gsup_out(args: &[&str]) -> (i32, String) {
    let out = Command::new(gsup_bin())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .expect("run gsup");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// A program a test needs: `None` (skip) when missing locally, a failure in CI.
fn tool(name: &str, install: &str) -> Option<()> {
    let found = std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()));
    if found {
        return Some(());
    }
    let msg = format!("{name} missing: apt-get install -y {install}");
    assert!(std::env::var("CI").as_deref() != Ok("true"), "{msg}");
    eprintln!("skipped: {msg}");
    None
}

/// Runs `check` (e.g. `bash -n`) on `script` written to a file.
fn syntax_ok(checker: &[&str], script: &str) {
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("gsup.completion");
    std::fs::write(&path, script).expect("write");
    let out = Command::new(checker[0])
        .args(&checker[1..])
        .arg(&path)
        .output()
        .expect("run the shell");
    assert!(
        out.status.success(),
        "{checker:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn completions_parse_in_each_shell_and_name_every_command() {
    let subs = subcommands();
    assert!(subs.contains(&"completions".to_owned()) && subs.contains(&"man".to_owned()));
    for (shell, checker, install) in [
        ("bash", &["bash", "-n"][..], "bash"),
        ("zsh", &["zsh", "-n"][..], "zsh"),
        ("fish", &["fish", "--no-execute"][..], "fish"),
    ] {
        let (code, script) = gsup_out(&["completions", shell]);
        assert_eq!(code, 0, "{shell}");
        for sub in &subs {
            assert!(
                script.contains(sub.as_str()),
                "{shell} completion lacks {sub}"
            );
        }
        if tool(checker[0], install).is_some() {
            syntax_ok(checker, &script);
        }
    }
    let (code, _) = gsup_out(&["completions", "powershell"]);
    assert_eq!(code, 2, "only bash, zsh and fish");
}

#[test]
fn bash_completion_completes_commands() {
    let (_, script) = gsup_out(&["completions", "bash"]);
    let dir = tempfile::tempdir().expect("tmp");
    let path = dir.path().join("gsup.bash");
    std::fs::write(&path, script).expect("write");
    let out = Command::new("bash")
        .arg("-c")
        .arg(
            "source \"$1\"; COMP_WORDS=(gsup sta); COMP_CWORD=1; _gsup gsup sta gsup; \
             echo \"${COMPREPLY[*]}\"",
        )
        .arg("bash")
        .arg(&path)
        .output()
        .expect("bash");
    assert_eq!(String::from_utf8_lossy(&out.stdout), "start status\n");
}

#[test]
fn man_is_one_roff_page_naming_every_command() {
    let (code, page) = gsup_out(&["man"]);
    assert_eq!(code, 0);
    assert!(page.contains("\n.TH gsup 1"), "{page}");
    for section in [
        "NAME",
        "SYNOPSIS",
        "OPTIONS",
        "COMMANDS",
        "\"EXIT STATUS\"",
        "ENVIRONMENT",
    ] {
        assert!(page.contains(&format!("\n.SH {section}\n")), "no {section}");
    }
    for sub in subcommands() {
        assert!(
            page.contains(&format!("\n.SS \"gsup {sub}\"\n")),
            "man page lacks gsup {sub}"
        );
    }
    assert_eq!(page.matches(".ds Aq").count(), 2, "one preamble (.ie/.el)");
    // A reader renders it, when one is installed.
    if Path::new("/usr/bin/man").exists() {
        let mut man = Command::new("man")
            .args(["-l", "-"])
            .env("MANWIDTH", "80")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("man");
        man.stdin
            .take()
            .expect("stdin")
            .write_all(page.as_bytes())
            .expect("write");
        let out = man.wait_with_output().expect("man output");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("gsup reload-config"), "{text}");
    }
}

/// Runs the client in a pseudo-terminal (`script` from util-linux), with
/// `env`; returns what the terminal showed, without the `\r`s.
fn on_terminal(d: &Daemon, args: &str, env: &[(&str, &str)]) -> Option<String> {
    tool("script", "bsdutils")?;
    let cmd = format!(
        "'{}' --socket '{}' {args}",
        gsup_bin().display(),
        d.socket.display()
    );
    let mut c = Command::new("script");
    c.args(["-qec", &cmd, "/dev/null"])
        .env_remove("NO_COLOR")
        .env("TERM", "xterm")
        .stdin(Stdio::null());
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().expect("run script");
    Some(String::from_utf8_lossy(&out.stdout).replace('\r', ""))
}

/// The character column where `word` starts on each line holding it.
fn columns_of(text: &str, word: &str) -> Vec<usize> {
    text.lines()
        .filter_map(|l| l.find(word).map(|b| l[..b].chars().count()))
        .collect()
}

#[test]
fn status_lines_line_up_on_a_terminal_and_stay_upstarts_when_piped() {
    let sleeper = "exec: [/bin/sleep, \"1000\"]\n";
    let worker = "instance: $QUEUE\nexec: [/bin/sleep, \"1000\"]\n";
    let d = Daemon::start(
        &[
            ("web", sleeper),
            ("gitorious/sphinx", sleeper),
            ("worker", worker),
        ],
        &[],
    );
    let (code, web, _) = d.run(&["start", "web"]);
    assert_eq!(code, 0);
    let (code, w, _) = d.run(&["start", "worker", "QUEUE=high-priority"]);
    assert_eq!(code, 0);
    let (web, w) = (status_pid(&web).expect("pid"), status_pid(&w).expect("pid"));

    // Piped: today's lines, byte for byte.
    let piped = format!(
        "gitorious/sphinx stop/waiting\nweb start/running, process {web}\n\
         worker (high-priority) start/running, process {w}\n"
    );
    assert_eq!(d.run(&["list"]).1, piped);
    assert_eq!(
        d.run(&["status", "web", "gitorious/sphinx"]).1,
        format!("web start/running, process {web}\ngitorious/sphinx stop/waiting\n")
    );
    let (_, verbose, _) = d.run(&["list", "-v"]);
    assert_eq!(verbose.lines().count(), 6);
    assert!(
        verbose.starts_with("gitorious/sphinx stop/waiting\n    memory "),
        "{verbose}"
    );

    // A terminal: columns, no colour with NO_COLOR.
    let Some(list) = on_terminal(&d, "list", &[("NO_COLOR", "1")]) else {
        return;
    };
    assert_eq!(
        list,
        format!(
            "gitorious/sphinx        stop/waiting\n\
             web                     start/running  process {web}\n\
             worker (high-priority)  start/running  process {w}\n"
        )
    );
    let status =
        on_terminal(&d, "status web gitorious/sphinx", &[("NO_COLOR", "1")]).unwrap_or_default();
    assert_eq!(
        status,
        format!("web               start/running  process {web}\ngitorious/sphinx  stop/waiting\n")
    );
    let verbose = on_terminal(&d, "list -v", &[("NO_COLOR", "1")]).unwrap_or_default();
    assert_eq!(verbose.lines().count(), 6, "{verbose}");
    for field in ["cpu ", "uptime ", "restarts ", "last exit: "] {
        let cols = columns_of(&verbose, field);
        assert_eq!(cols.len(), 3, "{field}: {verbose}");
        assert!(
            cols.iter().all(|&c| c == cols[0]),
            "{field} not aligned:\n{verbose}"
        );
    }
    assert!(!verbose.contains('\x1b'), "{verbose:?}");

    // Colour on a terminal, unless NO_COLOR is set and not empty.
    let colour = on_terminal(&d, "list", &[]).unwrap_or_default();
    assert!(
        colour.contains("\x1b[32mstart/running\x1b[0m"),
        "{colour:?}"
    );
    let empty = on_terminal(&d, "list", &[("NO_COLOR", "")]).unwrap_or_default();
    assert!(
        empty.contains("\x1b[32m"),
        "an empty NO_COLOR is unset: {empty:?}"
    );
    let one = on_terminal(&d, "status web", &[]).unwrap_or_default();
    assert_eq!(
        one,
        format!("web \x1b[32mstart/running\x1b[0m, process {web}\n"),
        "one line stays Upstart's"
    );
    let (code, json, _) = d.run(&["list", "--json"]);
    assert_eq!(code, 0);
    assert!(!json.contains('\x1b'));
}
