//! The follower's `select!` arm: pidfile changes and the exit of a followed
//! main process (its pidfd). Only waits and forwards; `follow_job` decides.

use super::Follower;
use crate::job::machine::Input;
use crate::job::{Goal, State};
use crate::supervisor::core::{Key, Supervisor};
use std::future::Future;
use std::pin::Pin;
use std::task::Poll;
use std::time::Instant;
use tracing::warn;

/// What woke the follower's `select!` arm.
pub enum Wake {
    /// Pidfiles changed (each key once, its last change).
    Changes(Vec<(Key, crate::pidfile::Change)>),
    /// A followed main process exited (its pidfd became readable).
    MainExited(Key),
    /// The watcher failed; it is dropped (pidfiles are then read only when
    /// a main process exits).
    WatchFailed(String),
}

impl Follower {
    /// Waits for a pidfile change or the exit of a followed main process
    /// (its pidfd: a new master whose parent, the old master, reaps it).
    /// Forever when there is neither.
    pub async fn next(&mut self) -> Wake {
        let Follower { watcher, jobs, .. } = self;
        let mut exits: Vec<Pin<Box<dyn Future<Output = Key> + '_>>> = Vec::new();
        for (k, f) in jobs.iter() {
            if let Some(h) = f.handle.as_ref() {
                exits.push(Box::pin(async move {
                    let _ = h.exited().await;
                    k.clone()
                }));
            }
        }
        let any_exit = std::future::poll_fn(|cx| {
            for f in exits.iter_mut() {
                if let Poll::Ready(k) = f.as_mut().poll(cx) {
                    return Poll::Ready(k);
                }
            }
            Poll::Pending
        });
        let changes = async {
            match watcher.as_mut() {
                Some(w) => w.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            r = changes => match r {
                Ok(v) => Wake::Changes(v),
                Err(e) => Wake::WatchFailed(e.to_string()),
            },
            k = any_exit => Wake::MainExited(k),
        }
    }
}

impl Supervisor {
    /// The follower's `select!` arm fired.
    pub fn on_follow_wake(&mut self, wake: Wake, now: Instant) {
        match wake {
            Wake::Changes(changes) => self.on_pidfile_changes(changes, now),
            Wake::MainExited(key) => {
                let mut dead = None;
                if let Some(f) = self.follow.jobs.get_mut(&key) {
                    f.handle = None;
                    f.main_alive = false;
                    dead = f.main;
                }
                self.follow_reap(now);
                // Still listed after a reap batch: not gsup's child (its parent
                // reaps it), so it would never leave the job's pids otherwise.
                if let Some(pid) = dead
                    && self.pids.get(&pid).is_some_and(|(k, _)| *k == key)
                {
                    self.pids.remove(&pid);
                    if let Some(inst) = self.instances.get_mut(&key) {
                        inst.pids.remove(&pid);
                        // Stopping: the follower stays out; the machine hears
                        // the main's end (no wait status: "lost").
                        let live = inst.job.goal == Goal::Start
                            && matches!(
                                inst.job.state,
                                State::Spawned | State::PostStart | State::Running
                            );
                        if !live && inst.job.main_pid == Some(pid) {
                            self.queue.push_back((key.clone(), Input::MainLost));
                        }
                    }
                }
                self.follow_job(&key, false, now);
                self.drain(now);
            }
            Wake::WatchFailed(e) => {
                warn!("pidfile watcher: {e}; disabled");
                self.follow.watcher = None;
            }
        }
    }
}
