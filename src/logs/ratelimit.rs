//! The daemon log's rate limit: per source, the first `burst` events of an
//! interval pass, the rest are counted and become one summary line. Pure: the caller gives the time.
//!
//! A source is a callsite (one `warn!` in the code) together with the event's
//! `job` field, so one job's crash loop does not silence another job's lines.
//! A summary (`37 more like it suppressed`) is due when its interval ends; it
//! is written at the next event of any source after that (the daemon has no
//! timer for it) or when the daemon log is read.

use std::collections::HashMap;
use std::time::{Duration, Instant};
use tracing::Level;
use tracing::callsite::Identifier;

/// How many events one source may log per interval, and the interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub burst: u32,
    pub interval: Duration,
}

impl Default for Limits {
    /// 200 events per source per 10 s: a restart loop or a watchdog acting on
    /// a hundred workers is still logged line by line; a flood is not.
    fn default() -> Self {
        Limits {
            burst: 200,
            interval: Duration::from_secs(10),
        }
    }
}

/// At most this many sources are tracked; past it, new sources pass unlimited
/// until old windows expire (a bounded map, never a lost line by mistake).
const MAX_SOURCES: usize = 4096;

/// One source: a callsite and the value of its `job` field (empty if none).
pub type Source = (Identifier, String);

/// What to log in place of the suppressed events of one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub level: Level,
    /// How many events were suppressed.
    pub count: u64,
    /// The message of the first suppressed one.
    pub like: String,
    /// The source's `job` field.
    pub job: String,
}

#[derive(Debug)]
struct Window {
    start: Instant,
    passed: u32,
    suppressed: u64,
    like: String,
    level: Level,
}

/// The counts of every recent source.
#[derive(Debug)]
pub struct Limiter {
    limits: Limits,
    windows: HashMap<Source, Window>,
    /// The earliest end of a window that has suppressed something.
    next_due: Option<Instant>,
    /// When a crowded map may be swept again (ended windows forgotten): a
    /// sweep looks at every source, so it is not done at every event.
    next_sweep: Option<Instant>,
}

/// How often a crowded map is swept at most.
const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

impl Limiter {
    /// A limiter with these limits and no history.
    pub fn new(limits: Limits) -> Limiter {
        Limiter {
            limits,
            windows: HashMap::new(),
            next_due: None,
            next_sweep: None,
        }
    }

    /// Decides one event of `source` at `now`: true to log it. `message` is
    /// asked for only when the event is the first suppressed of its window.
    /// Summaries that are due (this source's or others') are pushed to `out`,
    /// to be written before the event.
    pub fn check(
        &mut self,
        source: Source,
        level: Level,
        now: Instant,
        message: impl FnOnce() -> String,
        out: &mut Vec<Summary>,
    ) -> bool {
        self.due(now, out);
        if self.windows.len() >= MAX_SOURCES && !self.windows.contains_key(&source) {
            return true;
        }
        let interval = self.limits.interval;
        let w = self.windows.entry(source).or_insert_with(|| Window {
            start: now,
            passed: 0,
            suppressed: 0,
            like: String::new(),
            level,
        });
        if now.duration_since(w.start) >= interval {
            // `due` already summarised it; a quiet expired window starts over.
            w.start = now;
            w.passed = 0;
        }
        if w.passed < self.limits.burst {
            w.passed += 1;
            return true;
        }
        if w.suppressed == 0 {
            w.like = message();
            w.level = level;
            let end = w.start + interval;
            self.next_due = Some(self.next_due.map_or(end, |d| d.min(end)));
        }
        w.suppressed += 1;
        false
    }

    /// Pushes the summary of every window that has ended with something
    /// suppressed, and forgets ended windows when the map is large.
    pub fn due(&mut self, now: Instant, out: &mut Vec<Summary>) {
        let crowded =
            self.windows.len() >= MAX_SOURCES / 2 && self.next_sweep.is_none_or(|t| now >= t);
        if !crowded && self.next_due.is_none_or(|d| now < d) {
            return;
        }
        if crowded {
            self.next_sweep = Some(now + SWEEP_EVERY);
        }
        let interval = self.limits.interval;
        let mut next: Option<Instant> = None;
        self.windows.retain(|(_, job), w| {
            let ended = now.duration_since(w.start) >= interval;
            if ended && w.suppressed > 0 {
                out.push(Summary {
                    level: w.level,
                    count: w.suppressed,
                    like: std::mem::take(&mut w.like),
                    job: job.clone(),
                });
                // A new window begins: the next event of this source passes.
                w.start = now;
                w.passed = 0;
                w.suppressed = 0;
                return true;
            }
            if w.suppressed > 0 {
                let end = w.start + interval;
                next = Some(next.map_or(end, |d| d.min(end)));
            }
            !(crowded && ended)
        });
        self.next_due = next;
    }
}

/// The text of a summary line.
pub fn summary_text(s: &Summary) -> String {
    format!("{} more like it suppressed: {}", s.count, s.like)
}

#[cfg(test)]
mod tests {
    use super::*;
    use tracing::callsite::Callsite;

    /// Not zero-sized: two statics must have two addresses.
    struct Site(#[allow(dead_code)] u8);
    impl Callsite for Site {
        fn set_interest(&self, _: tracing::subscriber::Interest) {}
        fn metadata(&self) -> &tracing::Metadata<'_> {
            unimplemented!("not needed")
        }
    }
    static A: Site = Site(0);
    static B: Site = Site(1);

    fn src(site: &'static Site, job: &str) -> Source {
        (Identifier(site), job.to_string())
    }

    #[test]
    fn a_flood_becomes_burst_lines_and_one_count() {
        let mut l = Limiter::new(Limits {
            burst: 1,
            interval: Duration::from_secs(10),
        });
        let t0 = Instant::now();
        let mut out = Vec::new();
        let passed = (0..1000)
            .filter(|i| {
                let msg = format!("boom {i}");
                l.check(src(&A, "w"), Level::WARN, t0, || msg, &mut out)
            })
            .count();
        assert_eq!(passed, 1);
        assert!(out.is_empty(), "nothing is due within the interval");
        l.due(t0 + Duration::from_secs(9), &mut out);
        assert!(out.is_empty());
        l.due(t0 + Duration::from_secs(10), &mut out);
        assert_eq!(
            out,
            vec![Summary {
                level: Level::WARN,
                count: 999,
                like: "boom 1".into(),
                job: "w".into()
            }]
        );
        assert_eq!(summary_text(&out[0]), "999 more like it suppressed: boom 1");
        out.clear();
        let t1 = t0 + Duration::from_secs(11);
        assert!(l.check(src(&A, "w"), Level::WARN, t1, String::new, &mut out));
        assert!(out.is_empty(), "summarised once");
    }

    #[test]
    fn sources_are_apart_by_callsite_and_job() {
        let mut l = Limiter::new(Limits {
            burst: 2,
            interval: Duration::from_secs(10),
        });
        let t = Instant::now();
        let mut out = Vec::new();
        for s in [src(&A, "w"), src(&A, "v"), src(&B, "w"), src(&B, "")] {
            assert!(l.check(s.clone(), Level::INFO, t, String::new, &mut out));
            assert!(l.check(s.clone(), Level::INFO, t, String::new, &mut out));
            assert!(!l.check(s, Level::INFO, t, String::new, &mut out));
        }
    }

    #[test]
    fn the_summary_comes_before_the_next_event_of_any_source() {
        let mut l = Limiter::new(Limits {
            burst: 1,
            interval: Duration::from_secs(1),
        });
        let t = Instant::now();
        let mut out = Vec::new();
        assert!(l.check(src(&A, "w"), Level::INFO, t, String::new, &mut out));
        assert!(!l.check(src(&A, "w"), Level::INFO, t, || "x".into(), &mut out));
        let later = t + Duration::from_secs(2);
        assert!(l.check(src(&B, ""), Level::INFO, later, String::new, &mut out));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].count, 1);
    }

    #[test]
    fn the_map_stays_bounded() {
        let mut l = Limiter::new(Limits::default());
        let t = Instant::now();
        let mut out = Vec::new();
        for i in 0..(MAX_SOURCES * 3) {
            let at = t + Duration::from_secs(i as u64);
            assert!(l.check(
                src(&A, &i.to_string()),
                Level::INFO,
                at,
                String::new,
                &mut out
            ));
            assert!(l.windows.len() <= MAX_SOURCES);
        }
    }
}
