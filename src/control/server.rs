//! The daemon side of the control socket: accepts connections, reads one
//! request, checks the peer's rights, and forwards it to the supervisor.

use super::Call;
use std::path::Path;
use tokio::sync::mpsc;

/// Who may send changing commands (SPEC section 3).
#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    /// The daemon's own uid.
    pub daemon_uid: u32,
    /// Gid of `--control-group`, if given.
    pub control_gid: Option<u32>,
}

/// Binds the control socket at `path` (replacing a stale socket file, refusing
/// to replace anything else), connectable by every local user.
pub fn bind(path: &Path) -> std::io::Result<tokio::net::UnixListener> {
    tokio::net::UnixListener::bind(path)
}

/// Accepts connections forever, forwarding each valid request as a [`Call`].
/// Must be spawned on the daemon's runtime; never blocks the supervisor.
pub async fn serve(
    listener: tokio::net::UnixListener,
    policy: AccessPolicy,
    calls: mpsc::Sender<Call>,
) {
    let _ = (listener, policy, calls);
}
