//! fnmatch(3)-style globs for event-expression values: `*`, `?`, `[abc]`, `[a-z]`,
//! `[!x]`, `[[:digit:]]`, backslash escapes. Pure and allocation-free; no regex crate.

/// Why a glob is malformed: the char index in the pattern and a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GlobError {
    /// 0-based char index of the offending character in the pattern.
    pub index: usize,
    pub message: String,
}

/// Checks that `pattern` is a well-formed glob, so that bad patterns are
/// reported when a unit loads rather than silently never matching.
pub fn validate(pattern: &str) -> Result<(), GlobError> {
    let mut chars = pattern.char_indices().enumerate().peekable();
    while let Some((ci, (bi, c))) = chars.next() {
        match c {
            // The guard consumes the escaped char; only a missing one is an error.
            '\\' if chars.next().is_none() => {
                return Err(GlobError {
                    index: ci,
                    message: "a backslash at the end of a value escapes nothing".into(),
                });
            }
            '[' => {
                let end = match bracket(pattern, bi + 1) {
                    Ok(end) => end,
                    Err(Bad::Unterminated) => {
                        return Err(GlobError {
                            index: ci,
                            message: format!("unterminated `[` in `{pattern}`"),
                        });
                    }
                    Err(Bad::Class(name)) => {
                        return Err(GlobError {
                            index: ci,
                            message: format!("unknown character class `[:{name}:]` in `{pattern}`"),
                        });
                    }
                };
                while chars.peek().is_some_and(|&(_, (b, _))| b < end) {
                    chars.next();
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// True when `pattern` contains an unescaped wildcard (`*`, `?`, `[`).
pub fn has_wildcards(pattern: &str) -> bool {
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                chars.next();
            }
            '*' | '?' | '[' => return true,
            _ => {}
        }
    }
    false
}

/// The literal text a wildcard-free pattern stands for (escapes removed), or
/// `None` when it has wildcards: for naming jobs in the dependency graph.
pub fn literal(pattern: &str) -> Option<String> {
    if has_wildcards(pattern) {
        return None;
    }
    let mut out = String::with_capacity(pattern.len());
    let mut chars = pattern.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    Some(out)
}

/// fnmatch(pattern, text, 0): `*` also matches `/`, a leading `.` is not special.
/// A malformed pattern (see `validate`) never panics; its stray `[` is literal.
pub fn matches(pattern: &str, text: &str) -> bool {
    // Iterative matcher with one backtrack point (the last `*`): O(p*t), no allocation.
    let (mut p, mut t) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if p < pattern.len() {
            let (step, single) = next_token(pattern, p);
            match single {
                Token::Star => {
                    star = Some((p + step, t));
                    p += step;
                    continue;
                }
                tok => {
                    if let Some(tc) = text[t..].chars().next()
                        && tok.accepts(pattern, tc)
                    {
                        p += step;
                        t += tc.len_utf8();
                        continue;
                    }
                }
            }
        } else if t == text.len() {
            return true;
        }
        // Mismatch: let the last star swallow one more char, or fail.
        match star {
            Some((sp, st)) if st < text.len() => {
                let skip = text[st..].chars().next().map_or(1, char::len_utf8);
                star = Some((sp, st + skip));
                p = sp;
                t = st + skip;
            }
            _ => return false,
        }
    }
}

/// One pattern element.
enum Token {
    Star,
    Any,
    Char(char),
    /// A bracket expression: byte range of its inside (after `[`, `!`/`^`), negated.
    Set {
        start: usize,
        end: usize,
        negated: bool,
    },
}

impl Token {
    fn accepts(&self, pattern: &str, c: char) -> bool {
        match *self {
            Token::Star | Token::Any => true,
            Token::Char(x) => x == c,
            Token::Set {
                start,
                end,
                negated,
            } => set_contains(&pattern[start..end], c) != negated,
        }
    }
}

/// Reads the element at byte `p`: its length in bytes and what it is.
fn next_token(pattern: &str, p: usize) -> (usize, Token) {
    let mut it = pattern[p..].chars();
    let c = it.next().unwrap_or('\0');
    match c {
        '*' => (1, Token::Star),
        '?' => (1, Token::Any),
        '\\' => match it.next() {
            Some(e) => (1 + e.len_utf8(), Token::Char(e)),
            None => (1, Token::Char('\\')),
        },
        '[' => match bracket(pattern, p + 1) {
            Ok(end) => {
                let negated = matches!(pattern[p + 1..].chars().next(), Some('!' | '^'));
                let start = p + 1 + usize::from(negated);
                (
                    end - p,
                    Token::Set {
                        start,
                        end: end - 1,
                        negated,
                    },
                )
            }
            Err(_) => (1, Token::Char('[')),
        },
        _ => (c.len_utf8(), Token::Char(c)),
    }
}

enum Bad<'a> {
    Unterminated,
    Class(&'a str),
}

/// Finds the end of a bracket expression whose inside starts at byte `from`:
/// the byte index just past its closing `]`.
fn bracket(pattern: &str, from: usize) -> Result<usize, Bad<'_>> {
    let bytes = pattern.as_bytes();
    let mut i = from;
    if matches!(bytes.get(i), Some(b'!' | b'^')) {
        i += 1;
    }
    // A `]` right after `[` or `[!` is a literal member.
    if bytes.get(i) == Some(&b']') {
        i += 1;
    }
    while i < bytes.len() {
        match bytes[i] {
            b']' => return Ok(i + 1),
            b'\\' => i += 2,
            b'[' if bytes.get(i + 1) == Some(&b':') => {
                let rest = &pattern[i + 2..];
                let Some(close) = rest.find(":]") else {
                    return Err(Bad::Unterminated);
                };
                let name = &rest[..close];
                if class(name).is_none() {
                    return Err(Bad::Class(name));
                }
                i += 2 + close + 2;
            }
            _ => i += 1,
        }
    }
    Err(Bad::Unterminated)
}

/// Whether `c` is a member of the bracket inside `set` (no `[`, `!`, `]`).
fn set_contains(set: &str, c: char) -> bool {
    let mut it = set.char_indices().peekable();
    while let Some((i, x)) = it.next() {
        let lo = match x {
            '[' if set[i + 1..].starts_with(':') => {
                let rest = &set[i + 2..];
                let close = rest.find(":]").unwrap_or(rest.len());
                if class(&rest[..close]).is_some_and(|f| f(c)) {
                    return true;
                }
                let skip_to = i + 2 + close + 2;
                while it.peek().is_some_and(|&(j, _)| j < skip_to) {
                    it.next();
                }
                continue;
            }
            '\\' => match it.next() {
                Some((_, e)) => e,
                None => '\\',
            },
            _ => x,
        };
        // A range `lo-hi`, unless the `-` is the last char of the set.
        let mut look = it.clone();
        if let Some((_, '-')) = look.next()
            && let Some((_, hi)) = look.next()
        {
            let hi = if hi == '\\' {
                look.next().map_or('\\', |(_, e)| e)
            } else {
                hi
            };
            it = look;
            if lo <= c && c <= hi {
                return true;
            }
            continue;
        }
        if lo == c {
            return true;
        }
    }
    false
}

/// The POSIX character classes `[:name:]`.
fn class(name: &str) -> Option<fn(char) -> bool> {
    Some(match name {
        "alnum" => |c: char| c.is_alphanumeric(),
        "alpha" => |c: char| c.is_alphabetic(),
        "blank" => |c: char| c == ' ' || c == '\t',
        "cntrl" => |c: char| c.is_control(),
        "digit" => |c: char| c.is_ascii_digit(),
        "graph" => |c: char| !c.is_control() && !c.is_whitespace(),
        "lower" => |c: char| c.is_lowercase(),
        "print" => |c: char| !c.is_control(),
        "punct" => |c: char| c.is_ascii_punctuation(),
        "space" => |c: char| c.is_whitespace(),
        "upper" => |c: char| c.is_uppercase(),
        "xdigit" => |c: char| c.is_ascii_hexdigit(),
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_and_wildcards() {
        assert!(matches("abc", "abc"));
        assert!(!matches("abc", "abd"));
        assert!(!matches("abc", "ab"));
        assert!(matches("*", ""));
        assert!(matches("*", "gitorious/unicorn"));
        assert!(matches("gitorious/*", "gitorious/unicorn"));
        assert!(!matches("gitorious/*", "other/unicorn"));
        assert!(matches("high*", "high"));
        assert!(matches("high*", "high-priority"));
        assert!(!matches("high*", "low"));
        assert!(matches("a?c", "abc"));
        assert!(!matches("a?c", "ac"));
        assert!(matches("*a*b*", "xxaxxbxx"));
        assert!(!matches("*a*b", "xxaxxbx"));
        assert!(matches("é?", "éü"));
    }

    #[test]
    fn brackets() {
        assert!(matches("[06]", "0"));
        assert!(matches("[06]", "6"));
        assert!(!matches("[06]", "2"));
        assert!(!matches("[06]", "06"));
        assert!(matches("[a-c]x", "bx"));
        assert!(!matches("[a-c]x", "dx"));
        assert!(matches("[!0]", "1"));
        assert!(!matches("[!0]", "0"));
        assert!(matches("[^0]", "1"));
        assert!(matches("[]a]", "]"));
        assert!(matches("[!]a]", "b"));
        assert!(!matches("[!]a]", "]"));
        assert!(matches("[a-]", "-"));
        assert!(matches("[[:digit:]]x", "7x"));
        assert!(!matches("[[:digit:]]x", "ax"));
        assert!(matches("[[:upper:]_]", "_"));
    }

    #[test]
    fn escapes() {
        assert!(matches(r"a\*", "a*"));
        assert!(!matches(r"a\*", "ab"));
        assert!(matches(r"\[06]", "[06]"));
        assert!(matches(r"[\]]", "]"));
    }

    #[test]
    fn validation() {
        assert_eq!(validate("[06]"), Ok(()));
        assert_eq!(validate(r"\["), Ok(()));
        let e = validate("ab[06").expect_err("unterminated");
        assert_eq!(e.index, 2);
        assert_eq!(e.message, "unterminated `[` in `ab[06`");
        let e = validate("x\\").expect_err("trailing backslash");
        assert_eq!(e.index, 1);
        let e = validate("[[:nope:]]").expect_err("bad class");
        assert_eq!(
            e.message,
            "unknown character class `[:nope:]` in `[[:nope:]]`"
        );
        // A malformed pattern still never panics when matched.
        assert!(matches("[06", "[06"));
    }

    #[test]
    fn literals() {
        assert_eq!(
            literal("gitorious/unicorn").as_deref(),
            Some("gitorious/unicorn")
        );
        assert_eq!(literal(r"a\*b").as_deref(), Some("a*b"));
        assert_eq!(literal("gitorious/*"), None);
        assert_eq!(literal("x[12]"), None);
    }
}
