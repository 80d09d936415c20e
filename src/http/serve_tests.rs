//! `serve` in-process with a fixed or counting source: the snapshot cache,
//! 503 when the source does not answer, HEAD and 405. Test-only.

use super::snapshot::{SnapshotFuture, SnapshotSource};
use super::testdata::sample;
use super::{Limits, serve};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A source that counts its calls, and answers with `sample()` or never.
struct Counting {
    calls: Arc<AtomicUsize>,
    answers: bool,
}

impl SnapshotSource for Counting {
    fn get(&self) -> SnapshotFuture<'_> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let answers = self.answers;
        Box::pin(async move {
            if !answers {
                std::future::pending::<()>().await;
            }
            Some(Arc::new(sample()))
        })
    }
}

async fn start<S: SnapshotSource>(source: S, limits: Limits) -> std::net::SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = l.local_addr().expect("addr");
    tokio::spawn(serve(l, source, limits));
    addr
}

/// The status line and body of one request (the connection is closed after).
async fn ask(addr: std::net::SocketAddr, method: &str, path: &str) -> (String, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    let req = format!("{method} {path} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    s.write_all(req.as_bytes()).await.expect("write");
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).await.expect("read");
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    (
        head.lines().next().unwrap_or("").to_string(),
        body.to_string(),
    )
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

#[test]
fn many_requests_within_a_second_ask_the_source_once() {
    runtime().block_on(async {
        let calls = Arc::new(AtomicUsize::new(0));
        let source = Counting {
            calls: Arc::clone(&calls),
            answers: true,
        };
        let addr = start(source, Limits::default()).await;
        let asks: Vec<_> = (0..20)
            .map(|i| {
                let path = ["/", "/metrics", "/status.json"][i % 3];
                tokio::spawn(ask(addr, "GET", path))
            })
            .collect();
        for a in asks {
            let (status, body) = a.await.expect("task");
            assert_eq!(status, "HTTP/1.1 200 OK");
            assert!(!body.is_empty());
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "one snapshot for 20 requests"
        );
    });
}

#[test]
fn a_source_that_does_not_answer_gives_503_in_time() {
    runtime().block_on(async {
        let calls = Arc::new(AtomicUsize::new(0));
        let source = Counting {
            calls: Arc::clone(&calls),
            answers: false,
        };
        let limits = Limits {
            snapshot_timeout: Duration::from_millis(50),
            ..Limits::default()
        };
        let addr = start(source, limits).await;
        let (status, _) = ask(addr, "GET", "/metrics").await;
        assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
        // Nothing was cached: the next request asks again.
        let (status, _) = ask(addr, "GET", "/").await;
        assert_eq!(status, "HTTP/1.1 503 Service Unavailable");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    });
}

#[test]
fn a_fixed_snapshot_serves_head_and_refuses_changes() {
    runtime().block_on(async {
        let addr = start(Arc::new(sample()), Limits::default()).await;
        let (status, body) = ask(addr, "HEAD", "/status.json").await;
        assert_eq!(status, "HTTP/1.1 200 OK");
        assert!(body.is_empty());
        let (status, body) = ask(addr, "DELETE", "/").await;
        assert_eq!(status, "HTTP/1.1 405 Method Not Allowed");
        assert!(body.contains("read-only"));
        let (_, json) = ask(addr, "GET", "/status.json").await;
        let v: serde_json::Value = serde_json::from_str(&json).expect("json");
        assert_eq!(v.as_array().map(Vec::len), Some(sample().jobs.len()));
    });
}
