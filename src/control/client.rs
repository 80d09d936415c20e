//! The client side of the control socket: one JSON request line out, one JSON
//! response line back, to and from a daemon of root or of the client's own
//! user only. Blocking std I/O; it never needs a tokio runtime.

use super::proto::{Request, Response};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};

/// Why a request got no answer; `Display` is the one line the CLI prints.
#[derive(Debug)]
pub enum ClientError {
    /// Nothing listens at the socket (missing file, refused, no permission).
    Unreachable { socket: PathBuf, reason: String },
    /// The daemon closed the connection without a response line.
    NoAnswer { socket: PathBuf },
    /// The daemon answered something that is not a response.
    Protocol { socket: PathBuf, reason: String },
    /// What listens runs as neither root nor us: another user may have bound
    /// the socket's path first (in `/tmp`, say). Nothing was sent to it.
    Untrusted { socket: PathBuf, uid: u32, own: u32 },
}

impl std::fmt::Display for ClientError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClientError::Unreachable { socket, reason } => {
                write!(
                    f,
                    "cannot reach the daemon at {}: {reason}",
                    socket.display()
                )
            }
            ClientError::NoAnswer { socket } => write!(
                f,
                "the daemon at {} closed the connection without answering",
                socket.display()
            ),
            ClientError::Protocol { socket, reason } => write!(
                f,
                "the daemon at {} sent a bad response: {reason}",
                socket.display()
            ),
            ClientError::Untrusted { socket, uid, own } => write!(
                f,
                "refusing the daemon at {}: it runs as uid {uid}, not as root or as you (uid {own}); \
                 another user may have taken the socket's path",
                socket.display()
            ),
        }
    }
}

impl std::error::Error for ClientError {}

/// Sends `request` to the daemon at `socket` and waits for its response (as
/// long as it takes: `start` waits until the job is ready). Before sending
/// anything, checks who listens (`SO_PEERCRED`): root or our own user.
pub fn call(socket: &Path, request: &Request) -> Result<Response, ClientError> {
    let unreachable = |e: std::io::Error| ClientError::Unreachable {
        socket: socket.to_path_buf(),
        reason: e.to_string(),
    };
    let mut stream = UnixStream::connect(socket).map_err(unreachable)?;
    check_server(&stream, socket)?;
    let mut line = serde_json::to_vec(request).map_err(|e| ClientError::Protocol {
        socket: socket.to_path_buf(),
        reason: e.to_string(),
    })?;
    line.push(b'\n');
    stream.write_all(&line).map_err(unreachable)?;
    let mut answer = String::new();
    BufReader::new(stream)
        .read_line(&mut answer)
        .map_err(|e| ClientError::Protocol {
            socket: socket.to_path_buf(),
            reason: e.to_string(),
        })?;
    if answer.trim().is_empty() {
        return Err(ClientError::NoAnswer {
            socket: socket.to_path_buf(),
        });
    }
    serde_json::from_str(&answer).map_err(|e| ClientError::Protocol {
        socket: socket.to_path_buf(),
        reason: e.to_string(),
    })
}

/// Whether a daemon running as `server_uid` may be believed by a client
/// running as `own`: root's daemon serves everyone, a user's serves its user.
pub fn trusted(server_uid: u32, own: u32) -> bool {
    server_uid == 0 || server_uid == own
}

/// Refuses the connection unless the server is [`trusted`]. The uid is the
/// one the listener had when it called `listen`, from the kernel.
fn check_server(stream: &UnixStream, socket: &Path) -> Result<(), ClientError> {
    use nix::sys::socket::{getsockopt, sockopt::PeerCredentials};
    let cred = getsockopt(stream, PeerCredentials).map_err(|e| ClientError::Unreachable {
        socket: socket.to_path_buf(),
        reason: format!("cannot tell who listens (SO_PEERCRED): {e}"),
    })?;
    let own = nix::unistd::geteuid().as_raw();
    let uid = cred.uid();
    if trusted(uid, own) {
        Ok(())
    } else {
        Err(ClientError::Untrusted {
            socket: socket.to_path_buf(),
            uid,
            own,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_socket_is_unreachable_and_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("none.sock");
        let err = call(&sock, &Request::List { brief: false }).expect_err("nothing listens");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("cannot reach the daemon at {}: ", sock.display())),
            "{text}"
        );
    }

    #[test]
    fn only_root_or_our_own_daemon_is_trusted() {
        assert!(trusted(0, 1000));
        assert!(trusted(1000, 1000));
        assert!(trusted(0, 0));
        assert!(!trusted(65534, 1000));
        assert!(!trusted(1000, 0), "root does not talk to a user's daemon");
        let e = ClientError::Untrusted {
            socket: PathBuf::from("/tmp/gsup-1000.sock"),
            uid: 65534,
            own: 1000,
        };
        assert_eq!(
            e.to_string(),
            "refusing the daemon at /tmp/gsup-1000.sock: it runs as uid 65534, not as root or as you (uid 1000); another user may have taken the socket's path"
        );
    }

    #[test]
    fn round_trip_with_a_fake_daemon() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("d.sock");
        let listener = std::os::unix::net::UnixListener::bind(&sock).expect("bind");
        let fake = std::thread::spawn(move || {
            let (s, _) = listener.accept().expect("accept");
            let mut line = String::new();
            BufReader::new(&s).read_line(&mut line).expect("read");
            let mut s = s;
            s.write_all(b"{\"code\":3,\"error\":\"x is not running\"}\n")
                .expect("write");
            line
        });
        let resp = call(
            &sock,
            &Request::Status {
                jobs: vec!["x".into()],
                pairs: vec![],
                brief: false,
            },
        )
        .expect("answer");
        assert_eq!(resp.code, 3);
        assert_eq!(resp.error.as_deref(), Some("x is not running"));
        assert_eq!(
            fake.join().expect("thread"),
            "{\"cmd\":\"status\",\"jobs\":[\"x\"]}\n"
        );
    }
}
