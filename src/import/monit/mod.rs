//! `gsup import monit`: a Monit control file's `check process` entries as unit drafts, or as
//! checks added to units that exist. Pure: `parse` reads text, `convert` and `resolve` decide.

mod block;
mod convert;
mod lex;
mod parse;
mod test;
mod value;

pub use convert::{Additions, additions, new_unit, start_on, stop_on};

use super::Note;

/// What a Monit control file says that gsup can use.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonitFile {
    /// `set daemon N`: Monit's cycle, in seconds.
    pub cycle_s: Option<u64>,
    /// Every `check process`, in file order.
    pub processes: Vec<Process>,
    /// Names of the other checks (`check file`, `check host`...), which are
    /// not jobs, so that a `depends on` one of them is reported.
    pub other_checks: Vec<String>,
    /// What did not carry over, for the whole file.
    pub notes: Vec<Note>,
}

/// One `check process NAME ...` entry.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Process {
    pub name: String,
    pub line: usize,
    /// `with pidfile PATH`, as written.
    pub pidfile: Option<String>,
    pub start: Option<Program>,
    pub stop: Option<Program>,
    /// The resource tests as gsup check lines (canonical text).
    pub checks: Vec<String>,
    /// `depends on NAME`, each with its line.
    pub depends: Vec<(usize, String)>,
    /// `every N cycles`.
    pub every: Option<(usize, u32)>,
    /// `mode manual` or `onreboot nostart`: Monit does not start it by itself.
    pub manual: bool,
}

/// `start program = "..." as uid U and gid G with timeout N seconds`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Program {
    pub line: usize,
    /// The command as gsup words (templates; see `shell::program`).
    pub words: Vec<String>,
    pub uid: Option<String>,
    pub gid: Option<String>,
    pub timeout_s: Option<u64>,
}

/// Parses a Monit control file. `cpus` is the number of CPUs of the host
/// the checks were written for: Monit's `cpu` percentages are of all of
/// them, gsup's of one core.
pub fn parse(text: &str, cpus: u32) -> MonitFile {
    let toks = lex::tokens(text);
    let mut p = parse::Parser::new(toks, cpus.max(1));
    p.file();
    let mut file = p.into_file();
    file.notes.sort();
    file
}

/// Where a Monit check's job lives among the units already in the out dir.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A unit of that job exists: add to it.
    Existing(String),
    /// No unit: write a new one under this name.
    New(String),
    /// Several units could be meant.
    Ambiguous(Vec<String>),
}

/// Finds the unit a Monit check named `name` belongs to: the job of that
/// exact name, else the one job whose last path part is `name` (Monit's
/// `resque-worker` is Upstart's `gitorious/resque-worker`), else a new one.
pub fn resolve(name: &str, existing: &[String]) -> Target {
    if existing.iter().any(|e| e == name) {
        return Target::Existing(name.to_string());
    }
    let suffix = format!("/{name}");
    let matches: Vec<String> = existing
        .iter()
        .filter(|e| e.ends_with(&suffix))
        .cloned()
        .collect();
    match matches.len() {
        0 => Target::New(name.to_string()),
        1 => Target::Existing(matches[0].clone()),
        _ => Target::Ambiguous(matches),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import::NoteKind;

    const MONITRC: &str = r#"
set daemon 30 with start delay 120
check process api with pidfile /run/api.pid
  start program = "/srv/api/bin/api --daemon" as uid api and gid api with timeout 60 seconds
  stop program = "/srv/api/bin/api --stop" as uid api and gid api with timeout 20 seconds
  every 2 cycles
  if memory > 512000 kilobytes for 2 cycles then restart
  if total memory usage > 1.5 GB 3 times within 5 cycles then restart
  if total cpu usage > 150% for 4 cycles then exec "/usr/local/bin/page-ops api cpu"
  if cpu > 50 then alert
  if children > 100 then alert else if succeeded then alert
  if uptime > 3 days then restart
  if failed port 8080 protocol http request "/health" with timeout 10 seconds for 2 cycles then restart
  if does not exist for 3 cycles then restart
  if 3 restarts within 10 cycles then unmonitor
  depends on db, cache,
     disk
check process db matching "postgres"
  start program = "/etc/init.d/postgresql start"
  mode manual
check process cache with pidfile "/run/memcached.pid"
check file disk with path /dev/sda1
"#;

    fn lines(notes: &[Note], kind: NoteKind) -> Vec<usize> {
        notes
            .iter()
            .filter(|n| n.kind == kind)
            .map(|n| n.line)
            .collect()
    }

    #[test]
    fn reads_a_monit_file() {
        let f = parse(MONITRC, 2);
        assert_eq!(f.cycle_s, Some(30));
        assert_eq!(f.other_checks, ["disk"]);
        let names: Vec<&str> = f.processes.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["api", "db", "cache"]);
        let api = &f.processes[0];
        assert_eq!(api.pidfile.as_deref(), Some("/run/api.pid"));
        assert_eq!(
            api.checks,
            [
                "if mem > 500 MB for 2 cycles then restart",
                "if totalmem > 1536 MB 3 times within 5 cycles then restart",
                "if totalcpu > 300% for 4 cycles then exec /usr/local/bin/page-ops api cpu",
                "if children > 100 then alert",
                "if uptime > 3d then restart",
                "if 3 restarts within 10 cycles then stop",
            ]
        );
        let start = api.start.as_ref().expect("start program");
        assert_eq!(start.words, ["/srv/api/bin/api", "--daemon"]);
        assert_eq!(
            (start.uid.as_deref(), start.gid.as_deref(), start.timeout_s),
            (Some("api"), Some("api"), Some(60))
        );
        assert_eq!(api.stop.as_ref().and_then(|s| s.timeout_s), Some(20));
        assert_eq!(api.every.map(|e| e.1), Some(2));
        let deps: Vec<&str> = api.depends.iter().map(|d| d.1.as_str()).collect();
        assert_eq!(deps, ["db", "cache", "disk"]);
        assert!(f.processes[1].manual);
        assert_eq!(
            f.processes[2].pidfile.as_deref(),
            Some("/run/memcached.pid")
        );
        // start delay, cpu without %, else-if, the port test, matching, check file.
        assert_eq!(lines(&f.notes, NoteKind::Dropped), [2, 10, 11, 13, 18, 22]);
        // the cpu scaling, unmonitor for stop.
        assert_eq!(lines(&f.notes, NoteKind::Warning), [9, 15]);
    }

    #[test]
    fn new_units_and_their_keys() {
        let f = parse(MONITRC, 2);
        let job_of = |n: &str| {
            f.processes
                .iter()
                .any(|p| p.name == n)
                .then(|| format!("srv/{n}"))
        };
        let mut notes = Vec::new();
        let add = additions(&f.processes[0], f.cycle_s, &job_of, &mut notes);
        assert_eq!(add.cycle_s, Some(60));
        assert_eq!(add.depends, ["srv/db", "srv/cache"]);
        assert_eq!(lines(&notes, NoteKind::Dropped), [16]);
        let d = new_unit(&f.processes[0], &add, "monitrc", &mut notes).expect("unit");
        assert_eq!(
            d.start_on.as_deref(),
            Some("started srv/db and started srv/cache")
        );
        assert_eq!(
            d.stop_on.as_deref(),
            Some("stopping srv/db or stopping srv/cache")
        );
        assert_eq!((d.ready_timeout_s, d.kill_timeout_s), (Some(60), Some(20)));
        assert_eq!(
            d.pre_stop.as_deref(),
            Some(&["/srv/api/bin/api".to_string(), "--stop".into()][..])
        );
        let text = crate::import::yaml::render(&d);
        assert!(crate::import::verify(&text).is_ok(), "{text}");
        let cache = &f.processes[2];
        let add = additions(cache, f.cycle_s, &job_of, &mut notes);
        assert_eq!(new_unit(cache, &add, "monitrc", &mut notes), None);
        assert!(
            notes
                .last()
                .is_some_and(|n| n.message.contains("no `start program`"))
        );
    }

    #[test]
    fn resolves_names() {
        let existing = vec![
            "gitorious/resque-worker".to_string(),
            "a/x".into(),
            "b/x".into(),
            "x".into(),
            "y/z".into(),
        ];
        assert_eq!(
            resolve("resque-worker", &existing),
            Target::Existing("gitorious/resque-worker".into())
        );
        assert_eq!(resolve("x", &existing), Target::Existing("x".into()));
        assert_eq!(resolve("z", &existing), Target::Existing("y/z".into()));
        assert_eq!(resolve("poller", &existing), Target::New("poller".into()));
        let two = vec!["a/x".to_string(), "b/x".into()];
        assert_eq!(resolve("x", &two), Target::Ambiguous(two.clone()));
    }
}
