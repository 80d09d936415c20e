//! The daemon's own log: `tracing` to stderr as text or JSON lines, rate
//! limited per source, its recent lines kept in a ring for `gsup log --daemon`.
//! It never decides what is logged (the callers do), and never blocks on a reader.
//!
//! `install` sets the global subscriber: a level filter (INFO), the
//! [`ratelimit`](super::ratelimit) layer, and `tracing_subscriber`'s `fmt`
//! layer writing each line through [`DaemonLogHandle`]: to stderr (or, in
//! tests, to memory) and into the ring. When stderr was a regular file at
//! start, its path is remembered and `reopen` (SIGUSR1) opens it again, by a
//! safe walk from `/`, onto fd 2.

use super::ratelimit::{Limiter, Limits, Summary, summary_text};
use super::stamp;
use std::collections::VecDeque;
use std::io;
use std::os::fd::AsRawFd;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::time::{Instant, SystemTime};
use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::Layer;
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, SubscriberExt};

/// Lines kept for `gsup log --daemon`, and their bytes at most.
pub const RING_LINES: usize = 2000;
pub const RING_BYTES: usize = 1 << 20;

/// Namespace of the daemon log's constructors.
pub struct DaemonLog;

/// The daemon log's handle: read recent lines, reopen stderr.
#[derive(Clone)]
pub struct DaemonLogHandle(Arc<Shared>);

struct Shared {
    json: bool,
    ring: Mutex<Ring>,
    limiter: Mutex<Limiter>,
    out: Output,
}

enum Output {
    /// File descriptor 2; `path` when it was a regular file at start.
    Stderr { path: Option<PathBuf> },
    /// Tests: the bytes written.
    Memory(Mutex<Vec<u8>>),
}

#[derive(Default)]
struct Ring {
    lines: VecDeque<(u64, String)>,
    bytes: usize,
    last: u64,
}

static GLOBAL: OnceLock<DaemonLogHandle> = OnceLock::new();

impl DaemonLog {
    /// Installs the daemon log as the global `tracing` subscriber (text, or
    /// JSON lines with `json`) and returns its handle, also kept for
    /// [`DaemonLog::handle`]. Installing twice keeps the first.
    pub fn install(json: bool) -> DaemonLogHandle {
        if let Some(h) = GLOBAL.get() {
            return h.clone();
        }
        let path = stderr_file();
        let handle = DaemonLogHandle(Arc::new(Shared::new(
            json,
            Limits::default(),
            Output::Stderr { path },
        )));
        use std::io::IsTerminal;
        let ansi = !json && std::io::stderr().is_terminal();
        let _ = tracing::subscriber::set_global_default(handle.subscriber(ansi));
        let _ = GLOBAL.set(handle.clone());
        handle
    }

    /// The installed daemon log, if any (the request handler reads it).
    pub fn handle() -> Option<DaemonLogHandle> {
        GLOBAL.get().cloned()
    }

    /// A daemon log writing to memory with these limits, and its subscriber,
    /// for tests (`tracing::subscriber::with_default`).
    pub fn in_memory(
        json: bool,
        limits: Limits,
    ) -> (
        impl Subscriber + Send + Sync + 'static + use<>,
        DaemonLogHandle,
    ) {
        let h = DaemonLogHandle(Arc::new(Shared::new(
            json,
            limits,
            Output::Memory(Mutex::new(Vec::new())),
        )));
        (h.subscriber(false), h)
    }
}

impl DaemonLogHandle {
    fn subscriber(&self, ansi: bool) -> impl Subscriber + Send + Sync + 'static + use<> {
        let fmt = tracing_subscriber::fmt::layer()
            .with_writer(self.clone())
            // A line that cannot be written is lost, not reported: the report
            // would go to the same closed stderr, where `eprintln!` panics.
            .log_internal_errors(false)
            .with_target(false)
            .with_ansi(ansi);
        let fmt = if self.0.json {
            fmt.json().boxed()
        } else {
            fmt.boxed()
        };
        tracing_subscriber::registry()
            .with(LevelFilter::INFO)
            .with(RateLimit(self.clone()))
            .with(fmt)
    }

    /// The last `n` lines and the sequence number of the last line logged.
    /// Summaries that are due are written first.
    pub fn recent(&self, n: usize) -> (Vec<String>, u64) {
        self.0.flush_due();
        let ring = lock(&self.0.ring);
        let skip = ring.lines.len().saturating_sub(n);
        let lines = ring
            .lines
            .iter()
            .skip(skip)
            .map(|(_, l)| l.clone())
            .collect();
        (lines, ring.last)
    }

    /// Up to `max` lines logged after sequence number `seq`, oldest first,
    /// and the sequence number of the last one returned (or `seq`).
    pub fn since(&self, seq: u64, max: usize) -> (Vec<String>, u64) {
        self.0.flush_due();
        let ring = lock(&self.0.ring);
        let mut last = seq.min(ring.last);
        let lines = ring
            .lines
            .iter()
            .filter(|(s, _)| *s > seq)
            .take(max)
            .map(|(s, l)| {
                last = *s;
                l.clone()
            })
            .collect();
        (lines, last)
    }

    /// SIGUSR1: opens stderr's file again by the path it had at start (after
    /// an outside `logrotate` moved it). Nothing to do when stderr was not a file.
    pub fn reopen(&self) -> Result<(), String> {
        let Output::Stderr { path: Some(path) } = &self.0.out else {
            return Ok(());
        };
        let file = super::safe::open_path(path)?;
        // SAFETY: dup2 of an open descriptor onto fd 2.
        if unsafe { libc::dup2(file.as_raw_fd(), 2) } < 0 {
            return Err(format!(
                "{}: dup2: {}",
                path.display(),
                io::Error::last_os_error()
            ));
        }
        Ok(())
    }

    /// What was written, for tests of [`DaemonLog::in_memory`].
    pub fn written(&self) -> String {
        match &self.0.out {
            Output::Memory(m) => String::from_utf8_lossy(&lock(m)).into_owned(),
            Output::Stderr { .. } => String::new(),
        }
    }
}

impl Shared {
    fn new(json: bool, limits: Limits, out: Output) -> Shared {
        Shared {
            json,
            ring: Mutex::new(Ring::default()),
            limiter: Mutex::new(Limiter::new(limits)),
            out,
        }
    }

    /// One formatted line: to the output, then into the ring.
    fn commit(&self, line: &[u8]) {
        match &self.out {
            Output::Stderr { .. } => write_fd2(line),
            Output::Memory(m) => lock(m).extend_from_slice(line),
        }
        let text = String::from_utf8_lossy(line.strip_suffix(b"\n").unwrap_or(line)).into_owned();
        let mut ring = lock(&self.ring);
        ring.last += 1;
        let seq = ring.last;
        ring.bytes += text.len();
        ring.lines.push_back((seq, text));
        while ring.lines.len() > RING_LINES || (ring.bytes > RING_BYTES && ring.lines.len() > 1) {
            if let Some((_, old)) = ring.lines.pop_front() {
                ring.bytes -= old.len();
            }
        }
    }

    /// Writes the summaries that are due now.
    fn flush_due(&self) {
        let mut due = Vec::new();
        lock(&self.limiter).due(Instant::now(), &mut due);
        for s in &due {
            self.summary(s);
        }
    }

    /// A summary line in the daemon log's format.
    fn summary(&self, s: &Summary) {
        let (secs, nanos) = stamp::split(SystemTime::now());
        let ts = stamp::rfc3339(secs, nanos, 6);
        let text = summary_text(s);
        let line = if self.json {
            let mut fields = serde_json::json!({"message": text, "suppressed": s.count});
            if !s.job.is_empty() {
                fields["job"] = serde_json::Value::String(s.job.clone());
            }
            serde_json::json!({"timestamp": ts, "level": s.level.as_str(), "fields": fields})
                .to_string()
        } else if s.job.is_empty() {
            format!("{ts} {:>5} {text}", s.level.as_str())
        } else {
            format!("{ts} {:>5} {text} job={}", s.level.as_str(), s.job)
        };
        self.commit(format!("{line}\n").as_bytes());
    }
}

/// Writes all of `line` to fd 2, dropping it if fd 2 is closed or broken.
fn write_fd2(mut line: &[u8]) {
    while !line.is_empty() {
        // SAFETY: writes from a valid buffer to fd 2.
        let n = unsafe { libc::write(2, line.as_ptr().cast(), line.len()) };
        if n > 0 {
            line = &line[n as usize..];
        } else if n < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
            continue;
        } else {
            return;
        }
    }
}

/// The path of stderr when it is a regular file.
fn stderr_file() -> Option<PathBuf> {
    use std::os::fd::AsFd;
    let st = nix::sys::stat::fstat(std::io::stderr().as_fd()).ok()?;
    if st.st_mode & libc::S_IFMT != libc::S_IFREG {
        return None;
    }
    let path = std::fs::read_link("/proc/self/fd/2").ok()?;
    (path.is_absolute() && !path.to_string_lossy().ends_with(" (deleted)")).then_some(path)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Each line the `fmt` layer formats goes through here.
impl io::Write for DaemonLogHandle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.commit(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for DaemonLogHandle {
    type Writer = DaemonLogHandle;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

/// The layer that asks the limiter about every event.
struct RateLimit(DaemonLogHandle);

impl<S: Subscriber> Layer<S> for RateLimit {
    fn event_enabled(&self, event: &Event<'_>, _: Context<'_, S>) -> bool {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let meta = event.metadata();
        let source = (meta.callsite(), fields.job);
        let mut due = Vec::new();
        let pass = lock(&self.0.0.limiter).check(
            source,
            *meta.level(),
            Instant::now(),
            || fields.message,
            &mut due,
        );
        for s in &due {
            self.0.0.summary(s);
        }
        pass
    }
}

/// The `job` field and the message of an event.
#[derive(Default)]
struct Fields {
    job: String,
    message: String,
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "job" => self.job = value.to_string(),
            "message" => self.message = value.to_string(),
            _ => {}
        }
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "job" => self.job = format!("{value:?}"),
            "message" => self.message = format!("{value:?}"),
            _ => {}
        }
    }
}
