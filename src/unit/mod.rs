//! The unit-file model: one job's typed configuration, as SPEC section 1 lists it.
//! Pure data and parsing from text; it never touches the file system (see `loader`).

mod chars;
mod compound;
mod convert;
pub mod expand;
mod fields;
mod lint;
pub mod model;
mod raw;
pub mod values;
pub mod words;

pub use expand::expand_str;
pub use fields::KEYS;
pub use lint::lint;
pub use model::*;

use crate::diag::Diagnostic;
use std::path::Path;

/// Parses one unit file's text. `file` is only used to name the file in
/// diagnostics. Every problem found is returned, not only the first, each at
/// the line and column of the offending key or value. A control character
/// (tab aside) in any string is one of them; no message prints one raw.
pub fn parse(file: &Path, text: &str) -> Result<Unit, Vec<Diagnostic>> {
    let masked = chars::mask(text);
    let root = raw::load(&masked.text)
        .map_err(|(line, col, msg)| vec![Diagnostic::error(file, line, col, msg)])
        .map_err(printable)?;
    let controls = chars::check(file, &masked, &root);
    match fields::build(file, &masked.text, &root) {
        Ok(unit) if controls.is_empty() => Ok(unit),
        Ok(_) => Err(controls),
        Err(mut diags) => {
            if !controls.is_empty() {
                diags.extend(controls);
                diags.sort();
            }
            Err(printable(diags))
        }
    }
}

/// Diagnostics whose messages hold no raw control character.
fn printable(mut diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    for d in &mut diags {
        if let std::borrow::Cow::Owned(m) = crate::diag::printable(&d.message) {
            d.message = m;
        }
    }
    diags
}
