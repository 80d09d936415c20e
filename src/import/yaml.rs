//! Writes a `Draft` as a YAML unit file: keys in the reference order, each string quoted
//! only when YAML would misread it, scripts as literal blocks. Text only; it never parses.

use super::draft::{Draft, RespawnLimit};
use std::fmt::Write as _;

/// Longest flow list (`[a, b]`) written on one line; longer lists are block lists.
const FLOW_WIDTH: usize = 100;

/// The whole unit file: header comments, then every key the draft sets, in
/// the order of the unit-file reference (what the job is, when it runs, what
/// it runs, how it is supervised, its process settings, its checks).
pub fn render(d: &Draft) -> String {
    let mut out = String::new();
    for line in &d.header {
        comment(&mut out, line);
    }
    opt_str(&mut out, "description", d.description.as_deref());
    opt_str(&mut out, "author", d.author.as_deref());
    if d.task {
        raw(&mut out, "type", "task");
    }
    opt_str(&mut out, "instance", d.instance.as_deref());
    opt_str(&mut out, "start_on", d.start_on.as_deref());
    opt_str(&mut out, "stop_on", d.stop_on.as_deref());
    if !d.env.is_empty() {
        map(&mut out, "env", &d.env);
    }
    opt_list(&mut out, "pre_start", d.pre_start.as_deref());
    opt_list(
        &mut out,
        "exec",
        Some(&d.exec).filter(|e| !e.is_empty()).map(|e| &e[..]),
    );
    opt_list(&mut out, "post_start", d.post_start.as_deref());
    opt_list(&mut out, "pre_stop", d.pre_stop.as_deref());
    opt_list(&mut out, "post_stop", d.post_stop.as_deref());
    if d.respawn {
        raw(&mut out, "respawn", "true");
    }
    match d.respawn_limit {
        Some(RespawnLimit::Count { count, interval_s }) => raw(
            &mut out,
            "respawn_limit",
            &format!("{{count: {count}, interval: {interval_s}s}}"),
        ),
        Some(RespawnLimit::Unlimited) => raw(&mut out, "respawn_limit", "unlimited"),
        None => {}
    }
    if !d.normal_exit.is_empty() {
        list(&mut out, "normal_exit", &d.normal_exit);
    }
    opt_str(&mut out, "kill_signal", d.kill_signal.as_deref());
    opt_secs(&mut out, "kill_timeout", d.kill_timeout_s);
    opt_str(&mut out, "reload_signal", d.reload_signal.as_deref());
    opt_str(&mut out, "pidfile", d.pidfile.as_deref());
    if d.ready_pidfile {
        raw(&mut out, "ready", "pidfile");
    }
    opt_secs(&mut out, "ready_timeout", d.ready_timeout_s);
    opt_str(&mut out, "user", d.user.as_deref());
    opt_str(&mut out, "group", d.group.as_deref());
    opt_str(&mut out, "chdir", d.chdir.as_deref());
    if let Some(u) = &d.umask {
        // Always quoted: `022` must stay three octal digits.
        raw(&mut out, "umask", &quoted(u));
    }
    if let Some(n) = d.nice {
        raw(&mut out, "nice", &n.to_string());
    }
    if let Some(n) = d.oom_score_adj {
        raw(&mut out, "oom_score_adj", &n.to_string());
    }
    if !d.limits.is_empty() {
        limits(&mut out, &d.limits);
    }
    if let Some(c) = d.console {
        raw(&mut out, "console", c);
    }
    opt_secs(&mut out, "cycle", d.cycle_s);
    if !d.checks.is_empty() {
        block_list(&mut out, "checks", &d.checks);
    }
    out
}

/// A `# ...` comment line (each line of `text` commented).
pub fn comment(out: &mut String, text: &str) {
    for line in text.lines() {
        if line.is_empty() {
            out.push_str("#\n");
        } else {
            let _ = writeln!(out, "# {line}");
        }
    }
}

fn raw(out: &mut String, key: &str, value: &str) {
    let _ = writeln!(out, "{key}: {value}");
}

fn opt_secs(out: &mut String, key: &str, secs: Option<u64>) {
    if let Some(s) = secs {
        raw(out, key, &format!("{s}s"));
    }
}

fn opt_str(out: &mut String, key: &str, value: Option<&str>) {
    let Some(v) = value else { return };
    match literal_block(v, "  ") {
        Some(block) => {
            let _ = write!(out, "{key}: {block}");
        }
        None => raw(out, key, &scalar(v, false)),
    }
}

fn opt_list(out: &mut String, key: &str, items: Option<&[String]>) {
    if let Some(items) = items {
        list(out, key, items);
    }
}

/// A list: on one line (`[a, b]`) when it is short and every item fits a
/// flow list, else one `- item` per line.
pub fn list(out: &mut String, key: &str, items: &[String]) {
    let flow: Option<Vec<String>> = items.iter().map(|i| flow_item(i)).collect();
    if let Some(flow) = flow {
        let line = format!("{key}: [{}]", flow.join(", "));
        if line.chars().count() <= FLOW_WIDTH {
            out.push_str(&line);
            out.push('\n');
            return;
        }
    }
    block_list(out, key, items);
}

/// A list written one `- item` per line, a multi-line item as a literal block.
pub fn block_list(out: &mut String, key: &str, items: &[String]) {
    let _ = writeln!(out, "{key}:");
    for item in items {
        out.push_str(&list_item(item, "  "));
    }
}

/// One `INDENT- item` line (or literal block) of a block list.
pub fn list_item(item: &str, indent: &str) -> String {
    match literal_block(item, &format!("{indent}  ")) {
        Some(block) => format!("{indent}- {block}"),
        None => format!("{indent}- {}\n", scalar(item, false)),
    }
}

/// An item of a one-line list; an item with blanks is quoted, so that no
/// reader takes it for several argv words.
fn flow_item(s: &str) -> Option<String> {
    if s.contains('\n') {
        return None;
    }
    if s.contains(char::is_whitespace) {
        return Some(quoted(s));
    }
    Some(scalar(s, true))
}

fn map(out: &mut String, key: &str, pairs: &[(String, String)]) {
    let _ = writeln!(out, "{key}:");
    for (k, v) in pairs {
        match literal_block(v, "    ") {
            Some(block) => {
                let _ = write!(out, "  {}: {block}", scalar(k, false));
            }
            None => {
                let _ = writeln!(out, "  {}: {}", scalar(k, false), scalar(v, false));
            }
        }
    }
}

fn limits(out: &mut String, limits: &[(String, String, String)]) {
    out.push_str("limits:\n");
    for (name, soft, hard) in limits {
        if soft == hard {
            let _ = writeln!(out, "  {name}: {}", scalar(soft, false));
        } else {
            let _ = writeln!(
                out,
                "  {name}: [{}, {}]",
                scalar(soft, true),
                scalar(hard, true)
            );
        }
    }
}

/// `s` as a one-line YAML scalar: bare when YAML reads it back as the same
/// string (`flow`: inside `[...]`, where `,[]{}` also need quotes), else
/// double-quoted with escapes.
pub fn scalar(s: &str, flow: bool) -> String {
    if plain_ok(s, flow) {
        s.to_string()
    } else {
        quoted(s)
    }
}

/// `s` double-quoted, with YAML's escapes for `\`, `"` and every control or
/// line-breaking character.
pub fn quoted(s: &str) -> String {
    let mut q = String::with_capacity(s.len() + 2);
    q.push('"');
    for c in s.chars() {
        match c {
            '\\' => q.push_str("\\\\"),
            '"' => q.push_str("\\\""),
            '\n' => q.push_str("\\n"),
            '\t' => q.push_str("\\t"),
            '\r' => q.push_str("\\r"),
            '\u{85}' => q.push_str("\\N"),
            '\u{2028}' => q.push_str("\\L"),
            '\u{2029}' => q.push_str("\\P"),
            c if c.is_control() => {
                let _ = write!(q, "\\x{:02x}", c as u32);
            }
            '\u{feff}' => q.push_str("\\ufeff"),
            c => q.push(c),
        }
    }
    q.push('"');
    q
}

/// Characters that YAML treats as line breaks or that a reader must never
/// meet unquoted.
fn is_special(c: char) -> bool {
    c.is_control() || matches!(c, '\u{85}' | '\u{2028}' | '\u{2029}' | '\u{feff}')
}

fn plain_ok(s: &str, flow: bool) -> bool {
    let mut chars = s.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    if s.trim() != s || s.chars().any(is_special) {
        return false;
    }
    if "-?:,[]{}#&*!|>'\"%@`".contains(first) {
        // `-D`, `--listen=x`: a dash followed by a non-blank starts a plain scalar.
        let next_ok = chars
            .next()
            .is_some_and(|c| !c.is_whitespace() && !",[]{}".contains(c));
        if first != '-' || !next_ok {
            return false;
        }
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    if flow && s.contains([',', '[', ']', '{', '}']) {
        return false;
    }
    !looks_typed(s)
}

/// True for words YAML would read as something else than a string: booleans
/// and nulls of YAML 1.1 and 1.2, and numbers other than plain decimal
/// integers (which gsup reads with their spelling).
fn looks_typed(s: &str) -> bool {
    let lower = s.to_ascii_lowercase();
    if matches!(
        lower.as_str(),
        "true" | "false" | "yes" | "no" | "on" | "off" | "y" | "n" | "null" | "~"
    ) {
        return true;
    }
    let decimal = s == "0" || (!s.starts_with('0') && s.bytes().all(|b| b.is_ascii_digit()));
    if decimal {
        return false;
    }
    // Any other number YAML 1.1 or 1.2 knows (`1.5`, `-8`, `022`, `1e3`,
    // `0x1F`, `1_000`, `1:30`); `127.0.0.1` is none of them.
    let t = s.trim_start_matches(['+', '-']);
    s.parse::<f64>().is_ok()
        || t.starts_with("0x")
        || t.starts_with("0o")
        || t.starts_with('.')
        || (t.starts_with(|c: char| c.is_ascii_digit())
            && t.bytes()
                .all(|b| b.is_ascii_digit() || b == b'_' || b == b':'))
}

/// `s` as a literal block scalar (`|`, `|-` or `|+` then the lines, each
/// after `indent`), for multi-line text such as a script; `None` when `s`
/// has one line or anything a block cannot hold as written (a first line
/// starting with a blank, a carriage return, other control characters).
fn literal_block(s: &str, indent: &str) -> Option<String> {
    if !s.contains('\n')
        || s.starts_with([' ', '\t', '\n'])
        || s.chars().any(|c| is_special(c) && c != '\n' && c != '\t')
    {
        return None;
    }
    let body = s.trim_end_matches('\n');
    let chomp = match s.len() - body.len() {
        0 => "|-",
        1 => "|",
        _ => "|+",
    };
    let mut out = format!("{chomp}\n");
    for line in s.strip_suffix('\n').unwrap_or(s).split('\n') {
        if line.is_empty() {
            out.push('\n');
        } else {
            let _ = writeln!(out, "{indent}{line}");
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_when_safe() {
        assert_eq!(scalar("/usr/sbin/sshd", false), "/usr/sbin/sshd");
        assert_eq!(scalar("-D", true), "-D");
        assert_eq!(scalar("--port=9400", true), "--port=9400");
        assert_eq!(scalar("runlevel [2345]", false), "runlevel [2345]");
        assert_eq!(
            scalar("Marius Mårnes Mathiesen", false),
            "Marius Mårnes Mathiesen"
        );
        assert_eq!(scalar("38400", true), "38400");
        assert_eq!(scalar("127.0.0.1", true), "127.0.0.1");
        assert_eq!(scalar("2.3.2", false), "2.3.2");
    }

    #[test]
    fn quoted_when_yaml_would_misread() {
        for s in [
            "", "*", "yes", "No", "null", "~", "022", "1.5", "-1", "1e3", "0x1F", "1_000", "1:30",
            ".5", "a: b", "a #b", "x:", "[a]", "{a}", "'a'", "\"a\"", " a", "a ", "&x", "!x", "|",
            ">", "%x", "@x", "`x", "-", "- a", "#x", "?x", ":x", "a\tb",
        ] {
            assert!(
                scalar(s, false).starts_with('"'),
                "{s:?} -> {}",
                scalar(s, false)
            );
        }
        assert_eq!(scalar("a,b", true), "\"a,b\"");
        assert_eq!(scalar("a,b", false), "a,b");
        assert_eq!(quoted("a\"b\\c\nd\u{7}"), r#""a\"b\\c\nd\x07""#);
    }

    proptest::proptest! {
        /// Whatever the text, the unit parser reads back exactly the word
        /// written (one-line and block lists, plain, quoted and literal).
        #[test]
        fn words_read_back(s in "[ a-z0-9\t\n#:,\\[\\]{}?*&!|>'\"%@`\\\\$é\u{a0}\u{2028}=.-]{0,120}") {
            let draft = Draft {
                exec: vec!["x".into(), crate::import::shell::literal(&s)],
                description: Some(s.replace('\n', " ")).filter(|d| !d.trim().is_empty()),
                ..Draft::default()
            };
            let text = render(&draft);
            let unit = crate::import::verify(&text).map_err(|e| proptest::test_runner::TestCaseError::fail(format!("{e}\n{text}")))?;
            proptest::prop_assert_eq!(unit.exec.expand(&[]), Ok(vec!["x".to_string(), s.clone()]), "{}", text);
            proptest::prop_assert_eq!(unit.description, draft.description);
        }
    }

    #[test]
    fn scripts_are_literal_blocks() {
        let mut out = String::new();
        list(
            &mut out,
            "exec",
            &[
                "/bin/sh".into(),
                "-e".into(),
                "-c".into(),
                "a\n  b\n\nc\n".into(),
            ],
        );
        assert_eq!(
            out,
            "exec:\n  - /bin/sh\n  - -e\n  - -c\n  - |\n    a\n      b\n\n    c\n"
        );
        assert_eq!(
            literal_block("a\nb", "  ").as_deref(),
            Some("|-\n  a\n  b\n")
        );
        assert_eq!(
            literal_block("a\nb\n\n", "  ").as_deref(),
            Some("|+\n  a\n  b\n\n")
        );
        assert_eq!(literal_block(" a\nb\n", "  "), None);
        assert_eq!(literal_block("a\r\nb\n", "  "), None);
    }
}
