//! `exec` action words: Monit's re-split of `exec "CMD ARGS"` on top of the unit
//! splitter (`unit::words`), and the matching quoting for printing. No splitting rules of its own.

use crate::unit::words::split_plain;

/// Splits an `exec` action's text into argv words with `unit::words::split_plain`
/// (POSIX quoting, no shell, nothing expanded). Monit's form `exec "CMD ARGS"`
/// (one double-quoted word and nothing else) is split again. Errors carry a
/// char offset into `text` (for the inner split, the opening quote's).
pub fn split_words(text: &str) -> Result<Vec<String>, (usize, String)> {
    let words = split_plain(text).map_err(|e| (e.offset, e.message))?;
    if let [only] = words.as_slice()
        && only.double_quoted
    {
        let start = text
            .chars()
            .take_while(|c| matches!(c, ' ' | '\t' | '\n' | '\r'))
            .count();
        let inner = split_plain(&only.text).map_err(|e| (start, e.message))?;
        return Ok(inner.into_iter().map(|w| w.text).collect());
    }
    Ok(words.into_iter().map(|w| w.text).collect())
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
    fn nothing_is_expanded() {
        assert_eq!(
            w(r#"echo $HOME '$HOME' "\$x" \$y $$"#),
            ["echo", "$HOME", "$HOME", "$x", "$y", "$$"]
        );
        // A trailing backslash is kept, as `unit::words::split` keeps it.
        assert_eq!(w("a b\\"), ["a", "b\\"]);
    }

    #[test]
    fn only_one_whole_double_quoted_word_is_split_again() {
        assert_eq!(w(r#""a b""c d""#), ["a bc d"]);
        assert_eq!(w(r#""a b"x"#), ["a bx"]);
        assert_eq!(w(r#"  "a  b"  "#), ["a", "b"]);
        assert_eq!(w(r#""""#), Vec::<String>::new());
    }

    #[test]
    fn errors() {
        let unterminated = |kind: &str| {
            format!(
                "unterminated {kind} quote (the command is split like a shell would, but never run by one)"
            )
        };
        assert_eq!(split_words("a 'b"), Err((2, unterminated("single"))));
        assert_eq!(split_words("a \"b"), Err((2, unterminated("double"))));
        assert_eq!(split_words(" \"a 'b\""), Err((1, unterminated("single"))));
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
