//! The raw YAML tree of a unit file: every node with its line, column and source span.
//! Only YAML syntax and resource limits are checked here; field meaning lives in `fields`.

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_saphyr::{MessageFormatter, Spanned};
use std::fmt;

/// A position in the unit file: 1-based line and column (in characters), and the
/// byte range of the node's text when the parser knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
    /// Byte offset and length of the node's source text.
    pub bytes: Option<(usize, usize)>,
}

/// One YAML node with where it was written.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub pos: Pos,
    pub value: Value,
}

/// The shape of a node as YAML typed it.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i128),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(Node, Node)>),
}

impl Value {
    /// A short name of this YAML type, for "expected X, found Y" messages.
    pub fn kind(&self) -> &'static str {
        match self {
            Value::Null => "nothing (null)",
            Value::Bool(_) => "a boolean",
            Value::Int(_) => "an integer",
            Value::Float(_) => "a number",
            Value::Str(_) => "a string",
            Value::Seq(_) => "a list",
            Value::Map(_) => "a map",
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Node, D::Error> {
        let s = Spanned::<Value>::deserialize(d)?;
        let loc = s.referenced;
        let span = loc.span();
        let bytes = match (span.byte_offset(), span.byte_len()) {
            (Some(o), Some(l)) => Some((o as usize, l as usize)),
            _ => None,
        };
        Ok(Node {
            pos: Pos {
                line: loc.line() as usize,
                col: loc.column() as usize,
                bytes,
            },
            value: s.value,
        })
    }
}

impl<'de> Deserialize<'de> for Value {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Value, D::Error> {
        d.deserialize_any(ValueVisitor)
    }
}

struct ValueVisitor;

impl<'de> Visitor<'de> for ValueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        Value::deserialize(d)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Int(v.into()))
    }
    fn visit_i128<E: de::Error>(self, v: i128) -> Result<Value, E> {
        Ok(Value::Int(v))
    }
    fn visit_u128<E: de::Error>(self, v: u128) -> Result<Value, E> {
        Ok(Value::Int(i128::try_from(v).unwrap_or(i128::MAX)))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Ok(Value::Float(v))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        Ok(Value::Str(v.to_owned()))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        Ok(Value::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(n) = seq.next_element::<Node>()? {
            items.push(n);
        }
        Ok(Value::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut entries = Vec::new();
        while let Some(k) = map.next_key::<Node>()? {
            let v = map.next_value::<Node>()?;
            entries.push((k, v));
        }
        Ok(Value::Map(entries))
    }
}

/// Parses YAML text into a node tree, with limits that make alias bombs
/// ("billion laughs"), deep nesting and huge documents fail fast with an error.
/// The error is `(line, col, message)`.
pub fn load(text: &str) -> Result<Node, (usize, usize, String)> {
    let options = serde_saphyr::options! {
        budget: serde_saphyr::budget! {
            max_events: 200_000,
            max_aliases: 1_000,
            max_anchors: 1_000,
            max_depth: 32,
            max_documents: 1,
            max_nodes: 100_000,
            max_total_scalar_bytes: 4 * 1024 * 1024,
            max_recorded_anchor_events: 50_000,
            max_recorded_anchor_bytes: 1024 * 1024,
        },
        alias_limits: serde_saphyr::alias_limits! {
            max_total_replayed_events: 10_000,
            max_replay_stack_depth: 16,
            max_alias_expansions_per_anchor: 1_000,
        },
        // Comments are never read; not collecting them is ~10% faster.
        emit_comments: false,
        with_snippet: false,
        leading_zero_numbers_as_strings: true,
        underscored_numbers_as_strings: true,
        reject_unsupported_tags: true,
    };
    serde_saphyr::from_str_with_options::<Node>(text, options).map_err(|e| {
        let e = e.without_snippet();
        let (line, col) = e
            .location()
            .map(|l| (l.line() as usize, l.column() as usize))
            .unwrap_or((1, 1));
        let message = match e {
            serde_saphyr::Error::Budget { breach, .. } => budget_message(breach),
            _ => {
                let m = serde_saphyr::UserMessageFormatter.format_message(e);
                format!("YAML syntax: {}", m.escape_debug())
            }
        };
        let (line, col) = tab_position(text, line, &message).unwrap_or((line, col));
        (line.max(1), col.max(1), message)
    })
}

/// A budget breach in words a unit-file author understands.
fn budget_message(breach: &serde_saphyr::budget::BudgetBreach) -> String {
    use serde_saphyr::budget::BudgetBreach as B;
    let what = match breach {
        B::Documents { .. } => {
            return "a unit file holds one YAML document; found a second one (`---`)".to_owned();
        }
        B::Depth { .. } => "nested deeper than 32 levels".to_owned(),
        B::Aliases { .. } | B::Anchors { .. } | B::AliasAnchorRatio { .. } => {
            "too many anchors or aliases (limit 1000)".to_owned()
        }
        B::Events { .. } | B::Nodes { .. } => "too many YAML nodes".to_owned(),
        B::ScalarBytes { .. } => "too much text".to_owned(),
        other => format!("{other:?}"),
    };
    format!("YAML document too large or too complex: {what}")
}

/// For "found a tab" errors, the position of the first tab on or after the
/// reported line, which is where the user must look.
fn tab_position(text: &str, line: usize, message: &str) -> Option<(usize, usize)> {
    if !message.contains("tab") {
        return None;
    }
    for (n, l) in text.lines().enumerate().skip(line.saturating_sub(1)) {
        if let Some(c) = l.chars().position(|c| c == '\t') {
            return Some((n + 1, c + 1));
        }
    }
    None
}

/// The source text of a unit file, to recover a scalar's spelling and to map
/// an offset inside a scalar's value back to a line and column.
pub struct Source<'a> {
    pub text: &'a str,
}

impl Source<'_> {
    /// The node's text as written (`0755`, `yes`, `1.50`), for scalars; `None`
    /// for null, lists and maps.
    pub fn scalar_text(&self, node: &Node) -> Option<String> {
        match &node.value {
            Value::Str(s) => Some(s.clone()),
            Value::Bool(_) | Value::Int(_) | Value::Float(_) => {
                Some(self.raw(node).map(|r| r.trim().to_owned()).unwrap_or_else(
                    || match &node.value {
                        Value::Bool(b) => b.to_string(),
                        Value::Int(i) => i.to_string(),
                        Value::Float(f) => f.to_string(),
                        _ => String::new(),
                    },
                ))
            }
            Value::Null | Value::Seq(_) | Value::Map(_) => None,
        }
    }

    fn raw(&self, node: &Node) -> Option<&str> {
        let (o, l) = node.pos.bytes?;
        self.text.get(o..o.checked_add(l)?)
    }

    /// The line and column of the `offset`-th character of `value`, the parsed
    /// string of scalar `node`: quotes, escapes and line folding are walked over
    /// by matching the value's characters against the source text.
    pub fn pos_in(&self, node: &Node, value: &str, offset: usize) -> (usize, usize) {
        let (mut line, mut col) = (node.pos.line, node.pos.col);
        let Some(raw) = self.raw(node) else {
            return (line, col);
        };
        let mut src = raw.chars().peekable();
        // Skip a block scalar's header line (`|`, `>-`, ...).
        if matches!(raw.chars().next(), Some('|' | '>')) {
            for c in src.by_ref() {
                if c == '\n' {
                    line += 1;
                    col = 1;
                    break;
                }
                col += 1;
            }
        }
        let double = raw.starts_with('"');
        let mut quoted = matches!(raw.chars().next(), Some('"' | '\''));
        for (i, want) in value.chars().enumerate() {
            // Advance the source to the next character that produced `want`.
            loop {
                let Some(&c) = src.peek() else {
                    return (line, col);
                };
                if double && c == '\\' && !quoted {
                    // An escape sequence: one value character (or none for
                    // an escaped line break), several source characters.
                    if i == offset {
                        return (line, col);
                    }
                    src.next();
                    let e = src.next();
                    let extra = match e {
                        Some('x') => 2,
                        Some('u') => 4,
                        Some('U') => 8,
                        _ => 0,
                    };
                    for _ in 0..extra {
                        src.next();
                    }
                    if e == Some('\n') {
                        line += 1;
                        col = 1;
                        continue;
                    }
                    col += 2 + extra;
                    break;
                }
                if c == want && !quoted {
                    if i == offset {
                        return (line, col);
                    }
                    src.next();
                    if c == '\n' {
                        line += 1;
                        col = 1;
                    } else {
                        col += 1;
                    }
                    break;
                }
                quoted = false;
                src.next();
                if c == '\n' {
                    line += 1;
                    col = 1;
                } else {
                    col += 1;
                }
            }
        }
        (line, col)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn value_of(text: &str) -> Node {
        match load(text).expect("valid yaml").value {
            Value::Map(mut m) => m.remove(0).1,
            other => panic!("not a map: {other:?}"),
        }
    }

    #[test]
    fn scalar_text_keeps_spelling() {
        let text = "a: 0755\n";
        let src = Source { text };
        assert_eq!(src.scalar_text(&value_of(text)).as_deref(), Some("0755"));
        let text = "a: yes\n";
        assert_eq!(
            Source { text }.scalar_text(&value_of(text)).as_deref(),
            Some("yes")
        );
        let text = "a: 1.50\n";
        assert_eq!(
            Source { text }.scalar_text(&value_of(text)).as_deref(),
            Some("1.50")
        );
    }

    #[test]
    fn offsets_map_into_plain_quoted_and_folded_scalars() {
        let text = "k: abc def\n";
        assert_eq!(
            Source { text }.pos_in(&value_of(text), "abc def", 4),
            (1, 8)
        );
        let text = "k: \"a\\tb c\"\n";
        assert_eq!(
            Source { text }.pos_in(&value_of(text), "a\tb c", 4),
            (1, 10)
        );
        let text = "k: 'it''s x'\n";
        assert_eq!(
            Source { text }.pos_in(&value_of(text), "it's x", 5),
            (1, 11)
        );
        let text = "k: one\n  two three\n";
        assert_eq!(
            Source { text }.pos_in(&value_of(text), "one two three", 8),
            (2, 7)
        );
        let text = "k: |\n  one\n  two $x\n";
        assert_eq!(
            Source { text }.pos_in(&value_of(text), "one\ntwo $x\n", 8),
            (3, 7),
            "a literal block keeps its line breaks"
        );
        let text = "k: >\n  one\n  two\n";
        assert_eq!(
            Source { text }.pos_in(&value_of(text), "one two\n", 4),
            (3, 3)
        );
    }

    #[test]
    fn alias_bomb_is_an_error() {
        let mut text = String::from("a: &a [x,x,x,x,x,x,x,x,x,x]\n");
        for (prev, name) in ["a", "b", "c", "d", "e", "f", "g", "h", "i"]
            .iter()
            .zip(["b", "c", "d", "e", "f", "g", "h", "i", "j"])
        {
            let refs = vec![format!("*{prev}"); 10].join(",");
            text.push_str(&format!("{name}: &{name} [{refs}]\n"));
        }
        let (line, _, msg) = load(&text).expect_err("bomb");
        assert!(line >= 2, "{line} {msg}");
        assert!(msg.contains("too large or too complex"), "{msg}");
    }

    #[test]
    fn tab_errors_point_at_the_tab() {
        let (line, col, msg) = load("a: 1\n\tb: 2\n").expect_err("tab");
        assert!(msg.contains("tab"), "{msg}");
        assert_eq!((line, col), (2, 1));
    }
}
