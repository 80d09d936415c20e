//! The machine's vocabulary: which process, which timer, every input and effect.
//! Pure data; `machine::step` is the only code that turns one into the other.

use crate::job::Exit;
use crate::sys::KillTarget;
use crate::unit::Signal;

/// One process of a job, as Upstart names them (`PROCESS=` of `stopping`/`stopped`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Process {
    Main,
    PreStart,
    PostStart,
    PreStop,
    PostStop,
}

impl Process {
    /// The word of the `PROCESS` event variable.
    pub fn as_str(self) -> &'static str {
        match self {
            Process::Main => "main",
            Process::PreStart => "pre-start",
            Process::PostStart => "post-start",
            Process::PreStop => "pre-stop",
            Process::PostStop => "post-stop",
        }
    }
}

/// The timers a job can arm; each comes back as `Input::Timer`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Timer {
    /// `kill_timeout` after the kill signal: escalate to SIGKILL.
    KillTimeout,
    /// `respawn_delay` before a respawn (never armed when the delay is 0).
    RespawnDelay,
    /// `ready_timeout` after the main process was spawned.
    ReadyTimeout,
}

/// What a watchdog check asks of a job (the seam for the watchdog helper).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckAction {
    Restart,
    Stop,
}

/// Everything that can happen to a job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    /// `gsup start`, a matching `start_on`, or a restart's second half.
    Start,
    /// `gsup stop`, a matching `stop_on`, or shutdown.
    Stop,
    /// The `Effect::Spawn` of this process succeeded.
    Spawned { process: Process, pid: i32 },
    /// The `Effect::Spawn` of this process failed (stage and errno in `reason`).
    SpawnFailed { process: Process, reason: String },
    /// A process of the job was reaped, with its whole wait status.
    Exited { process: Process, exit: Exit },
    /// The readiness probe succeeded.
    Ready,
    /// A timer armed by `Effect::SetTimer` expired.
    Timer(Timer),
    /// Pidfile seam: the main process is now `pid` (no restart, no event).
    MainReplaced { pid: i32 },
    /// Pidfile seam: no live main process within `pidfile_grace`; the main
    /// process has ended, with its last known exit if any.
    MainLost,
    /// Watchdog seam: a check fired with this action; `rule` as written in
    /// the unit, `value` what broke it (`totalmem 312 MB > 300 MB`).
    Check {
        action: CheckAction,
        rule: String,
        value: String,
    },
}

/// What the supervisor must do for the job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Effect {
    /// Expand and spawn this process; answer with `Spawned` or `SpawnFailed`.
    Spawn(Process),
    /// Send `sig` to a process group or one pid.
    Signal { target: KillTarget, sig: Signal },
    /// Send `sig` to every known process of the job outside its group.
    SignalStrays { sig: Signal },
    /// Arm a timer (replacing one of the same kind).
    SetTimer(Timer, std::time::Duration),
    /// Disarm a timer (a no-op when not armed).
    CancelTimer(Timer),
    /// Emit `NAME JOB` with `JOB`, `INSTANCE` prepended to `env`.
    Emit {
        name: &'static str,
        env: Vec<(String, String)>,
    },
    /// Start probing readiness (tcp, exec, notify).
    StartReadiness,
    /// Stop probing readiness.
    StopReadiness,
    /// A lifecycle line for the daemon log (info).
    Log(String),
    /// An input that cannot happen in this state; logged (warn) and ignored.
    Ignored(String),
    /// A line of gsup's own for the job's log (the supervisor prefixes
    /// `gsup: `): why the job stops, restarts or was killed.
    Note(String),
}
