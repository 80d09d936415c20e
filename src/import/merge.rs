//! Adds a Monit check's keys to a unit file that already exists, keeping every line of it:
//! checks go at the end of its `checks:` list, missing keys at the end of the file. Pure.

use super::monit::{Additions, Process, start_on, stop_on};
use super::{Note, yaml};
use crate::unit::Unit;

/// The merged text and what could not be merged. `unit` is `text` parsed;
/// `source` names the Monit file in the comment above the added keys.
pub fn merge(
    text: &str,
    unit: &Unit,
    p: &Process,
    add: &Additions,
    source: &str,
) -> (String, Vec<Note>) {
    let mut notes = Vec::new();
    let mut keys = String::new();
    if p.start.is_some() || p.stop.is_some() {
        notes.push(Note::warning(
            p.line,
            format!(
                "`check process {}`: its start and stop programs are not used: the unit's own \
                 `exec` starts the job, and gsup stops it",
                p.name
            ),
        ));
    }
    match (&unit.pidfile, &add.pidfile) {
        (None, Some(new)) => keys.push_str(&format!("pidfile: {}\n", yaml::scalar(new, false))),
        (Some(old), Some(new)) if old != new => notes.push(Note::dropped(
            add.line,
            format!("`with pidfile`: the unit already follows `{old}`; kept"),
        )),
        _ => {}
    }
    if !unit.respawn {
        if has_key(text, "respawn") {
            notes.push(Note::warning(
                add.line,
                "the unit says `respawn: false`, kept; Monit restarted the process when it was gone",
            ));
        } else {
            keys.push_str("respawn: true\n");
        }
    }
    if !add.depends.is_empty() {
        depends(&mut keys, &mut notes, unit, add);
    }
    if let Some(c) = add.cycle_s {
        match unit.cycle {
            None => keys.push_str(&format!("cycle: {c}s\n")),
            Some(old) if old.as_secs() != c || old.subsec_nanos() != 0 => {
                notes.push(Note::dropped(
                    add.line,
                    format!("Monit's cycle of {c}s: the unit's `cycle` is kept"),
                ))
            }
            Some(_) => {}
        }
    }
    let have: Vec<String> = unit.checks.iter().map(|c| c.to_string()).collect();
    let new: Vec<String> = add
        .checks
        .iter()
        .filter(|c| !have.contains(c))
        .cloned()
        .collect();
    let mut out = text.to_string();
    if !new.is_empty() && has_key(text, "checks") {
        match append_to_list(text, "checks", &new) {
            Some(t) => out = t,
            None => notes.push(Note::dropped(
                add.line,
                format!(
                    "the unit's `checks:` is not a block list (`- ...` lines); add by hand: {}",
                    new.join("; ")
                ),
            )),
        }
    } else if !new.is_empty() {
        yaml::block_list(&mut keys, "checks", &new);
    }
    if !keys.is_empty() {
        if !out.is_empty() && !out.ends_with('\n') {
            out.push('\n');
        }
        out.push_str(&format!(
            "# Added by `gsup import monit` from {source} (line {}: check process {}).\n",
            add.line, p.name
        ));
        out.push_str(&keys);
    }
    (out, notes)
}

/// `depends on`: a `start_on` (and `stop_on`) when the unit has none; else
/// the unit's own is kept, and a dependency it does not name is reported.
fn depends(keys: &mut String, notes: &mut Vec<Note>, unit: &Unit, add: &Additions) {
    let Some(expr) = &unit.start_on else {
        keys.push_str(&format!(
            "start_on: {}\n",
            yaml::scalar(&start_on(&add.depends), false)
        ));
        if unit.stop_on.is_none() {
            keys.push_str(&format!(
                "stop_on: {}\n",
                yaml::scalar(&stop_on(&add.depends), false)
            ));
        }
        return;
    };
    let refs = expr.job_references();
    for dep in &add.depends {
        if !refs
            .iter()
            .any(|(event, job)| event == "started" && job == dep)
        {
            notes.push(Note::dropped(
                add.line,
                format!("`depends on {dep}`: the unit's own `start_on` is kept; add `started {dep}` to it if it must wait"),
            ));
        }
    }
}

/// True when `text` has the top-level key `key:`.
fn has_key(text: &str, key: &str) -> bool {
    text.lines().any(|l| top_key(l) == Some(key))
}

/// The top-level key a line starts, if it does.
fn top_key(line: &str) -> Option<&str> {
    if line.starts_with([' ', '\t', '#', '-']) {
        return None;
    }
    let (k, _) = line.split_once(':')?;
    Some(k.trim().trim_matches(['"', '\'']))
}

/// `text` with `items` added after the last `- ` line of the block list
/// under the top-level `key:`, at the same indentation; `None` when that key
/// holds a flow list or a scalar.
fn append_to_list(text: &str, key: &str, items: &[String]) -> Option<String> {
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let at = lines.iter().position(|l| top_key(l) == Some(key))?;
    let after_colon = lines[at].split_once(':')?.1.trim();
    if !(after_colon.is_empty() || after_colon.starts_with('#')) {
        return None;
    }
    let mut last = None;
    let mut indent = None;
    for (i, l) in lines.iter().enumerate().skip(at + 1) {
        let body = l.trim_end_matches(['\n', '\r']);
        if body.trim().is_empty() {
            continue;
        }
        if !body.starts_with([' ', '\t']) && !body.starts_with("- ") {
            break;
        }
        if indent.is_none() && body.trim_start().starts_with("- ") {
            indent = Some(body.len() - body.trim_start().len());
        }
        last = Some(i);
    }
    let (last, indent) = (last?, indent?);
    let pad = " ".repeat(indent);
    let mut out = String::with_capacity(text.len() + 64);
    for (i, l) in lines.iter().enumerate() {
        out.push_str(l);
        if i == last {
            if !l.ends_with('\n') {
                out.push('\n');
            }
            for item in items {
                out.push_str(&yaml::list_item(item, &pad));
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn appends_to_a_block_list() {
        let text = "exec: x\nchecks:\n  - if mem > 1 MB then alert\n  # note\n\nrespawn: true\n";
        let out =
            append_to_list(text, "checks", &["if cpu > 90% then alert".into()]).expect("block");
        assert_eq!(
            out,
            "exec: x\nchecks:\n  - if mem > 1 MB then alert\n  # note\n  - if cpu > 90% then alert\n\nrespawn: true\n"
        );
        let zero = "checks:\n- if mem > 1 MB then alert\n";
        assert_eq!(
            append_to_list(zero, "checks", &["a".into()]).as_deref(),
            Some("checks:\n- if mem > 1 MB then alert\n- a\n")
        );
        assert_eq!(
            append_to_list("checks: [a]\n", "checks", &["b".into()]),
            None
        );
        assert_eq!(append_to_list("checks: a\n", "checks", &["b".into()]), None);
    }
}
