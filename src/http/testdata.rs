//! A fixed snapshot for the renderers' tests: a running job, a failed one,
//! an instance job, and names and texts that need escaping. Test-only.

use super::snapshot::{DaemonStats, Snapshot};
use crate::control::proto::{CheckCount, JobStatus};
use crate::job::{Goal, State};
use std::time::{Duration, SystemTime};

/// The job name that tries to inject a script.
pub const EVIL: &str = "<script>alert(1)</script>";

pub fn sample() -> Snapshot {
    let mut web = JobStatus::new("web", "", Goal::Start, State::Running, Some(42));
    web.memory_bytes = Some(19 * 1024 * 1024);
    web.cpu_percent = Some(1.5);
    web.cpu_seconds = Some(12.25);
    web.uptime_s = Some(3725);
    web.restarts = 3;
    web.last_exit = Some("signal KILL".into());
    web.check_failures = vec![CheckCount {
        rule: "if totalmem > 300 MB for 3 cycles then restart".into(),
        count: 2,
    }];
    web.failing_checks = vec!["totalmem 312 MB > 300 MB, 1 of 3 cycles".into()];
    let mut failed = JobStatus::new("db", "", Goal::Stop, State::Failed, None);
    failed.reason = Some("respawn limit".into());
    failed.last_exit = Some("exit 1".into());
    let mut evil = JobStatus::new(EVIL, "\"q'&<i>", Goal::Start, State::Running, Some(7));
    evil.last_exit = Some("<b>bold</b>".into());
    evil.reason = Some("<img src=x onerror=alert(2)>".into());
    evil.check_failures = vec![CheckCount {
        rule: "if \"mem\" > 1 KB\\n then <alert>".into(),
        count: 1,
    }];
    let idle = JobStatus::new("batch", "", Goal::Stop, State::Waiting, None);
    let jobs = vec![web, failed, evil, idle];
    let logs = super::snapshot::LogFiles {
        dir: Some("/nonexistent".into()),
        elsewhere: Default::default(),
    };
    Snapshot {
        taken: SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000),
        jobs,
        // `batch` is in no wave: it must still be shown.
        waves: vec![vec!["db".into()], vec![EVIL.into(), "web".into()]],
        logs,
        daemon: DaemonStats {
            pid: 1,
            version: "0.1.0".into(),
            uptime_s: 90061,
            rss_bytes: Some(5 << 20),
            open_fds: Some(17),
            loop_turns: 1234,
            reaped: 56,
            spawn_failures: 2,
        },
        trees: Vec::new(),
    }
}
