//! Parsers for command-line values: `KEY=VALUE` pairs, durations, and the
//! `--alert-command` string split into words. Pure; errors are one line.

use std::time::Duration;

/// Parses `KEY=VALUE`; the key must match `[A-Za-z_][A-Za-z0-9_]*`.
pub fn parse_pair(s: &str) -> Result<(String, String), String> {
    let Some((key, value)) = s.split_once('=') else {
        return Err(format!("'{s}' is not KEY=VALUE"));
    };
    let mut chars = key.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_');
    if !first_ok || !chars.all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return Err(format!(
            "bad key '{key}' in '{s}': a key is a letter or '_' followed by letters, digits or '_'"
        ));
    }
    Ok((key.to_string(), value.to_string()))
}

/// Parses a duration: `500ms`, `5s`, `2m`, `1h`, or a bare number of seconds.
/// Zero is refused (a cycle of zero would spin).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let value: f64 = num
        .parse()
        .map_err(|_| format!("'{s}' is not a duration (e.g. 500ms, 5s, 2m, 1h)"))?;
    let secs = match unit.trim() {
        "" | "s" => value,
        "ms" => value / 1000.0,
        "m" => value * 60.0,
        "h" => value * 3600.0,
        other => return Err(format!("unknown unit '{other}' in '{s}' (ms, s, m, h)")),
    };
    if !secs.is_finite() || secs <= 0.0 || secs > 1e9 {
        return Err(format!("'{s}' must be a positive duration"));
    }
    Ok(Duration::from_secs_f64(secs))
}

/// A command already split into words (clap needs one type per value).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Words(pub Vec<String>);

/// [`split_words`] as a clap value parser.
pub fn parse_words(s: &str) -> Result<Words, String> {
    split_words(s).map(Words)
}

/// Splits a command string into words by POSIX shell rules (single and double
/// quotes, backslash), without running a shell and without expansions.
pub fn split_words(s: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        match c {
            ' ' | '\t' | '\n' => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('\'') => break,
                        Some(ch) => word.push(ch),
                        None => return Err(format!("unterminated ' in '{s}'")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some('"') => break,
                        Some('\\') => match chars.next() {
                            Some(ch @ ('"' | '\\' | '$' | '`')) => word.push(ch),
                            Some('\n') => {}
                            Some(ch) => {
                                word.push('\\');
                                word.push(ch);
                            }
                            None => return Err(format!("unterminated \" in '{s}'")),
                        },
                        Some(ch) => word.push(ch),
                        None => return Err(format!("unterminated \" in '{s}'")),
                    }
                }
            }
            '\\' => {
                in_word = true;
                match chars.next() {
                    Some('\n') => {}
                    Some(ch) => word.push(ch),
                    None => return Err(format!("trailing backslash in '{s}'")),
                }
            }
            ch => {
                in_word = true;
                word.push(ch);
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if words.is_empty() {
        return Err("empty command".into());
    }
    Ok(words)
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
            split_words(r#"mail -s 'gsup alert' "root@x y" a\ b"#),
            Ok(vec![
                "mail".to_string(),
                "-s".into(),
                "gsup alert".into(),
                "root@x y".into(),
                "a b".into()
            ])
        );
        assert_eq!(split_words("''"), Ok(vec![String::new()]));
        assert!(split_words("a 'b").is_err());
        assert!(split_words("   ").is_err());
    }
}
