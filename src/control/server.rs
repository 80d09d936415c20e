//! The daemon side of the control socket: binds it, accepts connections, reads
//! one request, checks the peer's rights, and forwards it to the supervisor.
//! It never touches job state and never blocks the supervisor: each connection
//! is its own small task, bounded in size, time and number.

use super::Call;
use super::proto::{Peer, Request, Response};
use std::io;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{Semaphore, mpsc, oneshot};

/// Longest request line accepted; a longer one is a bad request.
pub const MAX_REQUEST_BYTES: u64 = 64 * 1024;
/// How long a client may take to send its request line.
pub const READ_TIMEOUT: Duration = Duration::from_secs(5);
/// How long a client may take to read its response.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(5);
/// How many connections are served at once; more wait in the kernel's backlog.
pub const MAX_CONNECTIONS: usize = 256;

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
///
/// Creates the parent directory if missing. Must be called inside the tokio
/// runtime that will run [`serve`] (the listener registers with its reactor).
pub fn bind(path: &Path) -> io::Result<UnixListener> {
    if tokio::runtime::Handle::try_current().is_err() {
        // UnixListener::bind would panic outside a runtime; PID 1 must not.
        return Err(io::Error::other(
            "control socket: bind must be called inside the tokio runtime",
        ));
    }
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|e| {
            io::Error::new(e.kind(), format!("cannot create {}: {e}", parent.display()))
        })?;
    }
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_socket() => {
            return Err(io::Error::new(
                io::ErrorKind::AlreadyExists,
                format!(
                    "{} exists and is not a socket; refusing to replace it",
                    path.display()
                ),
            ));
        }
        Ok(_) => {
            if std::os::unix::net::UnixStream::connect(path).is_ok() {
                return Err(io::Error::new(
                    io::ErrorKind::AddrInUse,
                    format!("another gsup daemon is listening on {}", path.display()),
                ));
            }
            // Nobody answers: a stale socket left by a daemon that died.
            std::fs::remove_file(path).map_err(|e| {
                io::Error::new(
                    e.kind(),
                    format!("cannot remove stale socket {}: {e}", path.display()),
                )
            })?;
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => {
            return Err(io::Error::new(
                e.kind(),
                format!("cannot inspect {}: {e}", path.display()),
            ));
        }
    }
    let listener = UnixListener::bind(path)
        .map_err(|e| io::Error::new(e.kind(), format!("cannot bind {}: {e}", path.display())))?;
    // Every local user may connect; rights are checked per request (SO_PEERCRED).
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o666))
        .map_err(|e| io::Error::new(e.kind(), format!("cannot chmod {}: {e}", path.display())))?;
    Ok(listener)
}

/// Accepts connections forever, forwarding each valid request as a [`Call`].
/// Must be spawned on the daemon's runtime; never blocks the supervisor.
/// Returns once the supervisor has dropped its receiver.
pub async fn serve(listener: UnixListener, policy: AccessPolicy, calls: mpsc::Sender<Call>) {
    let policy = Arc::new(policy);
    let slots = Arc::new(Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(permit) = slots.clone().acquire_owned().await else {
            return;
        };
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = calls.closed() => return,
        };
        match accepted {
            Ok((stream, _)) => {
                let policy = policy.clone();
                let calls = calls.clone();
                tokio::spawn(async move {
                    handle(stream, &policy, &calls).await;
                    drop(permit);
                });
            }
            Err(e) => {
                // EMFILE and the like: back off instead of spinning.
                tracing::warn!("control socket: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Serves one connection: one request line in, one response line out.
async fn handle(stream: UnixStream, policy: &AccessPolicy, calls: &mpsc::Sender<Call>) {
    // No credentials (never seen on Linux): an unknown peer, (uid_t)-1, which
    // may read but not change anything.
    let peer = stream
        .peer_cred()
        .map(|c| Peer {
            uid: c.uid(),
            gid: c.gid(),
        })
        .unwrap_or(Peer {
            uid: u32::MAX,
            gid: u32::MAX,
        });
    let (rd, mut wr) = stream.into_split();
    let response = match tokio::time::timeout(READ_TIMEOUT, read_request_line(rd)).await {
        Err(_) => Response::err(2, "bad request: no request line within 5s"),
        Ok(Err(e)) => Response::err(2, format!("bad request: {e}")),
        // A connection closed without a word (e.g. `bind` probing): nothing to say.
        Ok(Ok(None)) => return,
        Ok(Ok(Some(line))) => match super::proto::parse_request(&line) {
            Err(e) => {
                tracing::warn!("control socket: {e}");
                Response::err(2, e)
            }
            Ok(request) => dispatch(request, peer, policy, calls).await,
        },
    };
    let mut bytes = match serde_json::to_vec(&response) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!("control socket: cannot encode a response: {e}");
            return;
        }
    };
    bytes.push(b'\n');
    // The client may have gone away meanwhile, or never read: its business,
    // but it may not hold a connection slot for long.
    let write = async {
        wr.write_all(&bytes).await?;
        wr.shutdown().await
    };
    let _ = tokio::time::timeout(WRITE_TIMEOUT, write).await;
}

/// Checks rights, then hands the request to the supervisor and waits for its answer.
async fn dispatch(
    request: Request,
    peer: Peer,
    policy: &AccessPolicy,
    calls: &mpsc::Sender<Call>,
) -> Response {
    if request.is_changing() && !may_change(policy, peer).await {
        return Response::err(1, denial(policy, peer));
    }
    let (reply, answer) = oneshot::channel();
    let call = Call {
        request,
        peer,
        reply,
    };
    if calls.send(call).await.is_err() {
        return Response::err(1, "daemon is shutting down");
    }
    answer
        .await
        .unwrap_or_else(|_| Response::err(1, "daemon is shutting down"))
}

/// The one-line refusal: who could have done it, and who asked.
pub fn denial(policy: &AccessPolicy, peer: Peer) -> String {
    let mut who = String::from("root");
    if policy.daemon_uid != 0 {
        who.push_str(&format!(", uid {}", policy.daemon_uid));
    }
    if policy.control_gid.is_some() {
        who.push_str(", or the control group");
    }
    format!(
        "permission denied: changing jobs needs {who}; you are uid {}",
        peer.uid
    )
}

/// True if `peer` may send changing commands. The group database is consulted
/// (off the runtime thread) only when uid and primary gid do not decide it.
async fn may_change(policy: &AccessPolicy, peer: Peer) -> bool {
    if let Some(allowed) = decide_without_groups(policy, peer) {
        return allowed;
    }
    let Some(gid) = policy.control_gid else {
        return false;
    };
    let uid = peer.uid;
    tokio::task::spawn_blocking(move || {
        crate::users::supplementary_groups(uid, peer.gid).contains(&gid)
    })
    .await
    .unwrap_or(false)
}

/// The decision from the peer's uid and primary gid alone: `Some(answer)`, or
/// `None` when the peer's supplementary groups must be looked at.
pub fn decide_without_groups(policy: &AccessPolicy, peer: Peer) -> Option<bool> {
    if peer.uid == 0 || peer.uid == policy.daemon_uid {
        return Some(true);
    }
    match policy.control_gid {
        None => Some(false),
        Some(g) if g == peer.gid => Some(true),
        Some(_) => None,
    }
}

/// Reads one newline-terminated line of at most [`MAX_REQUEST_BYTES`].
/// `Ok(None)`: the client closed without sending anything.
async fn read_request_line(rd: tokio::net::unix::OwnedReadHalf) -> Result<Option<Vec<u8>>, String> {
    let mut reader = BufReader::new(rd.take(MAX_REQUEST_BYTES + 1));
    let mut line = Vec::new();
    reader
        .read_until(b'\n', &mut line)
        .await
        .map_err(|e| format!("read failed: {e}"))?;
    if line.len() as u64 > MAX_REQUEST_BYTES {
        return Err(format!("request longer than {MAX_REQUEST_BYTES} bytes"));
    }
    if line.iter().all(|b| b.is_ascii_whitespace()) {
        return if line.is_empty() {
            Ok(None)
        } else {
            Err("empty request".into())
        };
    }
    Ok(Some(line))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(gid: Option<u32>) -> AccessPolicy {
        AccessPolicy {
            daemon_uid: 1000,
            control_gid: gid,
        }
    }

    #[test]
    fn rights_from_uid_and_primary_gid() {
        let p = |uid, gid| Peer { uid, gid };
        assert_eq!(decide_without_groups(&policy(None), p(0, 0)), Some(true));
        assert_eq!(decide_without_groups(&policy(None), p(1000, 5)), Some(true));
        assert_eq!(
            decide_without_groups(&policy(None), p(1001, 5)),
            Some(false)
        );
        assert_eq!(
            decide_without_groups(&policy(Some(50)), p(1001, 50)),
            Some(true)
        );
        assert_eq!(decide_without_groups(&policy(Some(50)), p(1001, 5)), None);
    }

    #[test]
    fn denial_messages() {
        let peer = Peer {
            uid: 65534,
            gid: 65534,
        };
        assert_eq!(
            denial(&AccessPolicy::default(), peer),
            "permission denied: changing jobs needs root; you are uid 65534"
        );
        assert_eq!(
            denial(&policy(Some(50)), peer),
            "permission denied: changing jobs needs root, uid 1000, or the control group; you are uid 65534"
        );
    }

    #[test]
    fn bind_outside_a_runtime_is_an_error_not_a_panic() {
        let dir = tempfile::tempdir().expect("tempdir");
        let err = bind(&dir.path().join("s.sock")).expect_err("no runtime");
        assert!(
            err.to_string().contains("inside the tokio runtime"),
            "{err}"
        );
    }

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    }

    #[test]
    fn bind_refuses_a_regular_file_and_replaces_a_stale_socket() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("plain");
        std::fs::write(&file, "x").expect("write");
        rt().block_on(async {
            let err = bind(&file).expect_err("must refuse a regular file");
            assert!(err.to_string().contains("is not a socket"), "{err}");
            assert_eq!(std::fs::read_to_string(&file).expect("still there"), "x");

            let sock = dir.path().join("sub/dir/gsup.sock");
            let first = bind(&sock).expect("bind");
            let mode = std::fs::metadata(&sock).expect("meta").permissions().mode();
            assert_eq!(mode & 0o777, 0o666);
            let err = bind(&sock).expect_err("a live listener");
            assert_eq!(
                err.to_string(),
                format!("another gsup daemon is listening on {}", sock.display())
            );
            drop(first);
            bind(&sock).expect("stale socket replaced");
        });
    }

    #[test]
    fn serve_answers_garbage_then_forwards_a_good_request() {
        use std::io::{BufRead, Write};
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("s.sock");
        rt().block_on(async {
            let listener = bind(&sock).expect("bind");
            let (tx, mut rx) = mpsc::channel::<Call>(4);
            tokio::spawn(serve(listener, policy(None), tx));
            tokio::spawn(async move {
                while let Some(call) = rx.recv().await {
                    let _ = call
                        .reply
                        .send(Response::err(4, format!("{:?}", call.request)));
                }
            });
            let sock2 = sock.clone();
            let lines = tokio::task::spawn_blocking(move || {
                let mut out = Vec::new();
                for msg in ["this is not json\n", "{\"cmd\":\"list\"}\n"] {
                    let mut s = std::os::unix::net::UnixStream::connect(&sock2).expect("connect");
                    s.write_all(msg.as_bytes()).expect("write");
                    let mut line = String::new();
                    std::io::BufReader::new(s)
                        .read_line(&mut line)
                        .expect("read");
                    out.push(line);
                }
                out
            })
            .await
            .expect("client thread");
            let bad: Response = serde_json::from_str(&lines[0]).expect("json");
            assert_eq!(bad.code, 2);
            assert!(bad.error.unwrap_or_default().starts_with("bad request: "));
            let good: Response = serde_json::from_str(&lines[1]).expect("json");
            assert_eq!(good.code, 4);
            assert_eq!(good.error.as_deref(), Some("List"));
        });
    }
}
