//! Graphviz DOT export of the dependency graph, for `gsup graph`.
//! Pure text generation; it decides nothing about order or cycles.

use super::{DepGraph, Key};
use std::fmt::Write;

/// Quotes a string as a DOT identifier.
fn quote(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

impl DepGraph {
    /// The graph as DOT, deterministic (sorted): an edge `A -> B` means B
    /// waits for A, labelled with the events; `stop_on` edges are dashed, jobs
    /// on cycles red, referenced jobs that do not exist grey and dashed.
    pub fn to_dot(&self) -> String {
        let mut s = String::from("digraph gsup {\n  rankdir=LR;\n  node [shape=box];\n");
        for name in self.jobs() {
            let attrs = if self.on_cycle(name) {
                " [color=red, fontcolor=red]"
            } else {
                ""
            };
            let _ = writeln!(s, "  {}{attrs};", quote(name));
        }
        let mut missing: Vec<String> = self.missing().into_iter().map(|(_, r)| r.target).collect();
        missing.sort();
        missing.dedup();
        for name in &missing {
            let _ = writeln!(
                s,
                "  {} [style=dashed, color=grey, fontcolor=grey];",
                quote(name)
            );
        }
        for job in self.jobs() {
            for dep in self.dependencies_of(job) {
                let refs = self.edge_references(&dep, job);
                let mut events: Vec<&str> = refs.iter().map(|r| r.event.as_str()).collect();
                events.sort();
                events.dedup();
                let dashed = refs.iter().all(|r| r.key == Key::StopOn);
                let style = if dashed { ", style=dashed" } else { "" };
                let _ = writeln!(
                    s,
                    "  {} -> {} [label={}{style}];",
                    quote(&dep),
                    quote(job),
                    quote(&events.join(","))
                );
            }
            let mut ghosts = std::collections::BTreeMap::<&str, Vec<&str>>::new();
            for r in self.references_of(job) {
                if !self.contains(&r.target) && r.is_dependency() {
                    let events = ghosts.entry(r.target.as_str()).or_default();
                    if !events.contains(&r.event.as_str()) {
                        events.push(r.event.as_str());
                    }
                }
            }
            for (target, mut events) in ghosts {
                events.sort();
                let _ = writeln!(
                    s,
                    "  {} -> {} [label={}, style=dashed, color=grey];",
                    quote(target),
                    quote(job),
                    quote(&events.join(","))
                );
            }
        }
        s.push_str("}\n");
        s
    }
}
