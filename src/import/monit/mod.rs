//! `gsup import monit`: a Monit control file's `check process` entries as unit drafts, or as
//! checks added to units that exist. Pure: `parse` reads text, `convert` and `resolve` decide.

mod convert;
mod lex;
mod parse;
mod test;

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
