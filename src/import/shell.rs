//! Commands of the old files as gsup command words: Upstart's `exec` and `script`, Monit's
//! programs, with every `$` the shell must see written so that gsup leaves it alone. Pure.

use crate::unit::words::split_plain;

/// The shell Upstart runs scripts and shell-needing commands with.
pub const SH: &str = "/bin/sh";

/// Characters for which Upstart hands an `exec` line to `/bin/sh -e -c`
/// (its `SHELL_CHARS`, less the quotes and the backslash, whose effect gsup's
/// own word splitting reproduces, and `=`, checked on the first word only).
const SHELL_CHARS: &str = "~`!$^&*()|{}[];<>?";

/// `text` as a gsup template that expands to `text` itself: a `$` that gsup
/// would read as a variable (`$NAME`, `${...}`, `$$`) is written `$$`; any
/// other `$` (`$1`, `$(`, `$?`, a final `$`) already stays literal.
pub fn literal(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        out.push(c);
        if c == '$'
            && chars
                .peek()
                .is_some_and(|&n| n == '$' || n == '{' || n == '_' || n.is_ascii_alphabetic())
        {
            out.push('$');
        }
    }
    out
}

/// Upstart's `exec CMD` as gsup words: split into words when Upstart would
/// have run it without a shell (or when quotes are all it needs a shell
/// for), else `/bin/sh -e -c "exec CMD"` exactly as Upstart runs it, so that
/// variables, redirections and globs keep their meaning. `None` for an
/// unterminated quote.
pub fn upstart_exec(cmd: &str) -> Option<Vec<String>> {
    let first_word_assigns = cmd
        .split_whitespace()
        .next()
        .is_some_and(|w| w.contains('='));
    if cmd.contains(|c| SHELL_CHARS.contains(c)) || first_word_assigns {
        return Some(sh_c(&format!("exec {cmd}")));
    }
    let words = split_plain(cmd).ok()?;
    Some(words.into_iter().map(|w| literal(&w.text)).collect())
}

/// A `script ... end script` body as `/bin/sh -e -c SCRIPT`, Upstart's way
/// of running it; common indentation removed when that cannot change the
/// script (no here-document, no quote left open at a line's end).
pub fn script(body: &str) -> Vec<String> {
    sh_c(&tidy_script(body))
}

fn sh_c(script: &str) -> Vec<String> {
    vec![SH.into(), "-e".into(), "-c".into(), literal(script)]
}

/// Blank lines at either end dropped, common indentation removed when safe,
/// one final newline.
fn tidy_script(body: &str) -> String {
    let lines: Vec<&str> = body.lines().collect();
    let first = lines.iter().position(|l| !l.trim().is_empty());
    let last = lines.iter().rposition(|l| !l.trim().is_empty());
    let (Some(first), Some(last)) = (first, last) else {
        return String::from(":\n");
    };
    let lines = &lines[first..=last];
    let safe = !body.contains("<<") && lines.iter().all(|l| quotes_balanced(l));
    let indent = if safe { common_indent(lines) } else { "" };
    let mut out = String::new();
    for l in lines {
        if l.trim().is_empty() {
            out.push_str(if safe { "" } else { l });
        } else {
            out.push_str(l.strip_prefix(indent).unwrap_or(l));
        }
        out.push('\n');
    }
    out
}

/// A naive test that no quoted string runs on to the next line: an even
/// number of unescaped `"` and of `'`. When in doubt the script is left as it is.
fn quotes_balanced(line: &str) -> bool {
    let (mut dq, mut sq, mut escaped) = (0, 0, false);
    for c in line.chars() {
        match c {
            _ if escaped => escaped = false,
            '\\' => escaped = true,
            '"' => dq += 1,
            '\'' => sq += 1,
            _ => {}
        }
    }
    dq % 2 == 0 && sq % 2 == 0 && !escaped
}

fn common_indent<'a>(lines: &[&'a str]) -> &'a str {
    let mut common: Option<&str> = None;
    for l in lines.iter().filter(|l| !l.trim().is_empty()) {
        let ws = &l[..l.len() - l.trim_start().len()];
        common = Some(match common {
            None => ws,
            Some(c) => {
                let n = c
                    .bytes()
                    .zip(ws.bytes())
                    .take_while(|(a, b)| a == b)
                    .count();
                &c[..n]
            }
        });
    }
    common.unwrap_or("")
}

/// Upstart's job variables renamed to gsup's (`$UPSTART_JOB` is `$GSUP_JOB`,
/// `$UPSTART_INSTANCE` is `$GSUP_INSTANCE`); returns the text and the other
/// `UPSTART_*` names it uses, which gsup does not set.
pub fn rename_upstart_vars(text: &str) -> (String, Vec<String>) {
    let mut out = String::with_capacity(text.len());
    let mut unknown = Vec::new();
    let mut rest = text;
    while let Some(at) = rest.find("UPSTART_") {
        let before = &rest[..at];
        let is_var = before.ends_with('$') || before.ends_with("${");
        let name_len = rest[at..]
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len() - at);
        let name = &rest[at..at + name_len];
        out.push_str(before);
        match (is_var, name) {
            (true, "UPSTART_JOB") => out.push_str("GSUP_JOB"),
            (true, "UPSTART_INSTANCE") => out.push_str("GSUP_INSTANCE"),
            (true, other) => {
                if !unknown.iter().any(|u| u == other) {
                    unknown.push(other.to_string());
                }
                out.push_str(other);
            }
            (false, other) => out.push_str(other),
        }
        rest = &rest[at + name_len..];
    }
    out.push_str(rest);
    (out, unknown)
}

/// Upstart's own commands (`start`, `stop`, `status`, `initctl`, ...) that
/// a script or command runs, as far as a quick look can tell (the first word
/// of each command); gsup has other commands, so these would fail.
pub fn upstart_commands(script: &str) -> Vec<&'static str> {
    const COMMANDS: &[&str] = &["initctl", "start", "stop", "restart", "reload", "status"];
    let mut found = Vec::new();
    for segment in script.split([';', '{', '}', '(', ')', '`', '|', '&', '\n']) {
        let first = segment
            .split_whitespace()
            .find(|w| !matches!(*w, "then" | "do" | "else" | "!" | "exec" | "$"));
        if let Some(cmd) = first.and_then(|w| COMMANDS.iter().find(|c| **c == w))
            && !found.contains(cmd)
        {
            found.push(*cmd);
        }
    }
    found
}

/// A Monit program string (`"/etc/init.d/x start"`, run by Monit without a
/// shell) as gsup command words. `Err` with the splitter's message.
pub fn program(text: &str) -> Result<Vec<String>, String> {
    let words = split_plain(text).map_err(|e| e.message)?;
    if words.first().is_none_or(|w| w.text.is_empty()) {
        return Err("empty program".into());
    }
    Ok(words.into_iter().map(|w| literal(&w.text)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::unit::expand_str;
    use proptest::prelude::*;

    fn v(words: &[&str]) -> Vec<String> {
        words.iter().map(|w| w.to_string()).collect()
    }

    #[test]
    fn literal_dollars() {
        assert_eq!(
            literal("$TTY ${A} $$ $1 $( $? end$"),
            "$$TTY $${A} $$$ $1 $( $? end$"
        );
        assert_eq!(expand_str(&literal("$$x"), &[]), Ok("$$x".to_string()));
    }

    proptest! {
        #[test]
        fn literal_expands_to_itself(s in "[$a-zA-Z_{}0-9( é]{0,24}") {
            prop_assert_eq!(expand_str(&literal(&s), &[]), Ok(s));
        }
    }

    #[test]
    fn exec_without_shell_is_split() {
        assert_eq!(
            upstart_exec("/usr/sbin/sshd -D"),
            Some(v(&["/usr/sbin/sshd", "-D"]))
        );
        assert_eq!(
            upstart_exec("/sbin/getty -8 38400 tty1"),
            Some(v(&["/sbin/getty", "-8", "38400", "tty1"]))
        );
        assert_eq!(
            upstart_exec("foo --name \"a b\" --x='c d' --opt=1"),
            Some(v(&["foo", "--name", "a b", "--x=c d", "--opt=1"]))
        );
        assert_eq!(upstart_exec("foo 'a"), None);
    }

    #[test]
    fn exec_with_shell_chars_runs_sh() {
        assert_eq!(
            upstart_exec("/sbin/getty -8 38400 $TTY"),
            Some(v(&[
                "/bin/sh",
                "-e",
                "-c",
                "exec /sbin/getty -8 38400 $$TTY"
            ]))
        );
        assert_eq!(
            upstart_exec("rsyslogd -c5 > /dev/null"),
            Some(v(&["/bin/sh", "-e", "-c", "exec rsyslogd -c5 > /dev/null"]))
        );
        assert_eq!(
            upstart_exec("LANG=C foo"),
            Some(v(&["/bin/sh", "-e", "-c", "exec LANG=C foo"]))
        );
    }

    #[test]
    fn scripts_lose_common_indent_when_safe() {
        let s = script("\n    if [ -f /x ]; then\n        . /x\n    fi\n\n    exec foo $OPTS\n  ");
        assert_eq!(
            s[3],
            "if [ -f /x ]; then\n    . /x\nfi\n\nexec foo $$OPTS\n"
        );
        let here = script("  cat <<EOF\n  a\n  EOF\n");
        assert_eq!(here[3], "  cat <<EOF\n  a\n  EOF\n");
        let open = script("  echo \"a\n  b\"\n");
        assert_eq!(open[3], "  echo \"a\n  b\"\n");
        assert_eq!(script("\n  \n")[3], ":\n");
    }

    #[test]
    fn upstart_variables() {
        let (t, unknown) = rename_upstart_vars(
            "echo $UPSTART_JOB ${UPSTART_INSTANCE} $UPSTART_EVENTS UPSTART_JOB",
        );
        assert_eq!(
            t,
            "echo $GSUP_JOB ${GSUP_INSTANCE} $UPSTART_EVENTS UPSTART_JOB"
        );
        assert_eq!(unknown, v(&["UPSTART_EVENTS"]));
    }

    #[test]
    fn upstart_commands_in_scripts() {
        let s = "test -x /x || { stop; exit 0; }\nstatusnow=`status`\nif x; then initctl emit y; fi\necho start";
        assert_eq!(upstart_commands(s), ["stop", "status", "initctl"]);
        assert!(upstart_commands("exec /usr/sbin/sshd -D").is_empty());
    }

    #[test]
    fn monit_programs() {
        assert_eq!(
            program("/bin/sh -c 'echo $$ > /run/x.pid; exec foo'"),
            Ok(v(&["/bin/sh", "-c", "echo $$$ > /run/x.pid; exec foo"]))
        );
        assert!(program("").is_err());
        assert!(program("a 'b").is_err());
    }
}
