//! The client side of the control socket: one JSON request line out, one JSON
//! response line back. Blocking std I/O; it never needs a tokio runtime.

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
        }
    }
}

impl std::error::Error for ClientError {}

/// Sends `request` to the daemon at `socket` and waits for its response (as
/// long as it takes: `start` waits until the job is ready).
pub fn call(socket: &Path, request: &Request) -> Result<Response, ClientError> {
    let unreachable = |e: std::io::Error| ClientError::Unreachable {
        socket: socket.to_path_buf(),
        reason: e.to_string(),
    };
    let mut stream = UnixStream::connect(socket).map_err(unreachable)?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_socket_is_unreachable_and_named() {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("none.sock");
        let err = call(&sock, &Request::List).expect_err("nothing listens");
        let text = err.to_string();
        assert!(
            text.starts_with(&format!("cannot reach the daemon at {}: ", sock.display())),
            "{text}"
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
