//! The Upstart event-operator tree (init/event_operator.c semantics): which events
//! make an expression true, and the environment they give. Pure; no I/O, no clock.

use super::glob;
use super::{ArgMatch, Event, EventMatch, Expr};

/// Whether one event satisfies one operand: same name, the Nth positional
/// argument glob-matches the value of the event's Nth variable, `KEY=GLOB`
/// matches the named variable, `KEY!=GLOB` requires the variable to be
/// present and not to match (absent fails both, as in Upstart). Never allocates.
pub fn matches(m: &EventMatch, event: &Event) -> bool {
    if m.event != event.name {
        return false;
    }
    let lookup = |key: &str| event.env.iter().find(|(k, _)| k == key).map(|(_, v)| v);
    m.args.iter().enumerate().all(|(i, arg)| match arg {
        ArgMatch::Positional(g) => event.env.get(i).is_some_and(|(_, v)| glob::matches(g, v)),
        ArgMatch::Eq(k, g) => lookup(k).is_some_and(|v| glob::matches(g, v)),
        ArgMatch::Ne(k, g) => lookup(k).is_some_and(|v| !glob::matches(g, v)),
    })
}

/// What an expression yields when it becomes true.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fired {
    /// The variables of the events that made it true, in tree order, a later
    /// event's value replacing an earlier one's in place.
    pub env: Vec<(String, String)>,
    /// Their names in the same order (what Upstart puts in `UPSTART_EVENTS`).
    pub events: Vec<String>,
}

/// One node of the flattened tree; children come before their parent.
#[derive(Debug, Clone)]
pub(super) enum Node {
    Match {
        pattern: EventMatch,
        /// The first event that matched since the last reset.
        event: Option<Event>,
    },
    And {
        left: usize,
        right: usize,
        value: bool,
    },
    Or {
        left: usize,
        right: usize,
        value: bool,
    },
}

impl Node {
    fn value(&self) -> bool {
        match self {
            Node::Match { event, .. } => event.is_some(),
            Node::And { value, .. } | Node::Or { value, .. } => *value,
        }
    }
}

/// Flattens `expr` in post-order (children first, the root last).
pub(super) fn flatten(expr: &Expr, out: &mut Vec<Node>) -> usize {
    match expr {
        Expr::Match(m) => out.push(Node::Match {
            pattern: m.clone(),
            event: None,
        }),
        Expr::And(l, r) | Expr::Or(l, r) => {
            let left = flatten(l, out);
            let right = flatten(r, out);
            out.push(if matches!(expr, Expr::And(..)) {
                Node::And {
                    left,
                    right,
                    value: false,
                }
            } else {
                Node::Or {
                    left,
                    right,
                    value: false,
                }
            });
        }
    }
    out.len() - 1
}

/// One post-order pass: unmatched operands that match `event` keep it,
/// operators recompute. Returns the root's value. Allocates only to keep a
/// matching event.
pub(super) fn handle(nodes: &mut [Node], event: &Event) -> bool {
    for i in 0..nodes.len() {
        let value = match &nodes[i] {
            Node::Match { .. } => None,
            Node::And { left, right, .. } => Some(nodes[*left].value() && nodes[*right].value()),
            Node::Or { left, right, .. } => Some(nodes[*left].value() || nodes[*right].value()),
        };
        match (&mut nodes[i], value) {
            (
                Node::Match {
                    pattern,
                    event: kept,
                },
                _,
            ) => {
                if kept.is_none() && matches(pattern, event) {
                    *kept = Some(event.clone());
                }
            }
            (Node::And { value: v, .. } | Node::Or { value: v, .. }, Some(new)) => *v = new,
            (Node::And { .. } | Node::Or { .. }, None) => {}
        }
    }
    nodes.last().is_some_and(Node::value)
}

/// Collects the env and names of the true operands under true operators,
/// left to right (Upstart skips a false subtree even under a true `or`).
pub(super) fn collect(nodes: &[Node], at: usize, fired: &mut Fired) {
    let Some(node) = nodes.get(at) else { return };
    if !node.value() {
        return;
    }
    match node {
        Node::Match { event: Some(e), .. } => {
            for (k, v) in &e.env {
                match fired.env.iter_mut().find(|(ek, _)| ek == k) {
                    Some(slot) => slot.1.clone_from(v),
                    None => fired.env.push((k.clone(), v.clone())),
                }
            }
            fired.events.push(e.name.clone());
        }
        Node::Match { event: None, .. } => {}
        Node::And { left, right, .. } | Node::Or { left, right, .. } => {
            collect(nodes, *left, fired);
            collect(nodes, *right, fired);
        }
    }
}

/// Forgets every kept event and clears every operator.
pub(super) fn reset(nodes: &mut [Node]) {
    for node in nodes {
        match node {
            Node::Match { event, .. } => *event = None,
            Node::And { value, .. } | Node::Or { value, .. } => *value = false,
        }
    }
}
