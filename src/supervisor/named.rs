//! What a command that names jobs and instances gets back: `status [JOB [K=V]...]...`
//! (each job's pairs pick one instance) and the line `stop JOB` adds when it stops
//! every instance. It reads job state; it never changes it.

use super::core::Supervisor;
use crate::control::proto::{JobStatus, Response};
use crate::job::{Goal, State};
use std::time::Instant;

impl Supervisor {
    /// What a `stop JOB` of a job with instances says when it names none:
    /// that it stops every one of them.
    pub(super) fn all_instances_note(
        &self,
        job: &str,
        env: &[(String, String)],
        n: usize,
    ) -> Option<String> {
        let def = self.jobs.def(job)?;
        if def.unit.instance.is_none() || !env.is_empty() {
            return None;
        }
        Some(match n {
            0 => format!("{job}: no instance to stop"),
            1 => format!("{job}: stopping its only instance"),
            n => format!("{job}: stopping all {n} instances (KEY=VALUE picks one)"),
        })
    }

    /// `status [JOB [K=V]...]...`: `pairs[i]` picks one instance of
    /// `jobs[i]`; an instance that does not exist is shown `stop/waiting`.
    /// `brief`: the lines alone, memory and CPU not measured.
    pub(super) fn status(
        &self,
        jobs: &[String],
        pairs: &[Vec<(String, String)>],
        brief: bool,
        now: Instant,
    ) -> Response {
        let measure = !brief;
        if jobs.is_empty() {
            return Response::ok(self.statuses_measured(None, measure, now));
        }
        let mut out = Vec::new();
        for (i, j) in jobs.iter().enumerate() {
            let Some(def) = self.jobs.def(j) else {
                let mut r = Response::err(4, format!("{j}: no such job"));
                r.statuses = out;
                return r;
            };
            let env = pairs.get(i).map_or(&[][..], Vec::as_slice);
            if def.unit.instance.is_none() || env.is_empty() {
                out.extend(self.statuses_measured(Some(j), measure, now));
                continue;
            }
            let instance = match super::env::instance_name(&def.unit, env) {
                Ok(i) => i,
                Err(e) => {
                    let mut r = Response::err(1, format!("{j}: {e}"));
                    r.statuses = out;
                    return r;
                }
            };
            let key = (j.clone(), instance);
            out.push(self.status_as(&key, measure, now).unwrap_or_else(|| {
                JobStatus::new(&key.0, &key.1, Goal::Stop, State::Waiting, None)
            }));
        }
        let code = if out.iter().all(JobStatus::is_up) {
            0
        } else {
            3
        };
        Response {
            code,
            ..Response::ok(out)
        }
    }
}
