//! The accept loop and each connection's limits: how many, how long, how
//! large. It must not let any client hold the daemon, or its slot, for long.
//!
//! At `max_connections`, a new connection evicts the oldest one that is not
//! in the middle of a request (an idle keep-alive, a client still sending
//! its headers); only when every one is busy is the new one refused. So a
//! crowd of idle or slow connections never keeps a fresh scrape out.

use super::Limits;
use super::routes::{self, Shared};
use super::snapshot::SnapshotSource;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::BTreeMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::{TcpListener, TcpStream};
use tokio::task::AbortHandle;
use tracing::{debug, warn};

/// hyper panics on a read buffer below this (`max_buf_size`).
const MIN_BUF: usize = 8192;

/// Serves `listener` until the runtime ends. Never returns an error: a
/// failed accept (out of descriptors) is logged once and retried.
pub async fn serve<S: SnapshotSource>(listener: TcpListener, source: S, limits: Limits) {
    let shared = Arc::new(Shared::new(source, limits));
    let table = Arc::new(Mutex::new(Table::default()));
    let mut failing = false;
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => {
                failing = false;
                stream
            }
            Err(e) => {
                if !failing {
                    warn!("http: accept failed: {e}; retrying");
                    failing = true;
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        let max = shared.limits.max_connections.max(1);
        let Some((id, busy)) = lock(&table).admit(max) else {
            debug!("http: every connection is busy; refusing one");
            continue;
        };
        let _ = stream.set_nodelay(true);
        let leave = Leave {
            id,
            table: Arc::clone(&table),
        };
        let task = tokio::spawn(connection(stream, Arc::clone(&shared), busy, leave));
        lock(&table).set_handle(id, task.abort_handle());
    }
}

/// One connection, ended by its client, by hyper's limits, by its lifetime,
/// or by eviction (its task aborted).
async fn connection<S: SnapshotSource>(
    stream: TcpStream,
    shared: Arc<Shared<S>>,
    busy: Arc<AtomicBool>,
    _leave: Leave,
) {
    let l = shared.limits.clone();
    let svc = service_fn(move |req| {
        let shared = Arc::clone(&shared);
        let busy = Arc::clone(&busy);
        async move {
            let _busy = Busy::mark(busy);
            Ok::<_, Infallible>(routes::handle(&shared, req).await)
        }
    });
    let mut b = http1::Builder::new();
    b.timer(TokioTimer::new())
        .header_read_timeout(l.header_timeout)
        .max_header_size(l.max_header_bytes)
        .max_headers(l.max_headers)
        .max_buf_size(l.max_header_bytes.max(MIN_BUF));
    let conn = b.serve_connection(TokioIo::new(stream), svc);
    match tokio::time::timeout(l.connection_lifetime, conn).await {
        Ok(Err(e)) => debug!("http: connection ended: {e}"),
        Ok(Ok(())) => {}
        Err(_) => debug!("http: connection closed at its lifetime"),
    }
}

/// Marks a connection busy while a request is being answered, and idle
/// again when the answer is made or dropped.
struct Busy(Arc<AtomicBool>);

impl Busy {
    fn mark(flag: Arc<AtomicBool>) -> Busy {
        flag.store(true, Ordering::Relaxed);
        Busy(flag)
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Relaxed);
    }
}

/// The open connections, oldest first (ids only grow).
#[derive(Default)]
struct Table {
    next: u64,
    open: BTreeMap<u64, Entry>,
}

struct Entry {
    busy: Arc<AtomicBool>,
    abort: Option<AbortHandle>,
}

impl Table {
    /// Makes room for one more connection (evicting the oldest idle one when
    /// full) and records it; `None` when every open connection is busy.
    fn admit(&mut self, max: usize) -> Option<(u64, Arc<AtomicBool>)> {
        while self.open.len() >= max {
            let idle = self
                .open
                .iter()
                .find(|(_, e)| !e.busy.load(Ordering::Relaxed))
                .map(|(&id, _)| id)?;
            if let Some(e) = self.open.remove(&idle)
                && let Some(a) = e.abort
            {
                a.abort();
            }
        }
        let id = self.next;
        self.next += 1;
        let busy = Arc::new(AtomicBool::new(false));
        let entry = Entry {
            busy: Arc::clone(&busy),
            abort: None,
        };
        self.open.insert(id, entry);
        Some((id, busy))
    }

    fn set_handle(&mut self, id: u64, abort: AbortHandle) {
        // A connection that ended before this has left already: nothing to keep.
        if let Some(e) = self.open.get_mut(&id) {
            e.abort = Some(abort);
        }
    }
}

/// Removes its connection from the table when the connection's task ends,
/// however it ends (an aborted task drops it too).
struct Leave {
    id: u64,
    table: Arc<Mutex<Table>>,
}

impl Drop for Leave {
    fn drop(&mut self) {
        lock(&self.table).open.remove(&self.id);
    }
}

/// The table, even if a holder panicked (it stays consistent: every change
/// is one map operation).
fn lock(t: &Mutex<Table>) -> std::sync::MutexGuard<'_, Table> {
    t.lock().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_full_table_evicts_the_oldest_idle_connection() {
        let mut t = Table::default();
        let (a, busy_a) = t.admit(2).expect("room");
        let (b, _) = t.admit(2).expect("room");
        busy_a.store(true, Ordering::Relaxed);
        let (c, busy_c) = t.admit(2).expect("b is idle: evicted");
        assert_eq!(t.open.keys().copied().collect::<Vec<_>>(), vec![a, c]);
        assert!(!t.open.contains_key(&b));
        busy_c.store(true, Ordering::Relaxed);
        assert!(t.admit(2).is_none(), "every connection busy: refused");
        busy_a.store(false, Ordering::Relaxed);
        let (d, _) = t.admit(2).expect("a is idle again");
        assert_eq!(t.open.keys().copied().collect::<Vec<_>>(), vec![c, d]);
    }
}
