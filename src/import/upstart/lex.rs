//! Upstart job files cut into stanzas: logical lines (backslash continuations, `start on`
//! expressions open across lines), tokens with quotes removed, `script` blocks. Pure.

/// One token of a stanza line: its text with quotes and escapes removed, and
/// where it starts in the stanza's `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub start: usize,
}

/// One stanza: its first line, the logical line (continuations joined,
/// the comment cut), its tokens, and for `script` stanzas the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Stanza {
    pub line: usize,
    pub text: String,
    pub tokens: Vec<Token>,
    /// The lines between `script` and `end script`; `None` for other stanzas.
    pub body: Option<String>,
    /// A `script` whose `end script` never came.
    pub unterminated: bool,
}

impl Stanza {
    /// The token texts from `n` on.
    pub fn words(&self, n: usize) -> Vec<&str> {
        self.tokens
            .iter()
            .skip(n)
            .map(|t| t.text.as_str())
            .collect()
    }

    /// The text after the first `n` tokens, as written (quotes kept), trimmed.
    pub fn rest(&self, n: usize) -> &str {
        match self.tokens.get(n) {
            Some(t) => self.text[t.start..].trim(),
            None => "",
        }
    }

    /// Token `n`'s text, or `""`.
    pub fn word(&self, n: usize) -> &str {
        self.tokens.get(n).map_or("", |t| t.text.as_str())
    }
}

/// Cuts a job file into stanzas, blank and comment lines skipped.
pub fn stanzas(text: &str) -> Vec<Stanza> {
    let lines: Vec<&str> = text.split('\n').collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line = i + 1;
        let mut logical = logical_line(&lines, &mut i);
        let (mut tokens, mut end) = tokenize(&logical);
        if tokens.is_empty() {
            continue;
        }
        if is_on(&tokens) {
            // `start on (a\n and b)`: an open parenthesis carries the
            // expression on to the next lines, as Upstart reads it.
            while depth(&logical[..end]) > 0 && i < lines.len() {
                logical.truncate(logical[..end].trim_end().len());
                if !logical.ends_with('(') {
                    logical.push(' ');
                }
                logical.push_str(logical_line(&lines, &mut i).trim_start());
                (tokens, end) = tokenize(&logical);
            }
        }
        logical.truncate(end);
        let mut stanza = Stanza {
            line,
            text: logical,
            tokens,
            body: None,
            unterminated: false,
        };
        if opens_script(&stanza.tokens) {
            let mut body = String::new();
            let mut closed = false;
            while i < lines.len() {
                let l = lines[i];
                i += 1;
                let (t, _) = tokenize(l);
                if t.len() == 2 && t[0].text == "end" && t[1].text == "script" {
                    closed = true;
                    break;
                }
                body.push_str(l);
                body.push('\n');
            }
            stanza.body = Some(body);
            stanza.unterminated = !closed;
        }
        out.push(stanza);
    }
    out
}

/// The line at `*i` joined with the lines its trailing backslashes continue
/// it onto; `*i` moves past them.
fn logical_line(lines: &[&str], i: &mut usize) -> String {
    let mut s = lines[*i].trim_end_matches('\r').to_string();
    *i += 1;
    while continues(&s) && *i < lines.len() {
        s.pop();
        s.truncate(s.trim_end().len());
        s.push(' ');
        s.push_str(lines[*i].trim_end_matches('\r').trim_start());
        *i += 1;
    }
    s
}

/// An odd number of trailing backslashes: the line goes on.
fn continues(s: &str) -> bool {
    s.chars().rev().take_while(|&c| c == '\\').count() % 2 == 1
}

fn is_on(tokens: &[Token]) -> bool {
    tokens.len() >= 2
        && matches!(tokens[0].text.as_str(), "start" | "stop")
        && tokens[1].text == "on"
}

fn opens_script(tokens: &[Token]) -> bool {
    match tokens {
        [t] => t.text == "script",
        [hook, t] => {
            t.text == "script"
                && matches!(
                    hook.text.as_str(),
                    "pre-start" | "post-start" | "pre-stop" | "post-stop"
                )
        }
        _ => false,
    }
}

/// Open parentheses outside quotes.
fn depth(text: &str) -> i32 {
    let mut d = 0;
    let mut quote = None;
    for c in text.chars() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '"' | '\'') => quote = Some(c),
            (None, '(') => d += 1,
            (None, ')') => d -= 1,
            _ => {}
        }
    }
    d
}

/// Splits a line into tokens as Upstart's config reader does: blanks
/// separate, quotes group and are removed, a backslash makes the next
/// character literal, a `#` starting a token starts a comment. Returns the
/// tokens and the byte length of the line before the comment.
pub fn tokenize(line: &str) -> (Vec<Token>, usize) {
    let mut tokens = Vec::new();
    let mut cur: Option<Token> = None;
    let mut quote: Option<char> = None;
    let mut chars = line.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if let Some(q) = quote {
            match c {
                '\\' if q == '"' && matches!(chars.peek(), Some((_, '"' | '\\'))) => {
                    if let (Some(t), Some((_, n))) = (cur.as_mut(), chars.next()) {
                        t.text.push(n);
                    }
                }
                c if c == q => quote = None,
                c => {
                    if let Some(t) = cur.as_mut() {
                        t.text.push(c);
                    }
                }
            }
            continue;
        }
        if c.is_whitespace() {
            if let Some(t) = cur.take() {
                tokens.push(t);
            }
            continue;
        }
        if c == '#' && cur.is_none() {
            return (tokens, at);
        }
        let t = cur.get_or_insert_with(|| Token {
            text: String::new(),
            start: at,
        });
        match c {
            '"' | '\'' => quote = Some(c),
            '\\' => {
                if let Some((_, n)) = chars.next() {
                    t.text.push(n);
                }
            }
            c => t.text.push(c),
        }
    }
    if let Some(t) = cur.take() {
        tokens.push(t);
    }
    (tokens, line.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(line: &str) -> Vec<String> {
        tokenize(line).0.into_iter().map(|t| t.text).collect()
    }

    #[test]
    fn tokens() {
        assert_eq!(
            words(r#"description "Run a \"worker\"""#),
            ["description", "Run a \"worker\""]
        );
        assert_eq!(words("env FOO='a b'  # comment"), ["env", "FOO=a b"]);
        assert_eq!(words(r"env A=x\ y B=c#d"), ["env", "A=x y", "B=c#d"]);
        assert_eq!(tokenize("respawn # x").1, 8);
    }

    #[test]
    fn stanzas_and_lines() {
        let text = "# c\n\nstart on (local-filesystems\n   and net-device-up IFACE!=lo) # why\nexec /bin/foo \\\n  --bar\nscript\n  echo hi\n  end script\nrespawn\n";
        let s = stanzas(text);
        assert_eq!(s.len(), 4);
        assert_eq!(
            (s[0].line, s[0].rest(2)),
            (3, "(local-filesystems and net-device-up IFACE!=lo)")
        );
        assert_eq!((s[1].line, s[1].rest(1)), (5, "/bin/foo --bar"));
        assert_eq!((s[2].line, s[2].body.as_deref()), (7, Some("  echo hi\n")));
        assert!(!s[2].unterminated);
        assert_eq!((s[3].line, s[3].word(0)), (10, "respawn"));
    }

    #[test]
    fn unterminated_script() {
        let s = stanzas("pre-start script\n  echo\n");
        assert_eq!(s.len(), 1);
        assert!(s[0].unterminated);
        assert_eq!(s[0].word(0), "pre-start");
    }
}
