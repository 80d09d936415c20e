//! POSIX-style word splitting for `exec` actions (quotes and backslashes, never a
//! shell), and the matching quoting for printing. No expansion of `$VAR` here.

/// Splits `text` into words: whitespace separates; `'...'` is literal; in
/// `"..."` a backslash escapes `"`, `\`, `$` and `` ` ``; elsewhere a backslash
/// escapes any char. Monit's form `exec "CMD ARGS"` (one double-quoted word
/// and nothing else) is split again. Errors carry a char offset into `text`.
pub fn split_words(text: &str) -> Result<Vec<String>, (usize, String)> {
    let (words, whole_dq) = split(text)?;
    if words.len() == 1 && whole_dq {
        let start = text.chars().take_while(|c| c.is_whitespace()).count();
        return split(&words[0])
            .map(|(w, _)| w)
            .map_err(|(_, m)| (start, m));
    }
    Ok(words)
}

/// The words, and whether the only word was exactly one double-quoted string.
fn split(text: &str) -> Result<(Vec<String>, bool), (usize, String)> {
    let chars: Vec<char> = text.chars().collect();
    let mut words = Vec::new();
    let mut whole_dq = false;
    let mut i = 0;
    while i < chars.len() {
        if chars[i].is_whitespace() {
            i += 1;
            continue;
        }
        let mut word = String::new();
        let mut segments = 0;
        let mut dq_only = true;
        while i < chars.len() && !chars[i].is_whitespace() {
            segments += 1;
            match chars[i] {
                '\'' => {
                    dq_only = false;
                    let close = chars[i + 1..].iter().position(|&c| c == '\'');
                    let close = close.ok_or((i, "unterminated ' quote".to_string()))?;
                    word.extend(&chars[i + 1..i + 1 + close]);
                    i += close + 2;
                }
                '"' => {
                    let open = i;
                    i += 1;
                    loop {
                        match chars.get(i) {
                            None => return Err((open, "unterminated \" quote".into())),
                            Some('"') => break,
                            Some('\\')
                                if matches!(chars.get(i + 1), Some('"' | '\\' | '$' | '`')) =>
                            {
                                word.push(chars[i + 1]);
                                i += 2;
                            }
                            Some(&c) => {
                                word.push(c);
                                i += 1;
                            }
                        }
                    }
                    i += 1;
                }
                '\\' => {
                    dq_only = false;
                    let Some(&c) = chars.get(i + 1) else {
                        return Err((i, "a backslash at the end escapes nothing".into()));
                    };
                    word.push(c);
                    i += 2;
                }
                c => {
                    dq_only = false;
                    word.push(c);
                    i += 1;
                }
            }
        }
        whole_dq = dq_only && segments == 1;
        words.push(word);
    }
    let single = words.len() == 1;
    Ok((words, whole_dq && single))
}

/// Writes `word` so that `split_words` reads it back as one word: bare when
/// it is plain, else in single quotes (a `'` written as `'\''`).
pub fn quote_word(word: &str) -> String {
    let plain = !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-./:,+=@%$^{}~".contains(c));
    if plain {
        return word.to_string();
    }
    format!("'{}'", word.replace('\'', r"'\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str) -> Vec<String> {
        split_words(text).expect("splits")
    }

    #[test]
    fn splits_like_posix() {
        assert_eq!(w("/bin/echo a  b"), ["/bin/echo", "a", "b"]);
        assert_eq!(
            w(r#"cmd 'a b' "c \"d\"" e\ f"#),
            ["cmd", "a b", "c \"d\"", "e f"]
        );
        assert_eq!(w(r#"cmd "a\nb""#), ["cmd", r"a\nb"]);
        assert_eq!(w("cmd ''"), ["cmd", ""]);
        assert_eq!(w("  "), Vec::<String>::new());
    }

    #[test]
    fn monit_form_is_split_again() {
        assert_eq!(
            w(r#""/usr/bin/alert.sh high 'two words'""#),
            ["/usr/bin/alert.sh", "high", "two words"]
        );
        // Single quotes keep one word.
        assert_eq!(w("'/opt/my dir/cmd'"), ["/opt/my dir/cmd"]);
        assert_eq!(w(r#""/bin/a" b"#), ["/bin/a", "b"]);
    }

    #[test]
    fn errors() {
        assert_eq!(split_words("a 'b"), Err((2, "unterminated ' quote".into())));
        assert_eq!(
            split_words("a \"b"),
            Err((2, "unterminated \" quote".into()))
        );
        assert_eq!(
            split_words("a b\\"),
            Err((3, "a backslash at the end escapes nothing".into()))
        );
        assert_eq!(
            split_words(" \"a 'b\""),
            Err((1, "unterminated ' quote".into()))
        );
    }

    #[test]
    fn quoting_round_trips() {
        for word in ["plain", "", "two words", "it's", "a\"b", "$HOME/x", "\\"] {
            let q = quote_word(word);
            assert_eq!(
                split_words(&format!("cmd {q}")).expect("splits"),
                ["cmd", word],
                "{q}"
            );
        }
        assert_eq!(quote_word("$HOME/x"), "$HOME/x");
        assert_eq!(quote_word("it's"), r"'it'\''s'");
    }
}
