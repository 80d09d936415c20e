//! The supervisor's use of the log thread: starting the `LogHub`, gsup's own
//! lines in a job's log, closing a run's pipe, SIGUSR1. Never reads or writes a log file itself.

use super::core::Supervisor;
use super::jobs::Key;
use crate::logs::{LogHub, LogId};
use tracing::{error, info};

impl Supervisor {
    /// Starts the log thread on the launcher's log dir (made safely, see
    /// `logs::safe`). Without it, a `console: log` job is handed its file, and
    /// each spawn fails with the reason the dir was refused.
    pub fn start_logs(&mut self) {
        match LogHub::start(&self.launcher.log_dir) {
            Ok(hub) => {
                info!(dir = %self.launcher.log_dir.display(), "job logs");
                self.logs = Some(hub);
            }
            Err(e) => error!("job logs: {e}; jobs with `console: log` will not start"),
        }
    }

    /// A line of gsup's own in `key`'s log, after what the job wrote so far.
    ///
    /// The daemon's write end is dropped first: a process spawned after
    /// the note (the respawn after `gsup: exited 1`) gets a new pipe, which
    /// the thread takes up only after writing the note, so the note is never
    /// behind that process's first lines. The old pipe is read to its end.
    pub(super) fn note(&mut self, key: &Key, line: &str) {
        if !self.logs_to_file(key) {
            return;
        }
        match self.logs.as_mut() {
            Some(hub) => {
                let id = LogId::new(&key.0, &key.1);
                hub.close(&id);
                hub.note(&id, line);
            }
            None => crate::logs::note(
                &super::env::log_path(&self.launcher.log_dir, &key.0, &key.1),
                line,
            ),
        }
    }

    /// The instance's run is over (it rests `waiting` or `failed`): the
    /// daemon's write end goes, and the thread closes the file once every
    /// process of the run has closed its own. Respawns never pass here, so
    /// one pipe carries a whole run and nothing is lost between two mains.
    pub(super) fn log_close(&mut self, key: &Key) {
        if let Some(hub) = self.logs.as_mut() {
            hub.close(&LogId::new(&key.0, &key.1));
        }
    }

    /// SIGUSR1: every open job log is opened again by its name.
    pub fn reopen_job_logs(&self) {
        if let Some(hub) = &self.logs {
            hub.reopen();
        }
    }

    /// Whether `key`'s job writes to its log file (`console: log`).
    fn logs_to_file(&self, key: &Key) -> bool {
        self.jobs
            .def(&key.0)
            .is_some_and(|d| d.unit.console == crate::unit::Console::Log)
    }
}
