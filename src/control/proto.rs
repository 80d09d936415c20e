//! The control protocol: one JSON request line from the client, one JSON
//! response line from the daemon, then the connection closes. Pure data.

use crate::job::{Goal, State};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// A client's request. `env` holds `KEY=VALUE` pairs from the command line.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "kebab-case")]
pub enum Request {
    Start {
        job: String,
        env: Vec<(String, String)>,
        wait: bool,
    },
    Stop {
        job: String,
        env: Vec<(String, String)>,
        wait: bool,
    },
    Restart {
        job: String,
        env: Vec<(String, String)>,
        wait: bool,
    },
    Reload {
        job: String,
        env: Vec<(String, String)>,
    },
    /// Empty `jobs`: every job (as `list`). `pairs[i]` are the `KEY=VALUE`
    /// pairs given after `jobs[i]`, which pick one instance of it; a job
    /// past the end of `pairs`, or with none, shows every instance.
    Status {
        jobs: Vec<String>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        pairs: Vec<Vec<(String, String)>>,
        /// Only the status lines are printed: memory and CPU are not measured.
        #[serde(default, skip_serializing_if = "is_false")]
        brief: bool,
    },
    /// Every job; `brief` as for `Status`.
    List {
        #[serde(default, skip_serializing_if = "is_false")]
        brief: bool,
    },
    Emit {
        event: String,
        env: Vec<(String, String)>,
        wait: bool,
    },
    ReloadConfig,
    /// Stop every job and end the daemon (as PID 1: power off, or reboot).
    Shutdown {
        reboot: bool,
    },
    /// Replace the daemon with the binary on disk, keeping every job.
    Reexec,
    /// Where the daemon writes a job's log (for `gsup log`); `env` picks an
    /// instance as for `status`.
    LogPath {
        job: String,
        #[serde(default)]
        env: Vec<(String, String)>,
    },
    /// The daemon's own recent log lines (`gsup log --daemon`): the last
    /// `lines`, or with `since`, up to `lines` logged after that sequence number.
    DaemonLog {
        #[serde(default)]
        since: Option<u64>,
        lines: usize,
    },
}

/// Parses one request line as the daemon receives it: JSON, then
/// [`Request::validate`]. Why a function of its own: the server and the fuzz
/// target run exactly this. The error is one printable line (`bad request: ...`).
pub fn parse_request(line: &[u8]) -> Result<Request, String> {
    let request: Request = serde_json::from_slice(line)
        .map_err(|e| format!("bad request: {}", crate::diag::printable(&e.to_string())))?;
    request
        .validate()
        .map_err(|e| format!("bad request: {e}"))?;
    Ok(request)
}

impl Request {
    /// Refuses what no client command could have sent: a job or event name
    /// that is empty or holds a control character (an event name also a
    /// blank), a key that is not `[A-Za-z_][A-Za-z0-9_]*`, a value holding a
    /// control character other than tab. Why: an instance value is printed in
    /// `list`, events are logged, and a line break there would forge a line;
    /// the daemon answers code 2 before anything happens. The error names the
    /// field with its text escaped.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            Request::Start { job, env, .. }
            | Request::Stop { job, env, .. }
            | Request::Restart { job, env, .. }
            | Request::Reload { job, env }
            | Request::LogPath { job, env } => {
                check_name("job name", job, false)?;
                check_pairs(env)
            }
            Request::Status { jobs, pairs, .. } => {
                jobs.iter()
                    .try_for_each(|j| check_name("job name", j, false))?;
                if pairs.len() > jobs.len() {
                    return Err("more pair lists than jobs".into());
                }
                pairs.iter().try_for_each(|p| check_pairs(p))
            }
            Request::Emit { event, env, .. } => {
                check_name("event name", event, true)?;
                check_pairs(env)
            }
            Request::List { .. }
            | Request::ReloadConfig
            | Request::Shutdown { .. }
            | Request::Reexec
            | Request::DaemonLog { .. } => Ok(()),
        }
    }

    /// True for the commands that change something (they need the daemon's
    /// user, root, or the control group; SPEC section 3).
    pub fn is_changing(&self) -> bool {
        !matches!(
            self,
            Request::Status { .. }
                | Request::List { .. }
                | Request::LogPath { .. }
                | Request::DaemonLog { .. }
        )
    }
}

/// Serde's `skip_serializing_if` for flags that are off by default, so a
/// request without them is the one older clients send.
fn is_false(b: &bool) -> bool {
    !*b
}

/// A job or event name: not empty, no control character (nor blank, for an event).
fn check_name(what: &str, name: &str, no_blanks: bool) -> Result<(), String> {
    let bad = |c: char| c.is_control() || (no_blanks && c.is_whitespace());
    if name.is_empty() {
        return Err(format!("empty {what}"));
    }
    if name.contains(bad) {
        let allowed = if no_blanks {
            "control characters or blanks"
        } else {
            "control characters"
        };
        return Err(format!(
            "{what} `{}` holds {allowed}",
            crate::diag::printable(name)
        ));
    }
    Ok(())
}

/// `KEY=VALUE` pairs: keys as the command line's, values without control
/// characters but tab.
fn check_pairs(env: &[(String, String)]) -> Result<(), String> {
    for (k, v) in env {
        if !crate::unit::expand::is_var_name(k) {
            return Err(format!(
                "bad key `{}`: a key is a letter or `_` followed by letters, digits or `_`",
                crate::diag::printable(k)
            ));
        }
        if v.contains(|c: char| c.is_control() && c != '\t') {
            return Err(format!(
                "the value of {k} `{}` holds a control character",
                crate::diag::printable(v)
            ));
        }
    }
    Ok(())
}

/// The daemon's answer. `code` is the LSB exit code the client exits with
/// (0 ok, 1 action failed, 2 usage, 3 not running, 4 no such job).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Response {
    pub code: u8,
    /// Status of every job (or instance) the request concerned.
    #[serde(default)]
    pub statuses: Vec<JobStatus>,
    /// One-line error for the client to print on stderr.
    #[serde(default)]
    pub error: Option<String>,
    /// Answer to `LogPath`.
    #[serde(default)]
    pub log_path: Option<PathBuf>,
    /// Answer to `DaemonLog`: the lines, oldest first.
    #[serde(default)]
    pub lines: Vec<String>,
    /// Answer to `DaemonLog`: the sequence number of the last line given (or
    /// of the last logged, when none is new); the next `since`.
    #[serde(default)]
    pub last_seq: Option<u64>,
    /// A line for the person who asked, printed before the statuses
    /// (`worker: stopping all 2 instances` for a `stop` that named none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl Response {
    /// A success carrying these statuses.
    pub fn ok(statuses: Vec<JobStatus>) -> Response {
        Response {
            code: 0,
            statuses,
            error: None,
            log_path: None,
            lines: Vec::new(),
            last_seq: None,
            note: None,
        }
    }

    /// A failure with an exit code and a one-line message.
    pub fn err(code: u8, message: impl Into<String>) -> Response {
        Response {
            code,
            statuses: Vec::new(),
            error: Some(message.into()),
            log_path: None,
            lines: Vec::new(),
            last_seq: None,
            note: None,
        }
    }
}

/// One job's (or instance's) status, as `status`, `list` and `--json` show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobStatus {
    pub name: String,
    /// Instance value; empty for a job without instances.
    pub instance: String,
    pub goal: Goal,
    pub state: State,
    /// Main process (the last one known while a pidfile job waits out its grace).
    pub pid: Option<i32>,
    /// RSS of the job's process tree, when measured.
    pub memory_bytes: Option<u64>,
    pub cpu_percent: Option<f64>,
    pub uptime_s: Option<u64>,
    pub restarts: u32,
    /// `exit 0`, `signal KILL`, or a spawn failure reason.
    pub last_exit: Option<String>,
    /// Failing checks, e.g. `totalmem 412 MB > 300 MB, 2 of 3 cycles`.
    #[serde(default)]
    pub failing_checks: Vec<String>,
    /// Why the job failed, if it did (`respawn limit`, `exec: No such file`).
    #[serde(default)]
    pub reason: Option<String>,
    /// CPU time of the job's tree so far, in seconds (for `cpu_seconds_total`).
    #[serde(default)]
    pub cpu_seconds: Option<f64>,
    /// How the job's processes are held together: `cgroup` or `subreaper`.
    #[serde(default)]
    pub containment: Option<String>,
    /// How many times each check rule has fired, by the rule's text.
    #[serde(default)]
    pub check_failures: Vec<CheckCount>,
    /// `changed` (a new definition waits for a restart) or `deleted` (the
    /// unit file is gone; the job runs until stopped).
    #[serde(default)]
    pub definition: Option<String>,
}

/// How many times one check rule has fired for a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckCount {
    /// The rule as written in the unit file.
    pub rule: String,
    pub count: u64,
}

impl JobStatus {
    /// A status with nothing measured, no restarts and no exit yet.
    pub fn new(name: &str, instance: &str, goal: Goal, state: State, pid: Option<i32>) -> Self {
        JobStatus {
            name: name.to_string(),
            instance: instance.to_string(),
            goal,
            state,
            pid,
            memory_bytes: None,
            cpu_percent: None,
            uptime_s: None,
            restarts: 0,
            last_exit: None,
            failing_checks: Vec::new(),
            reason: None,
            cpu_seconds: None,
            containment: None,
            check_failures: Vec::new(),
            definition: None,
        }
    }

    /// `start/running`: what `status JOB` exits 0 for (SPEC 3, LSB).
    pub fn is_up(&self) -> bool {
        self.goal == Goal::Start && self.state == State::Running
    }
}

/// The peer of a control connection, from `SO_PEERCRED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub uid: u32,
    pub gid: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(json: &str) -> Result<Request, String> {
        parse_request(json.as_bytes())
    }

    #[test]
    fn good_requests_parse() {
        assert_eq!(req(r#"{"cmd":"list"}"#), Ok(Request::List { brief: false }));
        assert_eq!(
            req(r#"{"cmd":"list","brief":true}"#),
            Ok(Request::List { brief: true })
        );
        assert_eq!(
            serde_json::to_string(&Request::List { brief: false }).ok(),
            Some(r#"{"cmd":"list"}"#.to_string())
        );
        assert_eq!(
            req(r#"{"cmd":"start","job":"w","env":[["QUEUE","a\tb"]],"wait":true}"#),
            Ok(Request::Start {
                job: "w".into(),
                env: vec![("QUEUE".into(), "a\tb".into())],
                wait: true
            })
        );
    }

    #[test]
    fn control_characters_are_refused_and_never_echoed_raw() {
        for (json, want) in [
            (
                r#"{"cmd":"start","job":"w","env":[["QUEUE","a\nw start/running"]],"wait":true}"#,
                "bad request: the value of QUEUE `a\\nw start/running` holds a control character",
            ),
            (
                r#"{"cmd":"emit","event":"go","env":[["K","\u001b[2J"]],"wait":false}"#,
                "bad request: the value of K `\\u{1b}[2J` holds a control character",
            ),
            (
                r#"{"cmd":"emit","event":"a b","env":[],"wait":false}"#,
                "bad request: event name `a b` holds control characters or blanks",
            ),
            (
                r#"{"cmd":"status","jobs":["ok","x\u0000"]}"#,
                "bad request: job name `x\\u{0}` holds control characters",
            ),
            (
                r#"{"cmd":"log-path","job":""}"#,
                "bad request: empty job name",
            ),
            (
                r#"{"cmd":"reload","job":"w","env":[["1X","v"]]}"#,
                "bad request: bad key `1X`",
            ),
            (
                r#"{"cmd":"stop","job":"w","env":[["A=B","v"]],"wait":true}"#,
                "bad request: bad key `A=B`",
            ),
        ] {
            let err = req(json).expect_err(json);
            assert!(err.starts_with(want), "{json}: {err}");
            assert!(!err.contains(|c: char| c.is_control()), "{err:?}");
        }
    }

    #[test]
    fn status_pairs_are_optional_and_checked() {
        assert_eq!(
            req(r#"{"cmd":"status","jobs":["w"]}"#),
            Ok(Request::Status {
                jobs: vec!["w".into()],
                pairs: vec![],
                brief: false
            })
        );
        assert_eq!(
            req(r#"{"cmd":"status","jobs":["a","w"],"pairs":[[],[["QUEUE","high"]]]}"#),
            Ok(Request::Status {
                jobs: vec!["a".into(), "w".into()],
                pairs: vec![vec![], vec![("QUEUE".into(), "high".into())]],
                brief: false
            })
        );
        for bad in [
            r#"{"cmd":"status","jobs":["w"],"pairs":[[],[]]}"#,
            r#"{"cmd":"status","jobs":["w"],"pairs":[[["1Q","x"]]]}"#,
            r#"{"cmd":"status","jobs":["w"],"pairs":[[["Q","a
b"]]]}"#,
        ] {
            assert!(req(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn json_errors_are_one_printable_line() {
        let err = req("{\"cmd\":\"fo\\u0000o\"}").expect_err("unknown cmd");
        assert!(err.starts_with("bad request: "), "{err}");
        assert!(!err.contains(|c: char| c.is_control()), "{err:?}");
    }
}
