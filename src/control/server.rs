//! The daemon side of the control socket: accepts connections, reads one
//! request, checks the peer's rights, and forwards it to the supervisor.
//! It never touches job state and never blocks the supervisor: each connection
//! is its own small task, bounded in size and time, and counted per peer uid
//! (`admit`), so that no local user can crowd out another or root.

use super::Call;
use super::admit::{Admission, Limits, Refusal, Ticket};
use super::proto::{Peer, Request, Response};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot};

pub use super::socket::bind;

/// Longest request line accepted; a longer one is a bad request.
pub const MAX_REQUEST_BYTES: u64 = 64 * 1024;

/// Who may send changing commands (SPEC section 3).
#[derive(Debug, Clone, Default)]
pub struct AccessPolicy {
    /// The daemon's own uid.
    pub daemon_uid: u32,
    /// Gid of `--control-group`, if given.
    pub control_gid: Option<u32>,
}

/// Accepts connections forever, forwarding each valid request as a [`Call`],
/// with the daemon's [`Limits`]. Must be spawned on the daemon's runtime;
/// never blocks the supervisor. Returns once the supervisor has dropped its
/// receiver.
pub async fn serve(listener: UnixListener, policy: AccessPolicy, calls: mpsc::Sender<Call>) {
    serve_with(listener, policy, Limits::default(), calls).await;
}

/// [`serve`] with other limits (tests).
pub async fn serve_with(
    listener: UnixListener,
    policy: AccessPolicy,
    limits: Limits,
    calls: mpsc::Sender<Call>,
) {
    let admission = Admission::new(limits, policy.daemon_uid);
    let policy = Arc::new(policy);
    loop {
        // Accept at once, always: a connection left in the kernel's backlog
        // would make every later one (root's too) wait behind it.
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = calls.closed() => return,
        };
        match accepted {
            Ok((stream, _)) => {
                let peer = peer_of(&stream);
                match admission.admit(peer.uid) {
                    Ok(ticket) => {
                        let policy = policy.clone();
                        let calls = calls.clone();
                        let admission = admission.clone();
                        tokio::spawn(async move {
                            handle(stream, peer, ticket, &admission, &policy, &calls).await;
                        });
                    }
                    Err(refusal) => turn_away(&stream, peer, refusal, &admission),
                }
            }
            Err(e) => {
                // EMFILE and the like: back off instead of spinning.
                tracing::warn!("control socket: accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// The peer's credentials. None (never seen on Linux): an unknown peer,
/// (uid_t)-1, which may read but not change anything.
fn peer_of(stream: &UnixStream) -> Peer {
    stream
        .peer_cred()
        .map(|c| Peer {
            uid: c.uid(),
            gid: c.gid(),
        })
        .unwrap_or(Peer {
            uid: u32::MAX,
            gid: u32::MAX,
        })
}

/// Tells a connection there is no room (one write that never waits: the
/// line fits an empty socket buffer) and closes it.
fn turn_away(stream: &UnixStream, peer: Peer, refusal: Refusal, admission: &Admission) {
    let _ = stream.try_write(line_of(&Response::err(1, refusal.to_string())).as_slice());
    note(admission, peer, &refusal.to_string());
}

/// One refused or bad connection, in the daemon's log: one line per uid per
/// interval with the count of the others (`admit::Throttle`), from one call
/// site, which the daemon log's own limit (per source) also holds.
fn note(admission: &Admission, peer: Peer, what: &str) {
    let Some(more) = admission.note(peer.uid, Instant::now()) else {
        return;
    };
    let uid = peer.uid;
    let tail = if more == 0 {
        String::new()
    } else {
        format!(" (and {more} more refused or bad connections of this uid since its last line)")
    };
    tracing::warn!(uid, "control socket: uid {uid}: {what}{tail}");
}

/// The response as one JSON line.
fn line_of(response: &Response) -> Vec<u8> {
    let mut bytes = serde_json::to_vec(response).unwrap_or_else(|e| {
        tracing::warn!("control socket: cannot encode a response: {e}");
        br#"{"code":1,"error":"the daemon could not encode its answer"}"#.to_vec()
    });
    bytes.push(b'\n');
    bytes
}

/// Serves one connection: one request line in (within the request
/// deadline), one response line out (within the answer deadline, holding
/// one of the uid's answer slots from the request on).
async fn handle(
    stream: UnixStream,
    peer: Peer,
    ticket: Ticket,
    admission: &Admission,
    policy: &AccessPolicy,
    calls: &mpsc::Sender<Call>,
) {
    let limits = admission.limits();
    let note = |what: &str| note(admission, peer, what);
    let (rd, mut wr) = stream.into_split();
    let deadline = limits.request_deadline;
    let read = tokio::time::timeout(deadline, read_request_line(rd)).await;
    let mut slot = None;
    let response = match read {
        Err(_) => {
            let what = format!("no whole request within {}s", deadline.as_secs_f64());
            note(&what);
            Response::err(2, format!("bad request: {what}"))
        }
        Ok(Err(e)) => {
            note(&format!("bad request: {e}"));
            Response::err(2, format!("bad request: {e}"))
        }
        // A connection closed without a word (e.g. `bind` probing): nothing to say.
        Ok(Ok(None)) => return,
        Ok(Ok(Some(line))) => match super::proto::parse_request(&line) {
            Err(e) => {
                note(&e);
                Response::err(2, e)
            }
            Ok(request) => {
                slot = Some(ticket.answer_slot().await);
                dispatch(request, peer, policy, calls).await
            }
        },
    };
    // Only the bytes are kept while they are written, not the answer too.
    let bytes = line_of(&response);
    drop(response);
    let write = async {
        wr.write_all(&bytes).await?;
        wr.shutdown().await
    };
    if tokio::time::timeout(limits.answer_deadline, write)
        .await
        .is_err()
    {
        let secs = limits.answer_deadline.as_secs_f64();
        note(&format!("did not read its answer within {secs}s; dropped"));
    }
    drop(slot);
    drop(ticket);
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

    fn rt() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
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
            assert_eq!(good.error.as_deref(), Some("List { brief: false }"));
        });
    }

    /// A daemon with `limits` whose supervisor answers every request with
    /// `answer`, on a runtime thread of its own; the test is its peer, as
    /// the daemon's own user (privileged).
    fn fake(limits: Limits, answer: Response) -> (tempfile::TempDir, std::path::PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let sock = dir.path().join("s.sock");
        let path = sock.clone();
        let (ready_tx, ready) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            rt().block_on(async move {
                let listener = bind(&path).expect("bind");
                let (tx, mut rx) = mpsc::channel::<Call>(4);
                let policy = AccessPolicy {
                    daemon_uid: nix::unistd::geteuid().as_raw(),
                    control_gid: None,
                };
                tokio::spawn(serve_with(listener, policy, limits, tx));
                let _ = ready_tx.send(());
                while let Some(call) = rx.recv().await {
                    let _ = call.reply.send(answer.clone());
                }
            });
        });
        ready.recv().expect("fake daemon up");
        (dir, sock)
    }

    fn read_all(s: &mut std::os::unix::net::UnixStream) -> Vec<u8> {
        use std::io::Read;
        let mut out = Vec::new();
        let _ = s.read_to_end(&mut out);
        out
    }

    #[test]
    fn a_connection_past_the_limit_is_told_why_and_closed() {
        use std::os::unix::net::UnixStream;
        let limits = Limits {
            privileged: 1,
            ..Limits::default()
        };
        let (_dir, sock) = fake(limits, Response::ok(Vec::new()));
        let _first = UnixStream::connect(&sock).expect("connect");
        let mut second = UnixStream::connect(&sock).expect("connect");
        let got: Response = serde_json::from_slice(&read_all(&mut second)).expect("json");
        assert_eq!(got.code, 1);
        assert_eq!(
            got.error.as_deref(),
            Some("too many connections of root and the daemon's user (at most 1 at once)")
        );
    }

    #[test]
    fn a_half_sent_request_is_cut_at_the_deadline() {
        use std::io::Write;
        let limits = Limits {
            request_deadline: Duration::from_millis(100),
            ..Limits::default()
        };
        let (_dir, sock) = fake(limits, Response::ok(Vec::new()));
        let mut s = std::os::unix::net::UnixStream::connect(&sock).expect("connect");
        s.write_all(br#"{"cmd":"li"#).expect("write");
        let got: Response = serde_json::from_slice(&read_all(&mut s)).expect("json");
        assert_eq!(got.code, 2);
        assert_eq!(
            got.error.as_deref(),
            Some("bad request: no whole request within 0.1s")
        );
    }

    #[test]
    fn a_reader_that_does_not_read_is_dropped() {
        use std::io::Write;
        let limits = Limits {
            answer_deadline: Duration::from_millis(100),
            ..Limits::default()
        };
        let mut big = Response::ok(Vec::new());
        big.lines = vec!["x".repeat(1 << 20); 8];
        let full = line_of(&big).len();
        let (_dir, sock) = fake(limits, big);
        let mut s = std::os::unix::net::UnixStream::connect(&sock).expect("connect");
        s.write_all(b"{\"cmd\":\"list\"}\n").expect("write");
        // Not reading: the daemon hangs up (POLLHUP, asked for or not)
        // once its deadline has passed.
        use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
        use std::os::fd::AsFd;
        let mut fds = [PollFd::new(s.as_fd(), PollFlags::empty())];
        let n = poll(&mut fds, PollTimeout::from(5000u16)).expect("poll");
        assert_eq!(n, 1, "the daemon did not hang up within 5s");
        let got = read_all(&mut s).len();
        assert!(
            got < full,
            "got all {got} bytes of an answer not read in time"
        );
    }
}
