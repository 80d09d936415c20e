//! The unit-file model: one job's typed configuration, as SPEC section 1 lists it.
//! Pure data and parsing from text; it never touches the file system (see `loader`).

mod compound;
mod convert;
pub mod expand;
mod fields;
pub mod model;
mod raw;
pub mod values;
pub mod words;

pub use expand::expand_str;
pub use fields::KEYS;
pub use model::*;

use crate::diag::Diagnostic;
use std::path::Path;

/// Parses one unit file's text. `file` is only used to name the file in
/// diagnostics. Every problem found is returned, not only the first, each at
/// the line and column of the offending key or value.
pub fn parse(file: &Path, text: &str) -> Result<Unit, Vec<Diagnostic>> {
    let root = raw::load(text)
        .map_err(|(line, col, msg)| vec![Diagnostic::error(file, line, col, msg)])?;
    fields::build(file, text, &root)
}
