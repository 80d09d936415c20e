//! The client commands (`start` ... `shutdown`): build one request, send it,
//! print the answer, return its exit code. It decides nothing about jobs.

use super::table::{self, Looks};
use super::{Command, Format};
use crate::control::client::{self, ClientError};
use crate::control::proto::{Request, Response};
use crate::control::status;
use crate::job::State;
use std::io::Write;
use std::path::Path;

/// How to print the statuses of an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// The status line alone.
    Lines,
    /// The status line and the `-v` line.
    Verbose,
    /// One JSON object per line.
    Json,
}

impl From<Format> for Output {
    fn from(f: Format) -> Output {
        if f.json {
            Output::Json
        } else if f.verbose {
            Output::Verbose
        } else {
            Output::Lines
        }
    }
}

/// The request a client command sends and how its answer is printed;
/// `Err` with a usage message for words that do not make one (a pair before
/// any job in `status`) and for the commands that are not client commands.
pub fn request_of(command: Command) -> Result<(Request, Output), String> {
    let lines = Output::Lines;
    Ok(match command {
        Command::Start(a) => (
            Request::Start {
                job: a.target.job,
                env: a.target.env,
                wait: !a.no_wait,
            },
            lines,
        ),
        Command::Stop(a) => (
            Request::Stop {
                job: a.target.job,
                env: a.target.env,
                wait: !a.no_wait,
            },
            lines,
        ),
        Command::Restart(a) => (
            Request::Restart {
                job: a.target.job,
                env: a.target.env,
                wait: !a.no_wait,
            },
            lines,
        ),
        Command::Reload(a) => (
            Request::Reload {
                job: a.job,
                env: a.env,
            },
            lines,
        ),
        Command::Status { jobs, format } => {
            let (jobs, pairs) = super::args::group_status_words(&jobs)?;
            let output = Output::from(format);
            let brief = output == Output::Lines;
            (Request::Status { jobs, pairs, brief }, output)
        }
        Command::List { format } => {
            let output = Output::from(format);
            let brief = output == Output::Lines;
            (Request::List { brief }, output)
        }
        Command::Emit {
            event,
            env,
            no_wait,
        } => (
            Request::Emit {
                event,
                env,
                wait: !no_wait,
            },
            lines,
        ),
        Command::ReloadConfig => (Request::ReloadConfig, lines),
        Command::Shutdown { reboot, .. } => (Request::Shutdown { reboot }, lines),
        Command::Reexec => (Request::Reexec, lines),
        Command::Daemon(_)
        | Command::Check(_)
        | Command::Graph(_)
        | Command::Import(_)
        | Command::Log { .. }
        | Command::Completions { .. }
        | Command::Man => {
            return Err("not a client command".into());
        }
    })
}

/// Runs one client command against the daemon at `socket`.
pub fn run(socket: &Path, command: Command) -> i32 {
    let (request, output) = match request_of(command) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("gsup: {e}; try 'gsup --help'");
            return 2;
        }
    };
    let response = match call_again_after_reexec(socket, &request) {
        Ok(r) if r.code == 0 && matches!(request, Request::Reexec) => return wait_reexec(socket),
        Ok(r) => r,
        // A daemon told to shut down may be gone before it could answer.
        Err(ClientError::NoAnswer { .. }) if matches!(request, Request::Shutdown { .. }) => {
            return 0;
        }
        Err(ClientError::NoAnswer { .. }) if matches!(request, Request::Reexec) => {
            return wait_reexec(socket);
        }
        Err(e) => {
            eprintln!("gsup: {e}");
            return 1;
        }
    };
    let mut out = std::io::stdout().lock();
    let mut err = std::io::stderr().lock();
    let looks = looks_of_stdout();
    print_response(&request, &response, output, looks, &mut out, &mut err)
}

/// `client::call`, asked again (up to 100 times, 10 ms apart) when
/// the daemon closed the connection without an answer: a daemon that
/// re-executes itself (`gsup reexec`) drops the connections it had accepted
/// but not answered, and its new image answers a moment later. Only for
/// requests that may be sent twice: `emit` is not, and `shutdown` and
/// `reexec` have their own handling.
fn call_again_after_reexec(socket: &Path, request: &Request) -> Result<Response, ClientError> {
    let again = !matches!(
        request,
        Request::Emit { .. } | Request::Shutdown { .. } | Request::Reexec
    );
    let mut tries = 0;
    loop {
        match client::call(socket, request) {
            Err(ClientError::NoAnswer { .. }) if again && tries < 100 => {
                tries += 1;
                std::thread::sleep(std::time::Duration::from_millis(10));
            }
            other => return other,
        }
    }
}

/// After `reexec`: returns 0 once the new daemon answers (a call sent
/// while the old image is going away ends without an answer and is sent
/// again), 1 when none answers within 10 seconds.
fn wait_reexec(socket: &Path) -> i32 {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        match client::call(socket, &Request::List { brief: true }) {
            Ok(_) => return 0,
            Err(e) if std::time::Instant::now() >= deadline => {
                eprintln!("gsup: reexec: the new daemon does not answer: {e}");
                return 1;
            }
            Err(_) => std::thread::sleep(std::time::Duration::from_millis(5)),
        }
    }
}

/// Columns when stdout is a terminal (a person reads it), colour too unless
/// `NO_COLOR` is set and not empty, or `TERM` is `dumb`. Piped, the lines
/// are Upstart's, byte for byte, for scripts.
pub fn looks_of_stdout() -> Looks {
    use std::io::IsTerminal;
    let tty = std::io::stdout().is_terminal();
    let set = |k: &str| std::env::var_os(k).is_some_and(|v| !v.is_empty());
    Looks {
        columns: tty,
        color: tty && !set("NO_COLOR") && std::env::var_os("TERM").is_none_or(|t| t != "dumb"),
    }
}

/// Prints statuses on `out` (laid out by `looks`) and the error on `err` as `gsup: MESSAGE`;
/// returns the exit code. For `status JOB...`, a named job that is not
/// running makes it 3 even if the daemon said 0 (LSB).
pub fn print_response(
    request: &Request,
    response: &Response,
    output: Output,
    looks: Looks,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> i32 {
    let mut broken = false;
    if let Some(note) = &response.note {
        broken |= writeln!(out, "{note}").is_err();
    }
    if output == Output::Json {
        for s in &response.statuses {
            broken |= writeln!(out, "{}", status::json_line(s)).is_err();
        }
    } else {
        let text = table::render(&response.statuses, output == Output::Verbose, looks);
        broken |= out.write_all(text.as_bytes()).is_err();
    }
    broken |= out.flush().is_err();
    if let Some(e) = &response.error {
        let _ = writeln!(err, "gsup: {e}");
    }
    let mut code = i32::from(response.code);
    if code == 0
        && matches!(request, Request::Status { jobs, .. } if !jobs.is_empty())
        && response.statuses.iter().any(|s| s.state != State::Running)
    {
        code = 3;
    }
    if code == 0 && broken {
        // stdout closed under us (e.g. `gsup list | head -1`): nothing to report.
        return 0;
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::control::proto::JobStatus;
    use crate::job::Goal;

    fn st(name: &str, state: State, pid: Option<i32>) -> JobStatus {
        let goal = if state == State::Running {
            Goal::Start
        } else {
            Goal::Stop
        };
        JobStatus::new(name, "", goal, state, pid)
    }

    fn print(req: &Request, resp: &Response, output: Output) -> (i32, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = print_response(req, resp, output, Looks::default(), &mut out, &mut err);
        (
            code,
            String::from_utf8(out).expect("utf8"),
            String::from_utf8(err).expect("utf8"),
        )
    }

    #[test]
    fn status_of_a_stopped_job_is_3() {
        let req = Request::Status {
            jobs: vec!["a".into(), "b".into()],
            pairs: vec![],
            brief: true,
        };
        let resp = Response::ok(vec![
            st("a", State::Running, Some(5)),
            st("b", State::Waiting, None),
        ]);
        assert_eq!(
            print(&req, &resp, Output::Lines),
            (
                3,
                "a start/running, process 5\nb stop/waiting\n".into(),
                String::new()
            )
        );
        let all = Request::Status {
            jobs: vec![],
            pairs: vec![],
            brief: true,
        };
        assert_eq!(print(&all, &resp, Output::Lines).0, 0);
    }

    #[test]
    fn errors_go_to_stderr_with_the_daemon_code() {
        let req = Request::Start {
            job: "nope".into(),
            env: vec![],
            wait: true,
        };
        let resp = Response::err(4, "no such job: nope");
        assert_eq!(
            print(&req, &resp, Output::Lines),
            (4, String::new(), "gsup: no such job: nope\n".into())
        );
    }

    #[test]
    fn verbose_prints_two_lines() {
        let resp = Response::ok(vec![st("a", State::Running, Some(5))]);
        let (code, out, _) = print(&Request::List { brief: false }, &resp, Output::Verbose);
        assert_eq!(code, 0);
        assert_eq!(
            out,
            "a start/running, process 5\n    memory -, cpu -, uptime -, restarts 0, last exit: -\n"
        );
    }
}
