//! `$VAR` / `${VAR}` expansion of command words and path templates from a job's env.
//! Pure text substitution: it never re-splits words, runs commands or globs.

use super::model::Command;

/// Why a template is malformed; `offset` is the 0-based character offset of the `$`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    pub offset: usize,
    pub message: String,
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// True for a valid variable name (`[A-Za-z_][A-Za-z0-9_]*`); `env:` keys must be one.
pub fn is_var_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty() && is_name_start(b[0]) && b.iter().all(|&c| is_name_char(c))
}

/// What `walk` does with one variable reference: `(byte offset of its `$`,
/// name, default)`, writing its value to the output (or nothing).
type OnVar<'a> = dyn FnMut(usize, &str, Option<&str>, &mut String) -> Result<(), String> + 'a;

/// Walks `t`, copying literal text to `out` and handing each variable
/// reference to `on_var`. Errors carry the byte offset of the offending `$`.
fn walk(t: &str, out: &mut String, on_var: &mut OnVar) -> Result<(), (usize, String)> {
    let b = t.as_bytes();
    let mut i = 0;
    let mut lit = 0; // start of the pending literal run
    while i < b.len() {
        if b[i] != b'$' {
            i += 1;
            continue;
        }
        out.push_str(&t[lit..i]);
        let dollar = i;
        let (name, default, next) = match b.get(i + 1) {
            Some(b'$') => {
                out.push('$');
                i += 2;
                lit = i;
                continue;
            }
            Some(b'{') => {
                let close = t[i + 2..]
                    .find('}')
                    .map(|c| c + i + 2)
                    .ok_or_else(|| (dollar, "unterminated `${` (missing `}`)".to_owned()))?;
                let inner = &t[i + 2..close];
                let (name, default) = match inner.split_once(":-") {
                    Some((n, d)) => (n, Some(d)),
                    None => (inner, None),
                };
                if !is_var_name(name) {
                    return Err((
                        dollar,
                        format!(
                            "bad variable name `{name}` in `${{{inner}}}`: expected letters, digits and `_`, not starting with a digit"
                        ),
                    ));
                }
                (name, default, close + 1)
            }
            Some(&c) if is_name_start(c) => {
                let mut end = i + 2;
                while end < b.len() && is_name_char(b[end]) {
                    end += 1;
                }
                (&t[i + 1..end], None, end)
            }
            // `$` before anything else (`$(`, `$1`, end of text) is a literal `$`.
            _ => {
                lit = i;
                i += 1;
                continue;
            }
        };
        on_var(dollar, name, default, out).map_err(|m| (dollar, m))?;
        i = next;
        lit = i;
    }
    out.push_str(&t[lit..]);
    Ok(())
}

/// Checks the `$` syntax of a template without expanding it, so that a unit
/// file with `${FOO` fails at load time rather than at spawn time.
pub fn check_template(template: &str) -> Result<(), TemplateError> {
    let mut sink = String::new();
    walk(template, &mut sink, &mut |_, _, _, _| Ok(())).map_err(|(byte, message)| TemplateError {
        offset: template[..byte].chars().count(),
        message,
    })
}

/// One `$NAME`, `${NAME}` or `${NAME:-text}` in a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VarRef {
    /// 0-based character offset of the `$`.
    pub offset: usize,
    pub name: String,
    /// Written with `:-`, so never undefined.
    pub has_default: bool,
}

/// Every variable a well-formed template refers to, in order (`$$` and a
/// literal `$` are none). Why: `gsup check` tells which of them a job could
/// lack at start; empty for a malformed template (`check_template` reports it).
pub fn var_refs(template: &str) -> Vec<VarRef> {
    let mut refs = Vec::new();
    let mut sink = String::new();
    let mut on_var = |byte: usize, name: &str, default: Option<&str>, _: &mut String| {
        refs.push(VarRef {
            offset: template[..byte].chars().count(),
            name: name.to_owned(),
            has_default: default.is_some(),
        });
        Ok(())
    };
    match walk(template, &mut sink, &mut on_var) {
        Ok(()) => refs,
        Err(_) => Vec::new(),
    }
}

/// Expands `$NAME`, `${NAME}` and `${NAME:-default}` in one string from `env`
/// (the last binding of a name wins); `$$` is a literal `$`. An undefined
/// variable without a default is an error naming it. Why: `pidfile`, `instance`
/// and each command word are templates over the job's environment.
pub fn expand_str(template: &str, env: &[(String, String)]) -> Result<String, String> {
    let mut out = String::with_capacity(template.len());
    let mut lookup = |_: usize, name: &str, default: Option<&str>, out: &mut String| {
        match env.iter().rev().find(|(k, _)| k == name) {
            Some((_, v)) => out.push_str(v),
            None => match default {
                Some(d) => out.push_str(d),
                None => {
                    return Err(format!(
                        "undefined variable `{name}` (use `${{{name}:-}}` for an optional one, `$$` for a literal `$`)"
                    ));
                }
            },
        }
        Ok(())
    };
    walk(template, &mut out, &mut lookup).map_err(|(_, m)| m)?;
    Ok(out)
}

impl Command {
    /// The argv to exec: each word expanded by `expand_str`, never re-split
    /// (a value with spaces stays one argument, an empty value an empty one).
    pub fn expand(&self, env: &[(String, String)]) -> Result<Vec<String>, String> {
        self.words.iter().map(|w| expand_str(w, env)).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env() -> Vec<(String, String)> {
        [("A", "x"), ("A_B", "y z"), ("E", ""), ("A", "last")]
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn expands_names() {
        let e = env();
        assert_eq!(expand_str("${A}b", &e), Ok("lastb".into()));
        assert_eq!(expand_str("$A_B", &e), Ok("y z".into()));
        assert_eq!(expand_str("$A-$E.", &e), Ok("last-.".into()));
        assert_eq!(expand_str("pre/${A_B}/post", &e), Ok("pre/y z/post".into()));
        assert_eq!(expand_str("é$A", &e), Ok("élast".into()));
    }

    #[test]
    fn literal_dollars() {
        let e = env();
        assert_eq!(expand_str("$$A", &e), Ok("$A".into()));
        assert_eq!(
            expand_str("$(x) $1 $ end$", &e),
            Ok("$(x) $1 $ end$".into())
        );
        assert_eq!(expand_str("cost: $$5", &e), Ok("cost: $5".into()));
    }

    #[test]
    fn undefined_is_an_error_unless_defaulted() {
        let e = env();
        let err = expand_str("--queue=$QUEUE", &e).expect_err("undefined");
        assert!(err.starts_with("undefined variable `QUEUE`"), "{err}");
        assert_eq!(expand_str("${QUEUE:-*}", &e), Ok("*".into()));
        assert_eq!(expand_str("${QUEUE:-}", &e), Ok("".into()));
        assert_eq!(expand_str("${A:-d}", &e), Ok("last".into()));
    }

    #[test]
    fn bad_syntax() {
        let err = check_template("ab${FOO").expect_err("unterminated");
        assert_eq!(err.offset, 2);
        assert!(err.message.contains("unterminated"), "{err:?}");
        let err = check_template("é${1X}").expect_err("bad name");
        assert_eq!(err.offset, 1);
        assert!(err.message.contains("bad variable name `1X`"), "{err:?}");
        assert!(check_template("${}").is_err());
        assert_eq!(check_template("$A ${B:-c} $$ $("), Ok(()));
    }

    #[test]
    fn command_words_are_never_resplit() {
        let c = Command {
            words: vec![
                "/bin/echo".into(),
                "$A_B".into(),
                "$E".into(),
                "${A}".into(),
            ],
        };
        assert_eq!(
            c.expand(&env()),
            Ok(vec![
                "/bin/echo".into(),
                "y z".into(),
                "".into(),
                "last".into()
            ])
        );
        let c = Command {
            words: vec!["x".into(), "$NOPE".into()],
        };
        assert!(c.expand(&env()).is_err());
    }

    #[test]
    fn references_in_order() {
        let r = var_refs("é$A ${B:-x} $$C $(d) ${E}");
        let got: Vec<(usize, &str, bool)> = r
            .iter()
            .map(|v| (v.offset, v.name.as_str(), v.has_default))
            .collect();
        assert_eq!(got, [(1, "A", false), (4, "B", true), (21, "E", false)]);
        assert!(var_refs("${oops").is_empty());
    }

    #[test]
    fn var_names() {
        assert!(is_var_name("A_1"));
        assert!(is_var_name("_x"));
        assert!(!is_var_name("1A"));
        assert!(!is_var_name(""));
        assert!(!is_var_name("A-B"));
    }
}
