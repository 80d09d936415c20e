//! `gsup completions SHELL` and `gsup man`: shell completions and the man page, generated from clap's command definitions.
//! It only writes text to the given output; it never installs files or talks to the daemon.

use super::Cli;
use clap::{CommandFactory, ValueEnum};
use roff::{Roff, bold, italic, roman};
use std::io::Write;

/// The shells `gsup completions` writes for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
}

/// Writes the completion script for `shell` to `out` (clap_complete, from
/// the same definitions clap parses with, so they never drift). Exit 0, or
/// 1 when `out` fails (a closed pipe is not reported).
pub fn completions(shell: Shell, out: &mut dyn Write) -> i32 {
    let generator = match shell {
        Shell::Bash => clap_complete::Shell::Bash,
        Shell::Zsh => clap_complete::Shell::Zsh,
        Shell::Fish => clap_complete::Shell::Fish,
    };
    let mut buf = Vec::new();
    clap_complete::generate(generator, &mut Cli::command(), "gsup", &mut buf);
    finish(out, &buf, "completions")
}

/// Writes `gsup(1)`, one roff page, to `out`: clap_mangen's name, synopsis,
/// description and global options, then every command with its usage,
/// description and options (from the same definitions), the exit status and
/// the environment.
pub fn man(out: &mut dyn Write) -> i32 {
    match page() {
        Ok(text) => finish(out, text.as_bytes(), "man"),
        Err(e) => {
            eprintln!("gsup: man: {e}");
            1
        }
    }
}

/// The apostrophe preamble each roff render starts with; kept once.
const PREAMBLE: &str = ".ie \\n(.g .ds Aq \\(aq\n.el .ds Aq '\n";

fn page() -> std::io::Result<String> {
    let mut cmd = Cli::command().disable_help_subcommand(true);
    cmd.build();
    let man = clap_mangen::Man::new(cmd.clone());
    let mut buf = Vec::new();
    man.render_title(&mut buf)?;
    man.render_name_section(&mut buf)?;
    man.render_synopsis_section(&mut buf)?;
    man.render_description_section(&mut buf)?;
    man.render_options_section(&mut buf)?;
    commands(&cmd).to_writer(&mut buf)?;
    tail(&cmd).to_writer(&mut buf)?;
    man.render_version_section(&mut buf)?;
    let text = String::from_utf8_lossy(&buf).replace(PREAMBLE, "");
    Ok(format!("{PREAMBLE}{text}"))
}

/// `.SH COMMANDS`: one `.SS` per subcommand.
fn commands(cmd: &clap::Command) -> Roff {
    let mut r = Roff::new();
    r.control("SH", ["COMMANDS"]);
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = format!("gsup {}", sub.get_name());
        r.control("SS", [name.as_str()]);
        let usage = sub.clone().render_usage().to_string();
        let usage = usage.strip_prefix("Usage: ").unwrap_or(&usage).to_owned();
        r.text([bold(usage)]);
        r.control("PP", []);
        let about = sub.get_long_about().or(sub.get_about());
        r.text([roman(about.map(|a| a.to_string()).unwrap_or_default())]);
        for arg in sub.get_arguments() {
            if arg.is_hide_set() || arg.is_global_set() || arg.get_id() == "help" {
                continue;
            }
            r.control("TP", []);
            r.text(arg_title(arg));
            let help = arg.get_long_help().or(arg.get_help());
            let mut text = help.map(|h| h.to_string()).unwrap_or_default();
            let possible: Vec<String> = arg
                .get_possible_values()
                .iter()
                .map(|v| v.get_name().to_owned())
                .collect();
            if arg.get_action().takes_values() && !possible.is_empty() {
                text.push_str(&format!(" (one of: {})", possible.join(", ")));
            }
            let defaults: Vec<String> = arg
                .get_default_values()
                .iter()
                .map(|v| v.to_string_lossy().into_owned())
                .collect();
            if !defaults.is_empty() {
                text.push_str(&format!(" [default: {}]", defaults.join(" ")));
            }
            r.text([roman(text)]);
        }
    }
    r
}

/// `-v, --verbose`, `--cycle <DUR>`, `<JOB>...`.
fn arg_title(arg: &clap::Arg) -> Vec<roff::Inline> {
    let values: Vec<String> = arg
        .get_value_names()
        .map(|v| v.iter().map(|n| n.to_string()).collect())
        .unwrap_or_else(|| vec![arg.get_id().as_str().to_uppercase()]);
    let value = format!("<{}>", values.join("> <"));
    let mut out = Vec::new();
    if arg.is_positional() {
        out.push(italic(value));
        return out;
    }
    if let Some(s) = arg.get_short() {
        out.push(bold(format!("-{s}")));
    }
    if let Some(l) = arg.get_long() {
        if !out.is_empty() {
            out.push(roman(", "));
        }
        out.push(bold(format!("--{l}")));
    }
    if arg.get_action().takes_values() {
        out.push(roman(" "));
        out.push(italic(value));
    }
    out
}

/// `.SH EXIT STATUS` (the definitions' after-help) and `.SH ENVIRONMENT`.
fn tail(cmd: &clap::Command) -> Roff {
    let mut r = Roff::new();
    if let Some(codes) = cmd.get_after_help() {
        r.control("SH", ["EXIT STATUS"]);
        let text = codes.to_string();
        r.text([roman(text.strip_prefix("Exit codes: ").unwrap_or(&text))]);
    }
    r.control("SH", ["ENVIRONMENT"]);
    for (name, what) in [
        (
            "GSUP_SOCKET",
            "the control socket, when --socket is not given",
        ),
        (
            "GSUP_CONFIG_DIR",
            "the unit file dir, when --config-dir is not given",
        ),
        (
            "NO_COLOR",
            "when set and not empty, status lines are never coloured",
        ),
    ] {
        r.control("TP", []);
        r.text([bold(name)]);
        r.text([roman(what)]);
    }
    r
}

fn finish(out: &mut dyn Write, bytes: &[u8], what: &str) -> i32 {
    match out.write_all(bytes).and_then(|()| out.flush()) {
        Ok(()) => 0,
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => 0,
        Err(e) => {
            eprintln!("gsup: {what}: {e}");
            1
        }
    }
}
