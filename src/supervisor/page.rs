//! Keeps the status page (`control::page`) in step with the jobs: a job is
//! marked when its instances step or go, and `publish` rewrites marked jobs.
//!
//! The loop calls `publish` at the end of every turn, before it awaits again,
//! so an answer sent in that turn (`start` done, say) reaches its client only
//! after the page shows the same state.

use super::core::Supervisor;
use crate::control::page::PageWriter;
use crate::control::proto::JobStatus;
use crate::control::status;
use std::collections::BTreeSet;
use std::path::PathBuf;
use tracing::warn;

/// Makes `dir` if it is missing and checks that it is the daemon's own and
/// not writable by others, never through a symlink (`control::socket`): the
/// page is believed by every client, and a notify socket marks a job ready.
pub fn own_dir(dir: &std::path::Path) -> Result<(), String> {
    crate::control::socket::own_runtime_dir(dir)
}

/// The page's file and what is waiting to be written to it.
#[derive(Debug)]
pub struct PageState {
    path: PathBuf,
    writer: Option<PageWriter>,
    /// Slots whose lines may have changed since the last `publish`.
    dirty: BTreeSet<usize>,
    /// The set of jobs changed: write a new page.
    rebuild: bool,
}

impl Supervisor {
    /// Publishes the status page at `path` from now on (the daemon; tests
    /// that drive the supervisor by hand leave it off).
    pub fn enable_page(&mut self, path: PathBuf) {
        self.page = Some(PageState {
            path,
            writer: None,
            dirty: BTreeSet::new(),
            rebuild: true,
        });
    }

    /// `name`'s lines may have changed.
    pub(super) fn page_mark(&mut self, name: &str) {
        let Some(p) = self.page.as_mut() else {
            return;
        };
        let Some(slot) = p.writer.as_ref().and_then(|w| w.slot(name)) else {
            return;
        };
        p.dirty.insert(slot);
    }

    /// Jobs were added or removed.
    pub(super) fn page_rebuild(&mut self) {
        if let Some(p) = self.page.as_mut() {
            p.rebuild = true;
        }
    }

    /// Writes what changed. On an error the page is removed with one warning
    /// and `status` goes over the socket until the jobs change again.
    pub fn publish(&mut self) {
        let Some(page) = self.page.as_mut() else {
            return;
        };
        if page.rebuild {
            page.rebuild = false;
            let names: Vec<&str> = self.jobs.names().map(String::as_str).collect();
            match PageWriter::create(&page.path, &names) {
                Ok(w) => {
                    page.dirty = w.slots().collect();
                    page.writer = Some(w);
                }
                Err(e) => {
                    if page.writer.take().is_some() {
                        let _ = std::fs::remove_file(&page.path);
                    }
                    warn!(path = %page.path.display(), "no status page ({e}); status goes over the socket");
                    return;
                }
            }
        }
        if page.dirty.is_empty() {
            return;
        }
        let Some(mut writer) = page.writer.take() else {
            return;
        };
        let dirty = std::mem::take(&mut page.dirty);
        let mut result = Ok(());
        for slot in dirty {
            let Some(name) = writer.name(slot) else {
                continue;
            };
            let (text, running) = self.page_text(name);
            result = writer.set(slot, &text, running);
            if result.is_err() {
                break;
            }
        }
        let Some(page) = self.page.as_mut() else {
            return;
        };
        match result {
            Ok(()) => page.writer = Some(writer),
            Err(e) => {
                warn!(path = %page.path.display(), "status page dropped ({e}); status goes over the socket");
                let _ = std::fs::remove_file(&page.path);
            }
        }
    }

    /// Removes the page (the daemon is exiting).
    pub fn remove_page(&mut self) {
        if let Some(p) = self.page.take()
            && p.writer.is_some()
        {
            let _ = std::fs::remove_file(&p.path);
        }
    }

    /// Exactly what `gsup status NAME` prints, and whether it exits 0.
    pub fn page_text(&self, name: &str) -> (String, bool) {
        let lines = self.lines_of(name, |k| self.brief_status(k));
        let running = lines.iter().all(JobStatus::is_up);
        let mut text = String::new();
        for s in &lines {
            text.push_str(&status::line(s));
            text.push('\n');
        }
        (text, running)
    }
}
