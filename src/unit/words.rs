//! Splits a one-string `exec` into argv words by POSIX shell quoting rules, with no shell.
//! It never expands, globs or interprets operators: `;`, `|`, `&&`, `$(x)` stay literal text.

/// Why a command string could not be split; `offset` is the 0-based character
/// offset of the problem in the string (e.g. the unterminated opening quote).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WordError {
    pub offset: usize,
    pub message: String,
}

/// Splits `text` into words: blanks separate words; `'...'` is literal;
/// `"..."` is literal except `\"`, `\\`, `\$`, `` \` `` and backslash-newline;
/// outside quotes a backslash makes the next character literal.
///
/// The words are expansion templates (see `expand`): a `$` that was quoted with
/// single quotes or a backslash comes out as `$$`, so that it stays a literal `$`
/// when the job's variables are expanded at spawn time.
pub fn split(text: &str) -> Result<Vec<String>, WordError> {
    Ok(words(text, "$$")?.into_iter().map(|w| w.text).collect())
}

/// One word of `split_plain`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// The word as a final argument: quotes removed, nothing expanded.
    pub text: String,
    /// Whether the word was written as exactly one double-quoted string (`"a b"`),
    /// which Monit-style `exec "CMD ARGS"` (the `rule` module) splits again.
    pub double_quoted: bool,
}

/// Splits `text` by the same rules as `split`, but the words are final
/// arguments, not templates: a quoted `$` stays one `$`. Why: check actions
/// (`rule`) run their `exec` words as they are, with no variables to expand.
pub fn split_plain(text: &str) -> Result<Vec<Word>, WordError> {
    words(text, "$")
}

/// The splitter behind `split` and `split_plain`; `quoted_dollar` is what a
/// quoted `$` becomes.
fn words(text: &str, quoted_dollar: &str) -> Result<Vec<Word>, WordError> {
    let mut words = Vec::new();
    let mut word = String::new();
    // A word exists once anything (even an empty quoted string) was seen.
    let mut in_word = false;
    // Quoted or unquoted pieces in the current word, and whether all were `"..."`.
    let mut pieces = 0;
    let mut all_dq = true;
    let mut chars = text.chars().enumerate().peekable();
    while let Some((i, c)) = chars.next() {
        if !matches!(c, ' ' | '\t' | '\n' | '\r') {
            pieces += 1;
            all_dq &= c == '"';
        }
        match c {
            ' ' | '\t' | '\n' | '\r' => {
                if in_word {
                    words.push(Word {
                        text: std::mem::take(&mut word),
                        double_quoted: all_dq && pieces == 1,
                    });
                    in_word = false;
                }
                pieces = 0;
                all_dq = true;
            }
            '\'' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some((_, '\'')) => break,
                        Some((_, '$')) => word.push_str(quoted_dollar),
                        Some((_, ch)) => word.push(ch),
                        None => return Err(unterminated(i, "single")),
                    }
                }
            }
            '"' => {
                in_word = true;
                loop {
                    match chars.next() {
                        Some((_, '"')) => break,
                        Some((_, '\\')) => match chars.peek().map(|&(_, ch)| ch) {
                            Some('\n') => {
                                chars.next();
                            }
                            Some('$') => {
                                chars.next();
                                word.push_str(quoted_dollar);
                            }
                            Some(ch @ ('"' | '\\' | '`')) => {
                                chars.next();
                                word.push(ch);
                            }
                            _ => word.push('\\'),
                        },
                        Some((_, ch)) => word.push(ch),
                        None => return Err(unterminated(i, "double")),
                    }
                }
            }
            '\\' => match chars.next() {
                // Backslash-newline is a line continuation: removed entirely.
                Some((_, '\n')) => {
                    if !in_word {
                        pieces = 0;
                        all_dq = true;
                    }
                }
                Some((_, '$')) => {
                    in_word = true;
                    word.push_str(quoted_dollar);
                }
                Some((_, ch)) => {
                    in_word = true;
                    word.push(ch);
                }
                None => {
                    in_word = true;
                    word.push('\\');
                }
            },
            _ => {
                in_word = true;
                word.push(c);
            }
        }
    }
    if in_word {
        words.push(Word {
            text: word,
            double_quoted: all_dq && pieces == 1,
        });
    }
    Ok(words)
}

fn unterminated(offset: usize, kind: &str) -> WordError {
    WordError {
        offset,
        message: format!(
            "unterminated {kind} quote (the command is split like a shell would, but never run by one)"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> Vec<String> {
        split(text).expect("splits")
    }

    #[test]
    fn blanks_separate_words() {
        assert_eq!(ok("  /bin/echo  a\tb\nc "), ["/bin/echo", "a", "b", "c"]);
        assert_eq!(ok(""), Vec::<String>::new());
        assert_eq!(ok("   "), Vec::<String>::new());
    }

    #[test]
    fn quotes() {
        assert_eq!(ok("echo 'a b' \"c d\""), ["echo", "a b", "c d"]);
        assert_eq!(ok("x'a'\"b\"c"), ["xabc"]);
        assert_eq!(ok("echo '' \"\""), ["echo", "", ""]);
        assert_eq!(ok("'it''s'"), ["its"]);
        assert_eq!(ok(r#""say \"hi\" \\ \x""#), [r#"say "hi" \ \x"#]);
        assert_eq!(ok(r"'a\b'"), [r"a\b"]);
    }

    #[test]
    fn backslashes() {
        assert_eq!(ok(r"a\ b c"), ["a b", "c"]);
        assert_eq!(ok(r"\'x\'"), ["'x'"]);
        assert_eq!(ok("a \\\nb"), ["a", "b"]);
        assert_eq!(ok("\"a\\\nb\""), ["ab"]);
        assert_eq!(ok(r"end\"), [r"end\"]);
    }

    #[test]
    fn operators_are_literal() {
        assert_eq!(
            ok("sh -c x; rm -rf / | cat && $(x) `y` > f"),
            [
                "sh", "-c", "x;", "rm", "-rf", "/", "|", "cat", "&&", "$(x)", "`y`", ">", "f"
            ]
        );
        assert_eq!(ok("a;b"), ["a;b"]);
        assert_eq!(ok("#x *.c ~"), ["#x", "*.c", "~"]);
    }

    #[test]
    fn dollars_keep_their_quoting() {
        assert_eq!(ok("echo $HOME \"$HOME\""), ["echo", "$HOME", "$HOME"]);
        assert_eq!(ok(r"'$HOME' \$HOME"), ["$$HOME", "$$HOME"]);
        assert_eq!(ok(r#""\$HOME""#), ["$$HOME"]);
    }

    #[test]
    fn unterminated_quotes_are_errors() {
        let e = split("echo 'abc").expect_err("unterminated");
        assert_eq!(e.offset, 5);
        assert!(e.message.contains("unterminated single quote"), "{e:?}");
        let e = split("a \"b\\\"").expect_err("unterminated");
        assert_eq!(e.offset, 2);
        assert!(e.message.contains("unterminated double quote"), "{e:?}");
        let e = split("é 'x").expect_err("unterminated");
        assert_eq!(e.offset, 2, "offset counts characters, not bytes");
    }

    #[test]
    fn plain_words_keep_dollars_and_mark_double_quoted_ones() {
        let plain = |text: &str| -> Vec<(String, bool)> {
            split_plain(text)
                .expect("splits")
                .into_iter()
                .map(|w| (w.text, w.double_quoted))
                .collect()
        };
        let word = |t: &str, dq: bool| (t.to_string(), dq);
        assert_eq!(
            plain(r#"'$a' \$b "$c" "x y" "p"q "r""s" \"t\""#),
            [
                word("$a", false),
                word("$b", false),
                word("$c", true),
                word("x y", true),
                word("pq", false),
                word("rs", false),
                word("\"t\"", false),
            ]
        );
        assert_eq!(plain("\\\n \"a b\""), [word("a b", true)]);
    }

    proptest::proptest! {
        #[test]
        fn single_quoting_round_trips(words in proptest::collection::vec("[^\\x00]{0,8}", 1..5)) {
            // Quote each word the way a shell user would: '...' with ' as '\''.
            let line: Vec<String> = words
                .iter()
                .map(|w| format!("'{}'", w.replace('\'', "'\\''")))
                .collect();
            let got = split(&line.join(" ")).expect("quoted words split");
            let want: Vec<String> = words.iter().map(|w| w.replace('$', "$$")).collect();
            proptest::prop_assert_eq!(got, want);
        }

        #[test]
        fn never_panics(text in "\\PC{0,40}") {
            let _ = split(&text);
            let _ = crate::unit::expand::check_template(&text);
        }
    }
}
