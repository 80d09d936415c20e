//! The typed fields of a unit file (SPEC section 1) and their small value types.
//! Pure data: no parsing of YAML here, no I/O, no nix.

use crate::expr::Expr;
use crate::rule::Check;
use std::path::PathBuf;
use std::time::Duration;

/// One job's configuration, as loaded from `services.d/NAME.yaml`.
#[derive(Debug, Clone, PartialEq)]
pub struct Unit {
    pub description: Option<String>,
    pub author: Option<String>,
    /// The main command (required).
    pub exec: Command,
    pub job_type: JobType,
    pub start_on: Option<Expr>,
    pub stop_on: Option<Expr>,
    /// `env:` in file order; applied after the event's variables.
    pub env: Vec<(String, String)>,
    /// Instance template such as `$QUEUE`; `None` for a single-instance job.
    pub instance: Option<String>,
    pub respawn: bool,
    pub respawn_limit: RespawnLimit,
    pub respawn_delay: Duration,
    pub normal_exit: Vec<ExitMatch>,
    pub kill_signal: Signal,
    pub kill_timeout: Duration,
    pub reload_signal: Signal,
    /// Path template of the pidfile (may contain `$VAR`).
    pub pidfile: Option<String>,
    pub pidfile_grace: Duration,
    pub ready: Ready,
    pub ready_timeout: Duration,
    pub pre_start: Option<Command>,
    pub post_start: Option<Command>,
    pub pre_stop: Option<Command>,
    pub post_stop: Option<Command>,
    pub user: Option<UserSpec>,
    pub group: Option<UserSpec>,
    pub chdir: Option<PathBuf>,
    pub umask: Option<u32>,
    pub nice: Option<i32>,
    pub oom_score_adj: Option<i32>,
    pub limits: Vec<Rlimit>,
    pub console: Console,
    pub log: LogRotation,
    /// Per-job watchdog cycle; `None` means the daemon's `--cycle`.
    pub cycle: Option<Duration>,
    pub checks: Vec<Check>,
    pub child_checks: Vec<Check>,
}

impl Unit {
    /// A unit running `exec` with every other key at its SPEC default: the one
    /// place the defaults are written (the parser starts from it).
    pub fn new(exec: Command) -> Unit {
        Unit {
            description: None,
            author: None,
            exec,
            job_type: JobType::Service,
            start_on: None,
            stop_on: None,
            env: Vec::new(),
            instance: None,
            respawn: false,
            respawn_limit: RespawnLimit::default(),
            respawn_delay: Duration::ZERO,
            normal_exit: vec![ExitMatch::Code(0)],
            kill_signal: Signal::TERM,
            kill_timeout: Duration::from_secs(5),
            reload_signal: Signal::HUP,
            pidfile: None,
            pidfile_grace: Duration::from_secs(5),
            ready: Ready::Spawned,
            ready_timeout: Duration::from_secs(30),
            pre_start: None,
            post_start: None,
            pre_stop: None,
            post_stop: None,
            user: None,
            group: None,
            chdir: None,
            umask: None,
            nice: None,
            oom_score_adj: None,
            limits: Vec::new(),
            console: Console::Log,
            log: LogRotation::default(),
            cycle: None,
            checks: Vec::new(),
            child_checks: Vec::new(),
        }
    }
}

/// `type:` — a service runs until stopped, a task runs to completion.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum JobType {
    #[default]
    Service,
    Task,
}

/// A command line as written in the unit: argv words, each still holding its
/// `$VAR` / `${VAR}` references, expanded at spawn time from the job's env.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub words: Vec<String>,
}

/// `respawn_limit:` — more than `count` respawns within `interval` fails the job.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RespawnLimit {
    pub count: u32,
    pub interval: Duration,
}

impl Default for RespawnLimit {
    fn default() -> Self {
        RespawnLimit {
            count: 10,
            interval: Duration::from_secs(5),
        }
    }
}

/// One entry of `normal_exit:`: an exit code or a signal death.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitMatch {
    Code(i32),
    Signal(Signal),
}

/// A signal number, parsed from a name (`TERM`, `SIGTERM`) or a number.
/// A plain number type so that pure code needs no nix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Signal(pub i32);

impl Signal {
    pub const HUP: Signal = Signal(libc::SIGHUP);
    pub const INT: Signal = Signal(libc::SIGINT);
    pub const QUIT: Signal = Signal(libc::SIGQUIT);
    pub const KILL: Signal = Signal(libc::SIGKILL);
    pub const USR1: Signal = Signal(libc::SIGUSR1);
    pub const USR2: Signal = Signal(libc::SIGUSR2);
    pub const TERM: Signal = Signal(libc::SIGTERM);
}

/// `ready:` — when the job counts as started (and `started JOB` is emitted).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Ready {
    #[default]
    Spawned,
    Pidfile,
    Tcp(String),
    Exec(Command),
    Notify,
}

/// A user or group given by name or by numeric id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserSpec {
    Name(String),
    Id(u32),
}

/// One resource limit from `limits:`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rlimit {
    pub resource: RlimitResource,
    pub soft: RlimitValue,
    pub hard: RlimitValue,
}

/// The rlimit names accepted under `limits:` (Upstart's `limit` names).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RlimitResource {
    As,
    Core,
    Cpu,
    Data,
    Fsize,
    Memlock,
    Msgqueue,
    Nice,
    Nofile,
    Nproc,
    Rss,
    Rtprio,
    Sigpending,
    Stack,
}

/// A limit value: a number or `unlimited`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RlimitValue {
    Value(u64),
    Unlimited,
}

/// `console:` — where the job's stdout and stderr go.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Console {
    #[default]
    Log,
    Inherit,
    None,
}

/// `log:` — size-based rotation of the job's log file, and time prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LogRotation {
    /// Rotate when the file grows past this many bytes; `None`: never.
    pub max_size: Option<u64>,
    /// How many rotated files to keep.
    pub keep: u32,
    /// Prefix each line with the time the daemon read it.
    pub timestamps: bool,
}

impl Default for LogRotation {
    fn default() -> Self {
        LogRotation {
            max_size: None,
            keep: 5,
            timestamps: false,
        }
    }
}
