//! Monit control files cut into tokens: words, quoted strings, operator symbols,
//! each with its line and whether it starts the line. Comments are dropped. Pure.

/// What a token is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A bare word: keywords, names, paths, numbers (`300MB` is one word).
    Word,
    /// A quoted string, quotes removed.
    Str,
    /// `{ } ( ) , % = == != <> < > <= >=`.
    Sym,
}

/// One token.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tok {
    pub kind: Kind,
    pub text: String,
    pub line: usize,
    /// The first token of its line: where a new statement may begin.
    pub first: bool,
}

impl Tok {
    /// True for a bare word equal to `w`, ignoring case (Monit's keywords are).
    pub fn is(&self, w: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(w)
    }

    /// The token as it would be written back (strings quoted), for notes.
    pub fn shown(&self) -> String {
        match self.kind {
            Kind::Str => format!("\"{}\"", self.text),
            _ => self.text.clone(),
        }
    }
}

/// Cuts `text` into tokens.
pub fn tokens(text: &str) -> Vec<Tok> {
    let mut out = Vec::new();
    let mut line = 1;
    let mut first = true;
    let mut chars = text.chars().peekable();
    let mut push = |kind, text: String, line, first: &mut bool| {
        out.push(Tok {
            kind,
            text,
            line,
            first: *first,
        });
        *first = false;
    };
    while let Some(c) = chars.next() {
        match c {
            '\n' => {
                line += 1;
                first = true;
            }
            c if c.is_whitespace() => {}
            '#' => {
                while chars.peek().is_some_and(|&c| c != '\n') {
                    chars.next();
                }
            }
            '"' | '\'' => {
                let quote = c;
                let start = line;
                let mut s = String::new();
                while let Some(ch) = chars.next() {
                    match ch {
                        '\\' if matches!(chars.peek(), Some(&n) if n == quote || n == '\\') => {
                            if let Some(n) = chars.next() {
                                s.push(n);
                            }
                        }
                        ch if ch == quote => break,
                        '\n' => {
                            line += 1;
                            s.push('\n');
                        }
                        other => s.push(other),
                    }
                }
                push(Kind::Str, s, start, &mut first);
            }
            '{' | '}' | '(' | ')' | ',' | '%' => push(Kind::Sym, c.to_string(), line, &mut first),
            '=' | '!' | '<' | '>' => {
                let mut s = c.to_string();
                if let Some(&n) = chars.peek()
                    && (n == '=' || (c == '<' && n == '>'))
                {
                    s.push(n);
                    chars.next();
                }
                push(Kind::Sym, s, line, &mut first);
            }
            c => {
                let mut s = c.to_string();
                while let Some(&n) = chars.peek() {
                    if n.is_whitespace() || "{}(),%=!<>\"'#".contains(n) {
                        break;
                    }
                    s.push(n);
                    chars.next();
                }
                push(Kind::Word, s, line, &mut first);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_monit_text() {
        let t = tokens(
            "set daemon 60 # every minute\ncheck process x with pidfile /run/x.pid\n  \
             start program = \"/etc/init.d/x start\"\n  if totalmem>=300MB then alert\n  if cpu > 90% then alert",
        );
        let texts: Vec<&str> = t.iter().map(|t| t.text.as_str()).collect();
        assert_eq!(
            texts,
            [
                "set",
                "daemon",
                "60",
                "check",
                "process",
                "x",
                "with",
                "pidfile",
                "/run/x.pid",
                "start",
                "program",
                "=",
                "/etc/init.d/x start",
                "if",
                "totalmem",
                ">=",
                "300MB",
                "then",
                "alert",
                "if",
                "cpu",
                ">",
                "90",
                "%",
                "then",
                "alert"
            ]
        );
        assert_eq!((t[3].line, t[3].first), (2, true));
        assert_eq!((t[4].line, t[4].first), (2, false));
        assert_eq!(t[12].kind, Kind::Str);
        assert!(t[0].is("SET"));
    }
}
