//! `gsup import`: Upstart job files and Monit control files turned into gsup unit files.
//! Pure: parsers and writers take text and give text; reading and writing files is `files`.
//!
//! The flow: `upstart::import` or `monit::parse` + `monit::convert` turn the
//! old text into `Draft`s (the unit files to write, with `Note`s on what did
//! not carry over); `yaml::render` writes a draft; `merge` adds Monit's checks
//! to a unit file that is already there; `verify` loads every text written
//! with the real unit parser, so that nothing that `gsup check` refuses is
//! ever written. `files` is the one place that touches the disk.

pub mod draft;
pub mod files;
pub mod merge;
pub mod monit;
pub mod shell;
pub mod upstart;
pub mod yaml;

pub use draft::Draft;

use std::fmt;
use std::path::Path;

/// How much a note matters: `Dropped` makes the import exit 1.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum NoteKind {
    /// Something of the old file has no equivalent and was left out.
    Dropped,
    /// Carried over, but not exactly: the reader should look (a guess, a
    /// difference in meaning).
    Warning,
}

/// One thing an import says about one line of its input, so that every
/// stanza that did not carry over is reported with its place and the reason.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Note {
    /// 1-based line of the input file.
    pub line: usize,
    pub kind: NoteKind,
    pub message: String,
}

impl Note {
    /// Something left out, and why.
    pub fn dropped(line: usize, message: impl Into<String>) -> Note {
        Note {
            line,
            kind: NoteKind::Dropped,
            message: message.into(),
        }
    }

    /// Something carried over with a caveat.
    pub fn warning(line: usize, message: impl Into<String>) -> Note {
        Note {
            line,
            kind: NoteKind::Warning,
            message: message.into(),
        }
    }

    /// The note as printed on stderr: `FILE:LINE: dropped: ...` or
    /// `FILE:LINE: warning: ...`.
    pub fn display<'a>(&'a self, file: &'a Path) -> impl fmt::Display + 'a {
        NoteLine { file, note: self }
    }
}

struct NoteLine<'a> {
    file: &'a Path,
    note: &'a Note,
}

impl fmt::Display for NoteLine<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.note.kind {
            NoteKind::Dropped => "dropped",
            NoteKind::Warning => "warning",
        };
        write!(
            f,
            "{}:{}: {kind}: {}",
            self.file.display(),
            self.note.line.max(1),
            self.note.message
        )
    }
}

/// True when any note says something was left out (the import exits 1).
pub fn any_dropped(notes: &[Note]) -> bool {
    notes.iter().any(|n| n.kind == NoteKind::Dropped)
}

/// Loads `text` with the real unit parser, as `gsup check` will: the import's
/// own guard against writing a unit file that gsup refuses. The error is the
/// parser's first message (without the file name).
pub fn verify(text: &str) -> Result<crate::unit::Unit, String> {
    crate::unit::parse(Path::new("unit"), text).map_err(|diags| {
        diags
            .first()
            .map(|d| format!("line {}: {}", d.line, d.message))
            .unwrap_or_else(|| "does not load".to_string())
    })
}
