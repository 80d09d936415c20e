//! The seam between supervisor logic and the kernel: spawning, signalling,
//! reaping. The supervisor calls only this trait, so tests can use a fake.

use crate::job::Exit;
use crate::spawn::{SpawnError, SpawnSpec};
use crate::unit::Signal;

/// Whom a signal goes to: a whole process group, or one process. The two are
/// apart in the type so that a worker is never killed through its master's group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KillTarget {
    Group(i32),
    Pid(i32),
}

/// The effects the supervisor performs on processes.
pub trait Sys {
    /// Forks and execs `spec` in a new session; returns the child's pid.
    fn spawn(&mut self, spec: &SpawnSpec) -> Result<i32, SpawnError>;
    /// Sends `sig`; returns the errno on failure (ESRCH when already gone).
    fn signal(&mut self, target: KillTarget, sig: Signal) -> Result<(), i32>;
    /// Reaps every child that has exited (`waitpid(-1, WNOHANG)` until none).
    fn reap(&mut self) -> Vec<(i32, Exit)>;
}

/// The real kernel.
#[derive(Debug, Default)]
pub struct RealSys;

impl Sys for RealSys {
    fn spawn(&mut self, spec: &SpawnSpec) -> Result<i32, SpawnError> {
        crate::spawn::spawn(spec)
    }

    fn signal(&mut self, target: KillTarget, sig: Signal) -> Result<(), i32> {
        let _ = (target, sig);
        Err(libc::ENOSYS)
    }

    fn reap(&mut self) -> Vec<(i32, Exit)> {
        crate::reap::reap_all()
    }
}
