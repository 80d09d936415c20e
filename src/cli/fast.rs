//! The fast path for `gsup status JOB...`: the one command scripts and
//! monitors call in a loop, answered from the status page when it can be.

use super::{Command, Format, client, paths::Resolved};
use crate::control::page;
use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;

/// The plain `status` command line, if `argv` is one: `status` and job names,
/// with `--socket PATH` or `--socket=PATH` before or after. Anything else
/// (a flag, `--`, `-v`, help, no job, a word that is not UTF-8 or starts with
/// `-`, a `KEY=VALUE` pair picking an instance) is `None` and goes through clap, which owns every usage error.
pub fn plain_status(argv: &[OsString]) -> Option<(Option<PathBuf>, Vec<String>)> {
    let mut socket = None;
    // Sized once: a growing Vec would run one more function, outside the
    // status path's code (link/hot-text.ld).
    let mut jobs = Vec::with_capacity(argv.len());
    let mut seen_status = false;
    let mut words = argv.iter().skip(1);
    while let Some(word) = words.next() {
        let word = word.to_str()?;
        if word == "--socket" {
            let value = words.next()?.to_str()?;
            if socket.is_some() || value.is_empty() || value.starts_with('-') {
                return None;
            }
            socket = Some(PathBuf::from(value));
        } else if let Some(value) = word.strip_prefix("--socket=") {
            if socket.is_some() || value.is_empty() {
                return None;
            }
            socket = Some(PathBuf::from(value));
        } else if word.is_empty() || word.starts_with('-') || word.contains('=') {
            return None;
        } else if !seen_status {
            if word != "status" {
                return None;
            }
            seen_status = true;
        } else {
            jobs.push(word.to_string());
        }
    }
    (seen_status && !jobs.is_empty()).then_some((socket, jobs))
}

/// Runs `status JOB...` as the clap path would, reading the daemon's status
/// page (no clap, no round trip; `control::page`), else asking the daemon;
/// `None` if `argv` is not a plain status command line.
pub fn status(argv: &[OsString]) -> Option<i32> {
    let (socket, jobs) = plain_status(argv)?;
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        // A person at a terminal gets columns and colour (`client`).
        return None;
    }
    let socket = Resolved::socket(socket.as_deref());
    if let Some(answer) = page::read(&page::path_for(&socket), &jobs) {
        // As `client::print_response`: a closed stdout changes no exit code.
        let _ = std::io::stdout().lock().write_all(answer.text.as_bytes());
        return Some(if answer.running { 0 } else { 3 });
    }
    let format = Format {
        verbose: false,
        json: false,
    };
    Some(client::run(&socket, Command::Status { jobs, format }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::parse;

    fn argv(words: &[&str]) -> Vec<OsString> {
        std::iter::once("gsup")
            .chain(words.iter().copied())
            .map(OsString::from)
            .collect()
    }

    /// Every line the fast path takes, clap reads the same way.
    #[test]
    fn agrees_with_clap() {
        for words in [
            &["status", "web"][..],
            &["status", "web", "db"],
            &["--socket", "/s", "status", "web"],
            &["status", "web", "--socket", "/s"],
            &["status", "--socket=/s", "a/b"],
            &["--socket=/s", "status", "x", "y"],
        ] {
            let (socket, jobs) = plain_status(&argv(words)).expect("plain");
            let cli = parse(argv(words)).expect("clap parses it too");
            assert_eq!(cli.socket, socket, "{words:?}");
            let Some(Command::Status { jobs: j, format }) = cli.command else {
                panic!("clap: not status for {words:?}");
            };
            assert_eq!(j, jobs, "{words:?}");
            assert!(!format.verbose && !format.json);
        }
    }

    /// Everything else is left to clap, with its messages and exit codes.
    #[test]
    fn leaves_the_rest_to_clap() {
        for words in [
            &[][..],
            &["status"],
            &["status", "-v", "web"],
            &["status", "web", "--json"],
            &["status", "--", "web"],
            &["status", "--help"],
            &["list"],
            &["start", "status"],
            &["web", "status"],
            &["--socket", "status", "web"],
            &["--socket"],
            &["--socket", "/a", "status", "web", "--socket", "/b"],
            &["--socket=", "status", "web"],
            &["status", ""],
            &["status", "worker", "QUEUE=high"],
            &["--version"],
        ] {
            assert_eq!(plain_status(&argv(words)), None, "{words:?}");
        }
        #[cfg(unix)]
        {
            use std::os::unix::ffi::OsStringExt;
            let mut v = argv(&["status"]);
            v.push(OsString::from_vec(vec![0xff]));
            assert_eq!(plain_status(&v), None);
        }
    }
}
