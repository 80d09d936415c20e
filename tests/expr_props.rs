//! Property tests for the event-expression and check languages: printing then
//! parsing gives back the same tree, parsers never panic, and the matcher agrees
//! with a straightforward recursive model of Upstart's semantics.

use gsup::expr::{self, ArgMatch, Event, EventMatch, Expr, Matcher, glob};
use gsup::rule;
use proptest::prelude::*;

// ---- generators ----

fn event_name() -> impl Strategy<Value = String> {
    "[a-z][a-z0-9/_.-]{0,8}".prop_filter("not an operator", |s| s != "and" && s != "or")
}

fn key() -> impl Strategy<Value = String> {
    "[A-Za-z_][A-Za-z0-9_]{0,5}"
}

/// A valid glob made of literal chars (including ones the lexer must quote),
/// escaped chars, wildcards and bracket sets.
fn glob_value() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        4 => prop::sample::select(vec![
            "a", "Z", "0", "6", "/", "-", " ", "\t", "(", ")", "\"", "'", "=", "!", "é", "]", "#", "and", "or", "AND", "Or",
        ])
        .prop_map(String::from),
        1 => prop::sample::select(vec!["\\*", "\\[", "\\ ", "\\\"", "\\'", "\\(", "\\\\", "\\=", "\\a"]).prop_map(String::from),
        1 => prop::sample::select(vec!["*", "?", "[06]", "[!a-c]", "[]x]", "[[:digit:]_]", "[\\]]"]).prop_map(String::from),
    ];
    prop::collection::vec(piece, 0..6).prop_map(|p| p.concat())
}

fn event_match() -> impl Strategy<Value = EventMatch> {
    (
        event_name(),
        prop::collection::vec(glob_value(), 0..3),
        prop::collection::vec((key(), any::<bool>(), glob_value()), 0..3),
    )
        .prop_map(|(event, pos, named)| {
            let mut args: Vec<ArgMatch> = pos.into_iter().map(ArgMatch::Positional).collect();
            args.extend(named.into_iter().map(|(k, ne, v)| {
                if ne {
                    ArgMatch::Ne(k, v)
                } else {
                    ArgMatch::Eq(k, v)
                }
            }));
            EventMatch { event, args }
        })
}

fn tree(leaf: BoxedStrategy<EventMatch>) -> impl Strategy<Value = Expr> {
    leaf.prop_map(Expr::Match)
        .prop_recursive(5, 24, 2, |inner| {
            (inner.clone(), inner, any::<bool>()).prop_map(|(l, r, and)| {
                if and {
                    Expr::And(Box::new(l), Box::new(r))
                } else {
                    Expr::Or(Box::new(l), Box::new(r))
                }
            })
        })
}

/// Operands over a tiny alphabet, so that generated events often match.
fn small_match() -> impl Strategy<Value = EventMatch> {
    (
        prop::sample::select(vec!["a", "b", "c"]),
        prop::option::of(prop::sample::select(vec!["0", "6", "[06]", "*", "x"])),
        prop::option::of((any::<bool>(), prop::sample::select(vec!["0", "6", "x*"]))),
    )
        .prop_map(|(name, pos, named)| {
            let mut args = Vec::new();
            args.extend(pos.map(|p| ArgMatch::Positional(p.into())));
            args.extend(named.map(|(ne, v)| {
                if ne {
                    ArgMatch::Ne("K".into(), v.into())
                } else {
                    ArgMatch::Eq("K".into(), v.into())
                }
            }));
            EventMatch {
                event: name.into(),
                args,
            }
        })
}

fn small_event() -> impl Strategy<Value = Event> {
    (
        prop::sample::select(vec!["a", "b", "c", "d"]),
        prop::sample::select(vec!["0", "2", "6", "x"]),
        prop::option::of(prop::sample::select(vec!["0", "6", "xy", "y"])),
        prop::sample::select(vec!["p", "q"]),
    )
        .prop_map(|(name, first, k, extra)| {
            let mut env = vec![("JOB".to_string(), first.to_string())];
            env.extend(k.map(|k| ("K".to_string(), k.to_string())));
            env.push(("X".to_string(), extra.to_string()));
            Event {
                name: name.into(),
                env,
            }
        })
}

// ---- a recursive model of Upstart's event-operator tree ----

struct Model {
    expr: Expr,
    kept: Vec<Option<Event>>,
}

impl Model {
    fn leaves(e: &Expr) -> usize {
        match e {
            Expr::Match(_) => 1,
            Expr::And(l, r) | Expr::Or(l, r) => Model::leaves(l) + Model::leaves(r),
        }
    }

    /// Value of the subtree whose leftmost leaf is number `first`.
    fn value(&self, e: &Expr, first: usize) -> bool {
        match e {
            Expr::Match(_) => self.kept[first].is_some(),
            Expr::And(l, r) => self.value(l, first) && self.value(r, first + Model::leaves(l)),
            Expr::Or(l, r) => self.value(l, first) || self.value(r, first + Model::leaves(l)),
        }
    }

    fn env(&self, e: &Expr, first: usize, out: &mut Vec<(String, String)>) {
        if !self.value(e, first) {
            return;
        }
        match e {
            Expr::Match(_) => {
                for (k, v) in &self.kept[first]
                    .as_ref()
                    .expect("true leaf keeps its event")
                    .env
                {
                    match out.iter_mut().find(|(ok, _)| ok == k) {
                        Some(slot) => slot.1 = v.clone(),
                        None => out.push((k.clone(), v.clone())),
                    }
                }
            }
            Expr::And(l, r) | Expr::Or(l, r) => {
                self.env(l, first, out);
                self.env(r, first + Model::leaves(l), out);
            }
        }
    }

    fn feed(&mut self, event: &Event) -> Option<Vec<(String, String)>> {
        let mut ops = Vec::new();
        collect_ops(&self.expr, &mut ops);
        for (i, m) in ops.iter().enumerate() {
            if self.kept[i].is_none() && expr::matches(m, event) {
                self.kept[i] = Some(event.clone());
            }
        }
        if !self.value(&self.expr, 0) {
            return None;
        }
        let mut env = Vec::new();
        self.env(&self.expr, 0, &mut env);
        self.kept.iter_mut().for_each(|k| *k = None);
        Some(env)
    }
}

fn collect_ops<'a>(e: &'a Expr, out: &mut Vec<&'a EventMatch>) {
    match e {
        Expr::Match(m) => out.push(m),
        Expr::And(l, r) | Expr::Or(l, r) => {
            collect_ops(l, out);
            collect_ops(r, out);
        }
    }
}

fn escape_all(s: &str) -> String {
    s.chars().flat_map(|c| ['\\', c]).collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn display_then_parse_is_identity(e in tree(event_match().boxed())) {
        let printed = e.to_string();
        prop_assert_eq!(expr::parse(&printed), Ok(e), "printed: {}", printed);
    }

    #[test]
    fn expr_parser_never_panics(s in "\\PC{0,60}") {
        let _ = expr::parse(&s);
    }

    #[test]
    fn expr_parser_never_panics_on_near_misses(s in "[a-c =!()\"'\\\\*?\\[\\]:^-]{0,40}|((and|or|\\(|\\)|x|K=|K!=|\\[0|'|\") ){0,12}") {
        if let Ok(e) = expr::parse(&s) {
            prop_assert_eq!(expr::parse(&e.to_string()), Ok(e));
        }
    }

    #[test]
    fn rule_parser_never_panics(s in "\\PC{0,60}", child in any::<bool>()) {
        let _ = rule::parse(&s, child);
    }

    #[test]
    fn rule_display_round_trips(
        s in "if (mem|totalmem|cpu|totalcpu|children|uptime|[0-9]{1,2} restarts within [0-9]{1,2} cycles) ?(>|<=|==|!=|gt|equal)? ?[0-9]{1,4}(\\.[0-9]{1,2})? ?(%|MB|kb|B|GB|s|m|h|ms|days)? ?(for [0-9]{1,2} cycles?|[0-9] times within [0-9]{1,2} cycles)? then (restart|stop|alert|kill|signal (TERM|usr1|9|40)|exec /bin/x 'a b' \"c\")",
        child in any::<bool>(),
    ) {
        if let Ok(c) = rule::parse(&s, child) {
            let printed = c.to_string();
            let again = rule::parse(&printed, child);
            prop_assert!(again.is_ok(), "{} printed as {} fails: {:?}", s, printed, again);
            let again = again.expect("checked above");
            prop_assert_eq!((again.condition, again.window, again.action), (c.condition, c.window, c.action));
        }
    }

    #[test]
    fn matcher_agrees_with_the_model(
        e in tree(small_match().boxed()),
        events in prop::collection::vec(small_event(), 0..12),
    ) {
        let mut model = Model { kept: vec![None; Model::leaves(&e)], expr: e.clone() };
        let mut matcher = Matcher::new(e);
        for event in &events {
            let got = matcher.feed(event);
            let want = model.feed(event);
            if got.is_some() {
                // Fired: the tree was reset.
                prop_assert!(!matcher.is_pending());
            }
            prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn unknown_events_change_nothing(e in tree(small_match().boxed()), events in prop::collection::vec(small_event(), 0..6)) {
        let mut matcher = Matcher::new(e);
        for event in &events {
            let _ = matcher.feed(event);
        }
        let pending = matcher.is_pending();
        let stranger = Event { name: "zzz".into(), env: vec![("JOB".into(), "0".into())] };
        prop_assert_eq!(matcher.feed(&stranger), None);
        prop_assert_eq!(matcher.is_pending(), pending);
    }

    #[test]
    fn escaped_text_matches_only_itself(s in "\\PC{0,20}", extra in "\\PC{1,3}") {
        let pattern = escape_all(&s);
        prop_assert!(glob::validate(&pattern).is_ok());
        prop_assert!(glob::matches(&pattern, &s));
        let longer = format!("{s}{extra}");
        prop_assert!(!glob::matches(&pattern, &longer));
        prop_assert!(glob::matches("*", &s));
        prop_assert_eq!(glob::literal(&pattern), Some(s));
    }
}
