//! Readiness probes: when a job counts as started (`ready:`). The tcp and notify
//! probes run as tasks that only report back; they never touch job state.

use super::core::Key;
use crate::unit::Ready;
use std::collections::HashMap;
use std::os::unix::net::UnixDatagram;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

/// Pause between two tries of a tcp or exec probe.
pub const RETRY: Duration = Duration::from_millis(25);

/// How a job's readiness is found out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    /// Ready when spawned (also `pidfile`, until the pidfile helper lands).
    None,
    Tcp(String),
    Exec,
    Notify,
}

impl Probe {
    /// The probe for a unit's `ready:`.
    pub fn of(ready: &Ready) -> Probe {
        match ready {
            Ready::Spawned | Ready::Pidfile => Probe::None,
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

/// Binds the notify socket of one instance under `runtime_dir`, replacing a stale one.
pub fn bind_notify(runtime_dir: &Path, key: &Key) -> std::io::Result<(PathBuf, UnixDatagram)> {
    let dir = runtime_dir.join("notify");
    std::fs::create_dir_all(&dir)?;
    let mut name = key.0.replace('/', "%");
    if !key.1.is_empty() {
        name.push('@');
        name.push_str(&key.1.replace('/', "%"));
    }
    let path = dir.join(format!("{name}.sock"));
    let _ = std::fs::remove_file(&path);
    let sock = UnixDatagram::bind(&path)?;
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
