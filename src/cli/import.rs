//! `gsup import upstart|monit`: the arguments, and the run that reads the old files, converts
//! them (`crate::import`, pure) and writes unit files (`import::files`). It starts nothing.

use crate::import::monit::{self, Target};
use crate::import::{self, Note, files, upstart, yaml};
use clap::{Args, Subcommand};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

/// The out dir when `--out` is not given: the config dir `gsup check` and
/// `gsup daemon` find in the working directory, never the live system one.
pub const DEFAULT_OUT: &str = "services.d";

/// `gsup import ...`.
#[derive(Debug, Subcommand)]
pub enum ImportCommand {
    /// Write unit files from Upstart job files (/etc/init/*.conf)
    Upstart(UpstartArgs),
    /// Write unit files, or add checks to existing ones, from a Monit control file
    Monit(MonitArgs),
}

/// `gsup import upstart FILE.conf... [--out DIR] [--force]`.
#[derive(Debug, Args)]
pub struct UpstartArgs {
    /// Upstart job files; a job's name is its path under a dir named `init`, else its file name
    #[arg(value_name = "FILE.conf", required = true)]
    pub files: Vec<PathBuf>,
    /// Where to write the unit files (created if missing)
    #[arg(long, value_name = "DIR", default_value = DEFAULT_OUT)]
    pub out: PathBuf,
    /// Replace unit files that already exist
    #[arg(long)]
    pub force: bool,
}

/// `gsup import monit MONITRC [--out DIR] [--cpus N]`.
#[derive(Debug, Args)]
pub struct MonitArgs {
    /// The Monit control file
    #[arg(value_name = "MONITRC")]
    pub file: PathBuf,
    /// Where the units are (checks are added to them) or go (created if missing)
    #[arg(long, value_name = "DIR", default_value = DEFAULT_OUT)]
    pub out: PathBuf,
    /// CPUs of the host the checks were written for (Monit's cpu % is of all CPUs) [default: this machine's]
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub cpus: Option<u32>,
}

/// One file to write, and how to say it.
struct Pending {
    path: PathBuf,
    text: String,
    verb: &'static str,
}

/// Runs an import; exit 0 when everything carried over, 1 when something
/// was dropped or not written, 2 on a usage error (nothing written then).
pub fn run(cmd: &ImportCommand, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    match cmd {
        ImportCommand::Upstart(a) => run_upstart(a, out, err),
        ImportCommand::Monit(a) => run_monit(a, out, err),
    }
}

fn run_upstart(a: &UpstartArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut jobs: BTreeMap<String, (PathBuf, String)> = BTreeMap::new();
    for path in &a.files {
        let name = match upstart::job_name(path) {
            Ok(n) => n,
            Err(e) => return usage(err, &format!("{}: {e}", path.display())),
        };
        let text = match files::read(path) {
            Ok(t) => t,
            Err(e) => return usage(err, &e),
        };
        if let Some((other, _)) = jobs.get(&name) {
            let msg = format!(
                "{} and {} are both job `{name}`",
                other.display(),
                path.display()
            );
            return usage(err, &msg);
        }
        jobs.insert(name, (path.clone(), text));
    }
    let mut dropped = false;
    let mut writes = Vec::new();
    let mut conflicts = Vec::new();
    for (name, (path, text)) in &jobs {
        let (draft, mut notes) = upstart::import(name, &path.display().to_string(), text);
        if let Some(o) = files::override_beside(path) {
            notes.push(Note::dropped(
                1,
                format!("{} is not read: Upstart applies its stanzas after this file's; carry them over by hand", o.display()),
            ));
        }
        let yaml = yaml::render(&draft);
        if let Err(e) = import::verify(&yaml) {
            notes.push(Note::dropped(
                1,
                format!("the unit file made for it does not load ({e}); not written"),
            ));
        } else {
            let target = files::existing_unit(&a.out, name);
            match target {
                Some(p) if !a.force => conflicts.push(p),
                Some(p) => writes.push(Pending {
                    path: p,
                    text: yaml,
                    verb: "replaced",
                }),
                None => writes.push(Pending {
                    path: files::unit_path(&a.out, name),
                    text: yaml,
                    verb: "wrote",
                }),
            }
        }
        dropped |= import::any_dropped(&notes);
        report(err, path, &notes);
    }
    if !conflicts.is_empty() {
        for c in &conflicts {
            let _ = writeln!(
                err,
                "gsup: {}: exists; not overwritten (--force replaces it)",
                c.display()
            );
        }
        let _ = writeln!(err, "gsup: nothing written");
        return 1;
    }
    finish(&writes, dropped, out, err)
}

fn run_monit(a: &MonitArgs, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let text = match files::read(&a.file) {
        Ok(t) => t,
        Err(e) => return usage(err, &e),
    };
    let cpus = a.cpus.unwrap_or_else(files::cpu_count);
    let parsed = monit::parse(&text, cpus);
    let source = a.file.display().to_string();
    // The units this run knows: those in the out dir, then the ones it makes.
    let mut units: BTreeMap<String, (PathBuf, String)> = BTreeMap::new();
    for job in files::units_in(&a.out) {
        match files::read(&job.path) {
            Ok(t) => {
                units.insert(job.name, (job.path, t));
            }
            Err(e) => {
                let _ = writeln!(err, "gsup: {e}");
            }
        }
    }
    let mut names: Vec<String> = units.keys().cloned().collect();
    let monit_names: Vec<String> = parsed.processes.iter().map(|p| p.name.clone()).collect();
    let targets: BTreeMap<String, Target> = monit_names
        .iter()
        .map(|n| (n.clone(), monit::resolve(n, &names)))
        .collect();
    let job_of = |n: &str| match targets.get(n)? {
        Target::Existing(j) | Target::New(j) => Some(j.clone()),
        Target::Ambiguous(_) => Some(n.to_string()),
    };
    let mut notes = parsed.notes.clone();
    let mut changed: BTreeMap<String, &'static str> = BTreeMap::new();
    for p in &parsed.processes {
        let add = monit::additions(p, parsed.cycle_s, &job_of, &mut notes);
        match monit::resolve(&p.name, &names) {
            Target::Ambiguous(jobs) => notes.push(Note::dropped(
                p.line,
                format!("`check process {}`: several units could be meant ({}); name the check as the job", p.name, jobs.join(", ")),
            )),
            Target::Existing(job) => {
                let Some((path, old)) = units.get(&job).cloned() else { continue };
                let verdict = import::verify(&old).map(|unit| import::merge::merge(&old, &unit, p, &add, &source));
                match verdict {
                    Ok((merged, more)) => {
                        notes.extend(more);
                        if merged != old {
                            match import::verify(&merged) {
                                Ok(_) => {
                                    units.insert(job.clone(), (path, merged));
                                    changed.entry(job).or_insert("added checks to");
                                }
                                Err(e) => notes.push(Note::dropped(p.line, format!("the merged unit of `{job}` does not load ({e}); left as it was"))),
                            }
                        }
                    }
                    Err(e) => notes.push(Note::dropped(p.line, format!("{}: does not load ({e})", path.display()))),
                }
            }
            Target::New(job) => {
                if let Some(path) = files::existing_unit(&a.out, &job) {
                    notes.push(Note::dropped(
                        p.line,
                        format!("{} exists but does not load: fix it, then import again", path.display()),
                    ));
                    continue;
                }
                let Some(draft) = monit::new_unit(p, &add, &source, &mut notes) else { continue };
                let text = yaml::render(&draft);
                match import::verify(&text) {
                    Ok(_) => {
                        units.insert(job.clone(), (files::unit_path(&a.out, &job), text));
                        names.push(job.clone());
                        changed.insert(job, "wrote");
                    }
                    Err(e) => notes.push(Note::dropped(p.line, format!("the unit file made for `{}` does not load ({e}); not written", p.name))),
                }
            }
        }
    }
    notes.sort();
    notes.dedup();
    report(err, &a.file, &notes);
    let writes: Vec<Pending> = changed
        .iter()
        .filter_map(|(job, verb)| {
            let (path, text) = units.get(job)?;
            Some(Pending {
                path: path.clone(),
                text: text.clone(),
                verb,
            })
        })
        .collect();
    finish(&writes, import::any_dropped(&notes), out, err)
}

fn usage(err: &mut dyn Write, msg: &str) -> i32 {
    let _ = writeln!(err, "gsup: {msg}");
    2
}

fn report(err: &mut dyn Write, file: &Path, notes: &[Note]) {
    for n in notes {
        let _ = writeln!(err, "{}", n.display(file));
    }
}

/// Writes the files, says so on `out`; exit 1 when something was dropped
/// or a write failed.
fn finish(writes: &[Pending], dropped: bool, out: &mut dyn Write, err: &mut dyn Write) -> i32 {
    let mut failed = false;
    for w in writes {
        match files::write(&w.path, &w.text) {
            Ok(()) => {
                let _ = writeln!(out, "{} {}", w.verb, w.path.display());
            }
            Err(e) => {
                let _ = writeln!(err, "gsup: {e}");
                failed = true;
            }
        }
    }
    if dropped {
        let _ = writeln!(err, "gsup: some of it was not carried over (see above)");
    }
    i32::from(dropped || failed)
}
