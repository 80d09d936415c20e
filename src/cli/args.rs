//! Parsers for command-line values: `KEY=VALUE` pairs, durations, and the
//! `--alert-command` string split into words. Pure; errors are one line.

use std::time::Duration;

/// Parses `KEY=VALUE`; the key must match `[A-Za-z_][A-Za-z0-9_]*` and the
/// value hold no control character but tab (an instance value is printed in
/// `list`, where a line break would forge a line). Errors quote `s` escaped.
pub fn parse_pair(s: &str) -> Result<(String, String), String> {
    let shown = crate::diag::printable(s);
    let Some((key, value)) = s.split_once('=') else {
        return Err(format!("'{shown}' is not KEY=VALUE"));
    };
    let mut chars = key.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "bad key '{}' in '{shown}': a key is a letter or '_' followed by letters, digits or '_'",
            crate::diag::printable(key)
        ));
    }
    if value.contains(|c: char| c.is_control() && c != '\t') {
        return Err(format!(
            "the value in '{shown}' holds a control character; only tab is allowed"
        ));
    }
    Ok((key.to_string(), value.to_string()))
}

/// A word of `gsup status [JOB [KEY=VALUE]...]...`: a job name, or a pair
/// for the job before it (no job name holds `=`), checked as `parse_pair`.
pub fn parse_status_word(s: &str) -> Result<String, String> {
    if s.contains('=') {
        parse_pair(s)?;
    }
    Ok(s.to_string())
}

/// The jobs of `status` words and the pairs after each (empty when no pair
/// was given at all, so the request is the one older clients send). A pair
/// before the first job is a usage error.
pub type StatusTargets = (Vec<String>, Vec<Vec<(String, String)>>);

/// Groups `status` words (already checked by `parse_status_word`).
pub fn group_status_words(words: &[String]) -> Result<StatusTargets, String> {
    let mut jobs: Vec<String> = Vec::new();
    let mut pairs: Vec<Vec<(String, String)>> = Vec::new();
    for w in words {
        if w.contains('=') {
            let pair = parse_pair(w)?;
            match pairs.last_mut() {
                Some(p) => p.push(pair),
                None => {
                    let shown = crate::diag::printable(w);
                    return Err(format!("'{shown}' comes before any JOB"));
                }
            }
        } else {
            jobs.push(w.clone());
            pairs.push(Vec::new());
        }
    }
    if pairs.iter().all(Vec::is_empty) {
        pairs.clear();
    }
    Ok((jobs, pairs))
}

/// Parses `--cycle`: the unit files' duration grammar (`500ms`, `5s`, `2m`,
/// `1h`, a bare number of seconds; `unit::values`), zero refused (a cycle of
/// zero would spin).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let d = crate::unit::values::parse_duration(s)?;
    if d.is_zero() {
        return Err(format!("'{s}' must be a positive duration"));
    }
    Ok(d)
}

/// A command already split into words (clap needs one type per value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words(pub Vec<String>);

/// Splits `--alert-command` into words by the shell rules of `exec` (the
/// crate's one splitter, `unit::words`), never run by a shell; as a clap
/// value parser.
pub fn parse_words(s: &str) -> Result<Words, String> {
    let words = crate::unit::words::split_plain(s)
        .map_err(|e| format!("{} at character {} of '{s}'", e.message, e.offset + 1))?;
    if words.is_empty() {
        return Err("empty command".into());
    }
    Ok(Words(words.into_iter().map(|w| w.text).collect()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pairs() {
        assert_eq!(
            parse_pair("QUEUE=high"),
            Ok(("QUEUE".into(), "high".into()))
        );
        assert_eq!(parse_pair("_a1=x=y"), Ok(("_a1".into(), "x=y".into())));
        assert_eq!(parse_pair("K="), Ok(("K".into(), String::new())));
        assert_eq!(parse_pair("QUEUE"), Err("'QUEUE' is not KEY=VALUE".into()));
        assert!(parse_pair("=v").is_err());
        assert!(parse_pair("1A=v").is_err());
        assert!(parse_pair("A-B=v").is_err());
        assert_eq!(parse_pair("K=a\tb"), Ok(("K".into(), "a\tb".into())));
        for bad in ["K=a\nb", "K=\0", "K=\x1b[31m", "K=\u{85}"] {
            let e = parse_pair(bad).expect_err(bad);
            assert!(e.contains("control character"), "{e}");
            assert!(!e.contains(|c: char| c.is_control()), "{e:?}");
        }
    }

    #[test]
    fn status_words_group_pairs_under_their_job() {
        let w = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            group_status_words(&w(&["a", "b"])),
            Ok((w(&["a", "b"]), vec![]))
        );
        assert_eq!(
            group_status_words(&w(&["web", "worker", "QUEUE=high", "X=1", "db"])),
            Ok((
                w(&["web", "worker", "db"]),
                vec![
                    vec![],
                    vec![("QUEUE".into(), "high".into()), ("X".into(), "1".into())],
                    vec![]
                ]
            ))
        );
        assert!(group_status_words(&w(&["Q=1", "worker"])).is_err());
        assert!(parse_status_word("1A=b").is_err());
        assert_eq!(parse_status_word("a/b"), Ok("a/b".into()));
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5s"), Ok(Duration::from_secs(5)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(parse_duration("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse_duration("7"), Ok(Duration::from_secs(7)));
        assert!(parse_duration("0s").is_err());
        assert!(parse_duration("5x").is_err());
        assert!(parse_duration("").is_err());
    }

    #[test]
    fn words() {
        assert_eq!(
            parse_words(r#"mail -s 'gsup alert' "root@x y" a\ b"#),
            Ok(Words(vec![
                "mail".to_string(),
                "-s".into(),
                "gsup alert".into(),
                "root@x y".into(),
                "a b".into()
            ]))
        );
        assert_eq!(parse_words("'$HOME'"), Ok(Words(vec!["$HOME".to_string()])));
        assert!(parse_words("a 'b").is_err());
        assert!(parse_words("   ").is_err());
    }
}
