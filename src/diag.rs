//! Diagnostics: one error or warning about one place in one unit file.
//! Pure data and formatting; it never reads files or decides what is an error.

use std::borrow::Cow;
use std::fmt;
use std::path::PathBuf;

/// How bad a diagnostic is: errors make `gsup check` exit 1, warnings do not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Severity {
    Error,
    Warning,
}

/// One message about a place in a file, printed as `FILE:LINE:COL: message`
/// (warnings as `FILE:LINE:COL: warning: message`). Line and column are 1-based;
/// 0 means "the whole file" (e.g. a file that could not be read).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub col: usize,
    pub severity: Severity,
    pub message: String,
}

impl Diagnostic {
    /// An error at `line:col` of `file`.
    pub fn error(
        file: impl Into<PathBuf>,
        line: usize,
        col: usize,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.into(),
            line,
            col,
            severity: Severity::Error,
            message: message.into(),
        }
    }

    /// A warning at `line:col` of `file`.
    pub fn warning(
        file: impl Into<PathBuf>,
        line: usize,
        col: usize,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.into(),
            line,
            col,
            severity: Severity::Warning,
            message: message.into(),
        }
    }

    /// True for errors.
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let line = self.line.max(1);
        let col = self.col.max(1);
        match self.severity {
            Severity::Error => write!(
                f,
                "{}:{}:{}: {}",
                self.file.display(),
                line,
                col,
                self.message
            ),
            Severity::Warning => {
                write!(
                    f,
                    "{}:{}:{}: warning: {}",
                    self.file.display(),
                    line,
                    col,
                    self.message
                )
            }
        }
    }
}

/// `text` with every control character written as an escape (`\u{0}`, `\n`,
/// `\u{1b}`). Why: a message may quote what a user or a client wrote, and a
/// raw control character would forge a line or drive the terminal.
pub fn printable(text: &str) -> Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if c.is_control() {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printable_escapes_control_characters_only() {
        assert_eq!(printable("plain é"), "plain é");
        assert_eq!(printable("a\0b\nc\x1b[1m\td"), r"a\u{0}b\nc\u{1b}[1m\td");
    }
}
