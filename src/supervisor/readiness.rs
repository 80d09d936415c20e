//! Readiness probes: when a job counts as started (`ready:`). The tcp and notify
//! probes run as tasks that only report back; they never touch job state.

use super::core::Supervisor;
use super::jobs::{Key, label};
use super::pids::ProcKind;
use super::timers::TimerKey;
use crate::job::State;
use crate::job::machine::Input;
use crate::sys::KillTarget;
use crate::unit::Ready;
use std::collections::HashMap;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;
use std::time::Instant;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;
use tracing::warn;

/// Pause between two tries of a tcp or exec probe.
pub const RETRY: Duration = Duration::from_millis(25);

/// How a job's readiness is found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Ready when spawned.
    None,
    /// Ready when the pidfile names a live member (supervisor::follow sends it).
    Pidfile,
    Tcp(String),
    Exec,
    Notify,
}

impl Probe {
    /// The probe for a unit's `ready:`.
    pub fn of(ready: &Ready) -> Probe {
        match ready {
            Ready::Spawned => Probe::None,
            Ready::Pidfile => Probe::Pidfile,
            Ready::Tcp(a) => Probe::Tcp(a.clone()),
            Ready::Exec(_) => Probe::Exec,
            Ready::Notify => Probe::Notify,
        }
    }
}

/// Work the synchronous supervisor hands to the async loop.
#[derive(Debug)]
pub enum ProbeCmd {
    /// Connect to `addr` every `RETRY` until it accepts.
    Tcp { key: Key, addr: String },
    /// Listen on this bound `NOTIFY_SOCKET` for `READY=1`.
    Notify { key: Key, sock: UnixDatagram },
    /// Stop probing `key`.
    Stop { key: Key },
}

/// Binds the notify socket of one instance under `runtime_dir` (which must
/// be the daemon's own, see `page::own_dir`), replacing a stale one. Only
/// its owner may send to it (mode 0600): root, or, for a job that runs as
/// another user (`owner`, that user's uid), that user, to whom the socket is
/// handed. Any other local user cannot mark the job ready.
pub fn bind_notify(
    runtime_dir: &Path,
    key: &Key,
    owner: Option<u32>,
) -> std::io::Result<(PathBuf, UnixDatagram)> {
    // Another user's dir could swap the socket under us: refuse it.
    let dir = runtime_dir.join("notify");
    for d in [runtime_dir, &dir] {
        super::page::own_dir(d).map_err(std::io::Error::other)?;
    }
    let mut name = key.0.replace('/', "%");
    if !key.1.is_empty() {
        name.push('@');
        name.push_str(&key.1.replace('/', "%"));
    }
    let name = format!("{name}.sock");
    let path = dir.join(&name);
    let (folder, _) =
        crate::logs::safe::open_dir_path(&dir, true).map_err(std::io::Error::other)?;
    match nix::unistd::unlinkat(
        &folder,
        name.as_str(),
        nix::unistd::UnlinkatFlags::NoRemoveDir,
    ) {
        Ok(()) | Err(nix::errno::Errno::ENOENT) => {}
        Err(e) => return Err(e.into()),
    }
    // Mode 0600 from the umask at bind; owner and folder mode through the
    // folder's descriptor, never a path another user could redirect.
    let sock = crate::control::socket::with_umask(0o177, || UnixDatagram::bind(&path))?;
    if let Some(uid) = owner {
        // The job's user must reach the socket through the dir, and own it.
        nix::sys::stat::fchmod(&folder, nix::sys::stat::Mode::from_bits_truncate(0o755))?;
        nix::unistd::fchownat(
            &folder,
            name.as_str(),
            Some(nix::unistd::Uid::from_raw(uid)),
            None,
            nix::fcntl::AtFlags::AT_SYMLINK_NOFOLLOW,
        )?;
    }
    sock.set_nonblocking(true)?;
    Ok((path, sock))
}

/// Runs probe tasks on the daemon's runtime; each reports its key on `ready`.
pub struct ProbeRunner {
    tasks: HashMap<Key, AbortHandle>,
    ready: mpsc::UnboundedSender<Key>,
}

impl ProbeRunner {
    /// A runner reporting successes on `ready`.
    pub fn new(ready: mpsc::UnboundedSender<Key>) -> ProbeRunner {
        ProbeRunner {
            tasks: HashMap::new(),
            ready,
        }
    }

    /// Performs one command from the supervisor.
    pub fn run(&mut self, cmd: ProbeCmd) {
        match cmd {
            ProbeCmd::Stop { key } => {
                if let Some(h) = self.tasks.remove(&key) {
                    h.abort();
                }
            }
            ProbeCmd::Tcp { key, addr } => {
                let tx = self.ready.clone();
                let k = key.clone();
                let h = tokio::spawn(async move {
                    loop {
                        if tokio::net::TcpStream::connect(addr.as_str()).await.is_ok() {
                            let _ = tx.send(k);
                            return;
                        }
                        tokio::time::sleep(RETRY).await;
                    }
                });
                self.replace(key, h.abort_handle());
            }
            ProbeCmd::Notify { key, sock } => {
                let tx = self.ready.clone();
                let k = key.clone();
                let h = tokio::spawn(async move {
                    let Ok(sock) = tokio::net::UnixDatagram::from_std(sock) else {
                        return;
                    };
                    let mut buf = vec![0u8; 4096];
                    while let Ok(n) = sock.recv(&mut buf).await {
                        let text = String::from_utf8_lossy(&buf[..n]);
                        if text.lines().any(|l| l.trim() == "READY=1") {
                            let _ = tx.send(k.clone());
                        }
                    }
                });
                self.replace(key, h.abort_handle());
            }
        }
    }

    fn replace(&mut self, key: Key, h: AbortHandle) {
        if let Some(old) = self.tasks.insert(key, h) {
            old.abort();
        }
    }
}

impl Supervisor {
    /// A readiness probe (tcp or notify) succeeded for `key`.
    pub fn on_probe_ready(&mut self, key: Key, now: Instant) {
        self.feed(key, Input::Ready);
        self.drain(now);
    }

    pub(super) fn start_probe(&mut self, key: &Key) {
        let Some(def) = self.jobs.def(&key.0) else {
            return;
        };
        match Probe::of(&def.unit.ready) {
            Probe::None => self.feed(key.clone(), Input::Ready),
            Probe::Tcp(addr) => self.probe_out.push(ProbeCmd::Tcp {
                key: key.clone(),
                addr,
            }),
            Probe::Exec => self.run_exec_probe(key),
            Probe::Notify | Probe::Pidfile => {}
        }
    }

    pub(super) fn stop_probe(&mut self, key: &Key) {
        self.timers.cancel(&TimerKey::ProbeRetry(key.clone()));
        self.probe_out.push(ProbeCmd::Stop { key: key.clone() });
        for (pid, kind) in self.pids.of(key) {
            if kind == ProcKind::Probe {
                let _ = self
                    .sys
                    .signal(KillTarget::Group(pid), crate::unit::Signal::KILL);
            }
        }
    }

    pub(super) fn run_exec_probe(&mut self, key: &Key) {
        let (Some(def), Some(inst)) = (self.jobs.def(&key.0), self.jobs.get(key)) else {
            return;
        };
        if inst.job.state != State::Spawned || inst.job.ready {
            return;
        }
        let launched =
            self.launcher
                .launch_probe(self.sys.as_mut(), self.logs.as_mut(), key, def, inst);
        match launched {
            Some(Ok(pid)) => self.pids.insert(pid, key, ProcKind::Probe),
            Some(Err(e)) => warn!(job = %label(key), "ready probe could not start: {e}"),
            None => {}
        }
    }

    pub(super) fn probe_exited(&mut self, key: &Key, exit: crate::job::Exit, now: Instant) {
        if exit == crate::job::Exit::Code(0) {
            self.feed(key.clone(), Input::Ready);
        } else {
            let at = now + super::readiness::RETRY;
            self.timers.set(TimerKey::ProbeRetry(key.clone()), at);
        }
    }
}
