//! Control requests: turns each `Request` into job inputs and answers it, at once
//! or once the jobs concerned have settled. It never blocks the loop.

use super::core::Supervisor;
use super::jobs::{Instance, Key, label};
use crate::control::Call;
use crate::control::proto::{JobStatus, Request, Response};
use crate::expr::Event;
use crate::job::cause::last_exit_text;
use crate::job::machine::Input;
use crate::job::{Goal, State};
use crate::sys::KillTarget;
use std::time::Instant;
use tokio::sync::oneshot;
use tracing::info;

pub use super::waiters::{WaitKind, Waiter};

impl Supervisor {
    /// Handles one control call; the reply may come later (`wait`).
    pub fn handle(&mut self, call: Call, now: Instant) {
        let Call { request, reply, .. } = call;
        if request.is_changing() {
            info!(?request, "request");
        } else {
            tracing::debug!(?request, "request");
        }
        match request {
            Request::Start { job, env, wait } => match self.start_job(&job, &env) {
                Ok(key) => self.wait_for(vec![key], WaitKind::Start, wait, reply, now),
                Err(e) => answer(reply, self.missing(&job, e)),
            },
            Request::Stop { job, env, wait } => match self.select(&job, &env) {
                Ok(keys) => {
                    let note = self.all_instances_note(&job, &env, keys.len());
                    // A stop wins over a restart waiting for a new definition.
                    self.reload.restart_after.remove(&job);
                    for k in &keys {
                        self.feed(k.clone(), Input::Stop);
                    }
                    self.wait_with_note(keys, WaitKind::Stop, wait, reply, now, note);
                }
                Err(e) => answer(reply, *e),
            },
            Request::Restart { job, env, wait } => {
                let keys = match self.select(&job, &env) {
                    Ok(k) if !k.is_empty() => k,
                    Ok(_) => match self.start_job(&job, &env) {
                        Ok(k) => vec![k],
                        Err(e) => return answer(reply, Response::err(1, e)),
                    },
                    Err(e) => return answer(reply, *e),
                };
                // A new definition waiting for a restart is applied: stop
                // now, start on it once stopped (`reload::apply_deferred`).
                let apply = self.restart_on_new_definition(&job, &keys);
                for k in &keys {
                    self.feed(k.clone(), Input::Stop);
                    if !apply {
                        self.feed(k.clone(), Input::Start);
                    }
                }
                self.wait_for(keys, WaitKind::Start, wait, reply, now);
            }
            Request::Reload { job, env } => {
                let r = self.reload(&job, &env);
                answer(reply, r);
            }
            Request::Status { jobs, pairs, brief } => {
                let r = self.status(&jobs, &pairs, brief, now);
                answer(reply, r);
            }
            Request::List { brief } => {
                let r = Response::ok(self.statuses_measured(None, !brief, now));
                answer(reply, r);
            }
            Request::Emit { event, env, wait } => {
                if event.is_empty() || event.contains(char::is_whitespace) {
                    return answer(reply, Response::err(2, format!("bad event name `{event}`")));
                }
                self.touched = Some(Default::default());
                self.dispatch(&Event { name: event, env });
                let touched = self.touched.take().unwrap_or_default();
                let started = touched.iter().filter(|e| *e.1).map(|e| e.0.clone());
                let started = started.collect();
                let keys = touched.into_keys().collect();
                self.wait_started(keys, started, WaitKind::Emit, wait, reply, now, None);
            }
            Request::ReloadConfig => self.request_reload(Some(reply)),
            Request::Shutdown { reboot } => {
                answer(reply, Response::ok(Vec::new()));
                self.begin_shutdown(reboot, now);
            }
            Request::Reexec => {
                if self.shutdown.is_some() {
                    return answer(reply, Response::err(1, "the daemon is shutting down"));
                }
                answer(reply, Response::ok(Vec::new()));
                self.reexec = true;
            }
            Request::LogPath { job, env } => answer(reply, self.log_path(&job, &env)),
            Request::DaemonLog { since, lines } => {
                let lines = lines.min(crate::logs::daemon::RING_LINES);
                let (lines, last) = match (crate::logs::DaemonLog::handle(), since) {
                    (None, _) => (Vec::new(), 0),
                    (Some(h), None) => h.recent(lines),
                    (Some(h), Some(seq)) => h.since(seq, lines),
                };
                let mut r = Response::ok(Vec::new());
                r.lines = lines;
                r.last_seq = Some(last);
                answer(reply, r);
            }
        }
    }

    /// `gsup log JOB [K=V]...`: the log file of the instance `env` names (of
    /// the only instance, when none is named).
    fn log_path(&self, job: &str, env: &[(String, String)]) -> Response {
        let Some(def) = self.jobs.def(job) else {
            return Response::err(4, format!("{job}: no such job"));
        };
        let instance = if def.unit.instance.is_some() && env.is_empty() {
            match self.jobs.keys_of(job).as_slice() {
                [k] => k.1.clone(),
                _ => {
                    let msg = format!("{job}: name one instance with KEY=VALUE");
                    return Response::err(1, msg);
                }
            }
        } else {
            match super::env::instance_name(&def.unit, env) {
                Ok(i) => i,
                Err(e) => return Response::err(1, format!("{job}: {e}")),
            }
        };
        let mut r = Response::ok(Vec::new());
        r.log_path = Some(super::env::log_path(&self.launcher.log_dir, job, &instance));
        r
    }

    /// "No such job" (4) when the job is unknown, else the error as a failure (1).
    fn missing(&self, job: &str, e: String) -> Response {
        if self.jobs.def(job).is_some() {
            Response::err(1, e)
        } else {
            Response::err(4, format!("{job}: no such job"))
        }
    }

    /// The instances a `stop`/`restart JOB [K=V]...` names: the one its env
    /// selects, or every instance when no variable is given.
    fn select(&self, job: &str, env: &[(String, String)]) -> Result<Vec<Key>, Box<Response>> {
        self.jobs
            .select(job, env)
            .map_err(|(code, msg)| Box::new(Response::err(code, msg)))
    }

    fn reload(&mut self, job: &str, env: &[(String, String)]) -> Response {
        let keys = match self.select(job, env) {
            Ok(k) => k,
            Err(r) => return *r,
        };
        let Some(def) = self.jobs.def(job) else {
            return Response::err(4, format!("{job}: no such job"));
        };
        let sig = def.unit.reload_signal;
        let mut sent = Vec::new();
        for k in keys {
            let Some(pid) = self.jobs.get(&k).and_then(|i| i.job.main_pid) else {
                continue;
            };
            let sent_ok = match self.follow.signal_main(self.sys.as_mut(), &k, pid, sig) {
                Some(ok) => ok,
                None => self.sys.signal(KillTarget::Pid(pid), sig).is_ok(),
            };
            if sent_ok {
                info!(job = %label(&k), "reload: signal {} to {pid}", sig.0);
                sent.push(k);
            }
        }
        if sent.is_empty() {
            return Response::err(1, format!("{job}: not running"));
        }
        let now = Instant::now();
        Response::ok(sent.iter().filter_map(|k| self.status_of(k, now)).collect())
    }

    /// Status lines of one job's instances (or of every job), sorted by name;
    /// a job with instances but none running shows one `stop/waiting` line.
    pub fn statuses(&self, job: Option<&str>, now: Instant) -> Vec<JobStatus> {
        self.statuses_measured(job, true, now)
    }

    /// `statuses`, with memory and CPU measured (`status_of`) or, for
    /// status lines alone, not (`held_status`: no file is read).
    pub fn statuses_measured(
        &self,
        job: Option<&str>,
        measure: bool,
        now: Instant,
    ) -> Vec<JobStatus> {
        // One job: a map lookup and a range, not a scan of every job.
        let names: Vec<&String> = match job {
            Some(j) => self.jobs.def(j).map(|d| &d.name).into_iter().collect(),
            None => self.jobs.names().collect(),
        };
        names
            .into_iter()
            .flat_map(|name| self.lines_of(name, |k| self.status_as(k, measure, now)))
            .collect()
    }

    /// `status_of` when `measure`, else `held_status`.
    pub fn status_as(&self, key: &Key, measure: bool, now: Instant) -> Option<JobStatus> {
        if measure {
            self.status_of(key, now)
        } else {
            self.held_status(key, now)
        }
    }

    /// The statuses of `name` as `status` shows them, each made by `status`
    /// from its instance key; one `stop/waiting` line if it has none. The
    /// status page writes the same lines with [`Supervisor::brief_status`].
    pub fn lines_of(
        &self,
        name: &str,
        status: impl Fn(&Key) -> Option<JobStatus>,
    ) -> Vec<JobStatus> {
        let keys = self.jobs.keys_of(name);
        if keys.is_empty() {
            return vec![JobStatus::new(name, "", Goal::Stop, State::Waiting, None)];
        }
        keys.iter().filter_map(status).collect()
    }

    /// What the status line needs of an instance: no /proc reads.
    pub fn brief_status(&self, key: &Key) -> Option<JobStatus> {
        let j = &self.jobs.get(key)?.job;
        Some(JobStatus::new(&key.0, &key.1, j.goal, j.state, j.main_pid))
    }

    /// One instance's status, with memory and CPU of its whole tree
    /// measured now (`supervisor::usage`).
    pub fn status_of(&self, key: &Key, now: Instant) -> Option<JobStatus> {
        let mut st = self.held_status(key, now)?;
        if let Some(pid) = st.pid {
            self.measure_tree(key, pid, &mut st, now);
        }
        Some(st)
    }

    /// `status_of` from the state the loop holds, without measuring the
    /// tree (the watchdog's last figures, when it has any).
    pub fn held_status(&self, key: &Key, now: Instant) -> Option<JobStatus> {
        Some(self.status_from(key, self.jobs.get(key)?, now))
    }

    /// `held_status` of the instance `inst` found at `key`.
    pub fn status_from(&self, key: &Key, inst: &Instance, now: Instant) -> JobStatus {
        let j = &inst.job;
        let mut st = JobStatus {
            uptime_s: j
                .main_pid
                .and(j.spawned_at)
                .map(|t| now.saturating_duration_since(t).as_secs()),
            restarts: j.restarts,
            last_exit: j
                .last_exit
                .map(|e| last_exit_text(e, j.last_cause.as_ref())),
            reason: j.reason.clone(),
            containment: Some(self.sys.containment().as_str().to_string()),
            definition: self.definition_state(&key.0).map(str::to_string),
            ..JobStatus::new(&key.0, &key.1, j.goal, j.state, j.main_pid)
        };
        self.watch_status(key, &mut st);
        st
    }

    fn wait_for(
        &mut self,
        keys: Vec<Key>,
        kind: WaitKind,
        wait: bool,
        reply: oneshot::Sender<Response>,
        now: Instant,
    ) {
        self.wait_with_note(keys, kind, wait, reply, now, None);
    }

    /// `wait_for`, the answer carrying `note` (a line printed before the
    /// statuses).
    fn wait_with_note(
        &mut self,
        keys: Vec<Key>,
        kind: WaitKind,
        wait: bool,
        reply: oneshot::Sender<Response>,
        now: Instant,
        note: Option<String>,
    ) {
        let started = if kind == WaitKind::Start {
            keys.clone()
        } else {
            Vec::new()
        };
        self.wait_started(keys, started, kind, wait, reply, now, note);
    }

    #[allow(clippy::too_many_arguments)]
    fn wait_started(
        &mut self,
        keys: Vec<Key>,
        started: Vec<Key>,
        kind: WaitKind,
        wait: bool,
        reply: oneshot::Sender<Response>,
        now: Instant,
        note: Option<String>,
    ) {
        self.drain(now);
        let w = Waiter {
            keys,
            started,
            kind,
            reply,
            note,
        };
        if !wait {
            // `--no-wait`: accepted is success; only an instance that has
            // already failed (its program is missing, say) fails a start.
            let mut r = self.settled_response(&w, now);
            let failed = w.keys.iter().any(|k| {
                self.jobs
                    .get(k)
                    .is_some_and(|i| i.job.state == State::Failed)
            });
            if !failed || w.kind == WaitKind::Stop {
                r.code = 0;
                r.error = None;
            }
            return answer(w.reply, r);
        }
        self.waiters.push(w);
        self.answer_waiters(now);
    }

    /// Answers every waiter whose instances have all settled.
    pub fn answer_waiters(&mut self, now: Instant) {
        let waiters = std::mem::take(&mut self.waiters);
        for w in waiters {
            let settled = w.keys.iter().all(|k| {
                !self.restart_pending(k) && self.jobs.get(k).is_none_or(|i| i.job.is_settled())
            });
            if settled {
                let r = self.settled_response(&w, now);
                answer(w.reply, r);
            } else {
                self.waiters.push(w);
            }
        }
    }

    fn settled_response(&self, w: &Waiter, now: Instant) -> Response {
        let statuses: Vec<JobStatus> = w
            .keys
            .iter()
            .filter_map(|k| self.status_of(k, now))
            .collect();
        let why = |k: &Key| {
            self.jobs
                .get(k)
                .and_then(|i| super::waiters::why_not(&i.job, w.kind))
        };
        let failed: Vec<String> = match w.kind {
            WaitKind::Emit => w.started.iter(),
            WaitKind::Start | WaitKind::Stop => w.keys.iter(),
        }
        .filter_map(|k| why(k).map(|r| format!("{}: {r}", label(k))))
        .collect();
        let mut r = Response::ok(statuses);
        r.note = w.note.clone();
        if !failed.is_empty() {
            r.code = 1;
            r.error = Some(failed.join("; "));
        }
        r
    }
}

/// Sends a reply; a client that went away is no error.
fn answer(reply: oneshot::Sender<Response>, r: Response) {
    let _ = reply.send(r);
}
