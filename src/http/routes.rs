//! One request in, one response out: the method check, the four paths, the
//! snapshot cache. Read-only: no path here changes a job or the daemon.
//!
//! Rendering and log reads run on tokio's blocking pool, never on the
//! thread of the supervisor's loop. A snapshot is fetched at most once per
//! `Limits::snapshot_max_age` and one at a time; every body of one snapshot
//! is rendered once, however many clients ask for it.

use super::Limits;
use super::metrics::{self, Format};
use super::snapshot::{Snapshot, SnapshotSource};
use bytes::Bytes;
use http_body_util::Full;
use hyper::header::{self, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tokio::sync::{Mutex, Semaphore};

/// What every connection of one server shares.
pub(super) struct Shared<S> {
    source: S,
    pub(super) limits: Limits,
    cache: Mutex<Option<Arc<Views>>>,
    log_reads: Semaphore,
}

/// One snapshot and the bodies rendered from it so far.
struct Views {
    snap: Arc<Snapshot>,
    at: Instant,
    html: OnceLock<Bytes>,
    json: OnceLock<Bytes>,
    openmetrics: OnceLock<Bytes>,
    text: OnceLock<Bytes>,
}

/// The bodies the server renders from a snapshot.
#[derive(Debug, Clone, Copy)]
enum Body {
    Html,
    Json,
    Metrics(Format),
}

impl Views {
    /// The body, rendered on first use (blocking: called on the blocking pool).
    fn body(&self, kind: Body) -> Result<Bytes, String> {
        let cell = match kind {
            Body::Html => &self.html,
            Body::Json => &self.json,
            Body::Metrics(Format::OpenMetrics) => &self.openmetrics,
            Body::Metrics(Format::Text) => &self.text,
        };
        if let Some(b) = cell.get() {
            return Ok(b.clone());
        }
        let made = match kind {
            Body::Html => Ok(super::page::render(&self.snap).into_bytes()),
            Body::Json => serde_json::to_vec(&self.snap.jobs).map_err(|e| e.to_string()),
            Body::Metrics(f) => metrics::render(&self.snap, f)
                .map(String::into_bytes)
                .map_err(|e| e.to_string()),
        }?;
        Ok(cell.get_or_init(|| Bytes::from(made)).clone())
    }
}

impl<S: SnapshotSource> Shared<S> {
    pub(super) fn new(source: S, limits: Limits) -> Self {
        let reads = limits.concurrent_log_reads.max(1);
        Shared {
            source,
            limits,
            cache: Mutex::new(None),
            log_reads: Semaphore::new(reads),
        }
    }

    /// A snapshot no older than `snapshot_max_age`, or `None` when the
    /// source did not answer within `snapshot_timeout`.
    async fn current(&self) -> Option<Arc<Views>> {
        let fetch = async {
            let mut cache = self.cache.lock().await;
            if let Some(v) = cache.as_ref()
                && v.at.elapsed() < self.limits.snapshot_max_age
            {
                return Some(Arc::clone(v));
            }
            let snap = self.source.get().await?;
            let v = Arc::new(Views {
                snap,
                at: Instant::now(),
                html: OnceLock::new(),
                json: OnceLock::new(),
                openmetrics: OnceLock::new(),
                text: OnceLock::new(),
            });
            *cache = Some(Arc::clone(&v));
            Some(v)
        };
        tokio::time::timeout(self.limits.snapshot_timeout, fetch)
            .await
            .ok()
            .flatten()
    }
}

/// The response to one request.
pub(super) async fn handle<S: SnapshotSource, B>(
    shared: &Shared<S>,
    req: Request<B>,
) -> Response<Full<Bytes>> {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        let mut r = plain(
            StatusCode::METHOD_NOT_ALLOWED,
            "405 method not allowed: this server is read-only (GET and HEAD)\n",
        );
        r.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let (kind, ctype) = match req.uri().path() {
        "/" | "/index.html" => (Body::Html, "text/html; charset=utf-8"),
        "/status.json" => (Body::Json, "application/json"),
        "/metrics" => {
            let accept = req.headers().get(header::ACCEPT);
            let f = Format::from_accept(accept.and_then(|v| v.to_str().ok()));
            (Body::Metrics(f), f.content_type())
        }
        "/log" => return log(shared, req.uri().query().unwrap_or("")).await,
        _ => {
            return plain(
                StatusCode::NOT_FOUND,
                "404 not found: try /, /status.json or /metrics\n",
            );
        }
    };
    let Some(views) = shared.current().await else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "503 the supervisor did not answer in time\n",
        );
    };
    let body = tokio::task::spawn_blocking(move || views.body(kind)).await;
    match body {
        Ok(Ok(b)) => {
            let mut r = ok(b, ctype);
            if matches!(kind, Body::Html) {
                let h = r.headers_mut();
                // No script, no frame, nothing from elsewhere: a string that
                // slipped past escaping still could not run.
                h.insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(
                        "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; form-action 'none'",
                    ),
                );
                h.insert(
                    header::REFERRER_POLICY,
                    HeaderValue::from_static("no-referrer"),
                );
            }
            r
        }
        Ok(Err(e)) => plain(StatusCode::INTERNAL_SERVER_ERROR, &format!("500 {e}\n")),
        Err(_) => plain(StatusCode::INTERNAL_SERVER_ERROR, "500 rendering failed\n"),
    }
}

/// `/log?job=J&instance=I&lines=N`: the last lines of a log the snapshot
/// names for that instance. The client names a job, never a path.
async fn log<S: SnapshotSource>(shared: &Shared<S>, query: &str) -> Response<Full<Bytes>> {
    let (mut job, mut instance, mut lines) = (None, String::new(), shared.limits.log_lines);
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        match &*k {
            "job" => job = Some(v.into_owned()),
            "instance" => instance = v.into_owned(),
            "lines" => lines = v.parse().unwrap_or(lines),
            _ => {}
        }
    }
    let lines = lines.clamp(1, shared.limits.log_lines_max);
    let Some(job) = job else {
        return plain(
            StatusCode::BAD_REQUEST,
            "400 /log needs ?job=NAME (and &instance=VALUE)\n",
        );
    };
    let Some(views) = shared.current().await else {
        return plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "503 the supervisor did not answer in time\n",
        );
    };
    let Some(path) = views.snap.log_file(&job, &instance) else {
        return plain(
            StatusCode::NOT_FOUND,
            "404 no such job or instance, or it does not log to a file\n",
        );
    };
    let Ok(_permit) = shared.log_reads.acquire().await else {
        return plain(StatusCode::SERVICE_UNAVAILABLE, "503 shutting down\n");
    };
    let max = shared.limits.log_max_bytes;
    let read =
        tokio::task::spawn_blocking(move || crate::logs::tail::last_lines(&path, lines, max)).await;
    match read {
        Ok(Ok(text)) => ok(Bytes::from(text), "text/plain; charset=utf-8"),
        Ok(Err(e)) if e.kind() == std::io::ErrorKind::NotFound => plain(
            StatusCode::NOT_FOUND,
            "404 the job has written no log yet\n",
        ),
        Ok(Err(e)) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            &format!("500 cannot read the log: {e}\n"),
        ),
        Err(_) => plain(
            StatusCode::INTERNAL_SERVER_ERROR,
            "500 cannot read the log\n",
        ),
    }
}

/// A 200 with `body`; no client or proxy keeps it (it is a moment's state).
fn ok(body: Bytes, ctype: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body));
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    r
}

/// A short plain-text answer with `status`.
pub(super) fn plain(status: StatusCode, text: &str) -> Response<Full<Bytes>> {
    let mut r = ok(Bytes::from(text.to_string()), "text/plain; charset=utf-8");
    *r.status_mut() = status;
    r
}
