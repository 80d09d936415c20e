//! The dependency graph of jobs (petgraph): edges from `started/stopped JOB`
//! references, cycles, missing jobs, start and stop waves. Pure: no I/O, no clock.
//!
//! The rule (see `docs/graph.md`): job B depends on job A when B's `start_on`
//! names A in any job event (`starting`, `started`, `stopping`, `stopped`), or
//! B's `stop_on` names A in `stopping` or `stopped`. A `stop_on: started A`
//! (stop B when A comes up) is a mutual exclusion, not an order, so it is no edge.

mod diagnostics;
mod dot;

pub use diagnostics::key_position;

use crate::expr::Expr;
use crate::loader::LoadedJob;
use petgraph::Direction;
use petgraph::algo::tarjan_scc;
use petgraph::graph::{DiGraph, NodeIndex};
use std::collections::{BTreeMap, BTreeSet};

/// The unit key an expression came from, so that messages can point at it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    /// `start_on:`
    StartOn,
    /// `stop_on:`
    StopOn,
}

impl Key {
    /// The key as written in a unit file (`start_on`, `stop_on`).
    pub fn as_str(self) -> &'static str {
        match self {
            Key::StartOn => "start_on",
            Key::StopOn => "stop_on",
        }
    }
}

/// One reference from a job's expression to another job's event, e.g.
/// `start_on: started gitorious/unicorn`. Kept whether or not it orders jobs,
/// so that a reference to a job that does not exist can be warned about.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Reference {
    /// The key of the referring job the expression is under.
    pub key: Key,
    /// `starting`, `started`, `stopping` or `stopped`.
    pub event: String,
    /// The job named: the first positional argument, or `JOB=` without globs.
    pub target: String,
}

impl Reference {
    /// True when this reference means "the target comes first" (the rule in
    /// the module doc): it is an edge of the graph and orders start and stop.
    pub fn is_dependency(&self) -> bool {
        match self.key {
            Key::StartOn => true,
            Key::StopOn => self.event == "stopping" || self.event == "stopped",
        }
    }
}

/// Every job reference in `expr` (`Expr::job_references`: the first
/// positional argument or `JOB=` of a job event, without globs), tagged with
/// the key it came from.
pub fn references(key: Key, expr: &Expr) -> Vec<Reference> {
    expr.job_references()
        .into_iter()
        .map(|(event, target)| Reference { key, event, target })
        .collect()
}

/// The jobs and their dependency edges (`A -> B`: A comes first), with the
/// cycles found once at build time. The daemon and `gsup check` both build one
/// from the loaded jobs: jobs on a cycle are rejected, the rest are ordered.
#[derive(Debug, Clone)]
pub struct DepGraph {
    /// Edge weight: the references of the dependent job that made the edge.
    graph: DiGraph<String, Vec<Reference>>,
    index: BTreeMap<String, NodeIndex>,
    refs: BTreeMap<String, Vec<Reference>>,
    cycles: Vec<Vec<String>>,
    on_cycle: BTreeSet<String>,
}

impl DepGraph {
    /// Builds the graph from `(name, start_on, stop_on)` per job. A name given
    /// twice keeps its first entry.
    pub fn build<'a, I>(jobs: I) -> DepGraph
    where
        I: IntoIterator<Item = (&'a str, Option<&'a Expr>, Option<&'a Expr>)>,
    {
        let mut graph: DiGraph<String, Vec<Reference>> = DiGraph::new();
        let mut index = BTreeMap::new();
        let mut refs: BTreeMap<String, Vec<Reference>> = BTreeMap::new();
        for (name, start_on, stop_on) in jobs {
            if index.contains_key(name) {
                continue;
            }
            index.insert(name.to_string(), graph.add_node(name.to_string()));
            let mut mine = Vec::new();
            if let Some(e) = start_on {
                mine.extend(references(Key::StartOn, e));
            }
            if let Some(e) = stop_on {
                mine.extend(references(Key::StopOn, e));
            }
            refs.insert(name.to_string(), mine);
        }
        for (name, mine) in &refs {
            let to = index[name];
            for r in mine.iter().filter(|r| r.is_dependency()) {
                let Some(&from) = index.get(&r.target) else {
                    continue;
                };
                match graph.find_edge(from, to) {
                    Some(e) => graph[e].push(r.clone()),
                    None => {
                        graph.add_edge(from, to, vec![r.clone()]);
                    }
                }
            }
        }
        let mut dg = DepGraph {
            graph,
            index,
            refs,
            cycles: Vec::new(),
            on_cycle: BTreeSet::new(),
        };
        dg.find_cycles();
        dg
    }

    /// Builds the graph from the loader's jobs.
    pub fn from_jobs(jobs: &[LoadedJob]) -> DepGraph {
        DepGraph::build(jobs.iter().map(|j| {
            (
                j.name.as_str(),
                j.unit.start_on.as_ref(),
                j.unit.stop_on.as_ref(),
            )
        }))
    }

    fn find_cycles(&mut self) {
        let mut cycles = Vec::new();
        for scc in tarjan_scc(&self.graph) {
            let cyclic = scc.len() > 1 || self.graph.find_edge(scc[0], scc[0]).is_some();
            if cyclic {
                cycles.push(self.cycle_order(&scc));
            }
        }
        cycles.sort();
        self.on_cycle = cycles.iter().flatten().cloned().collect();
        self.cycles = cycles;
    }

    /// Orders one strongly connected component: when each member waits for
    /// exactly one other member it is a simple cycle, walked from the smallest
    /// name along "waits for"; otherwise the names sorted.
    fn cycle_order(&self, scc: &[NodeIndex]) -> Vec<String> {
        let members: BTreeSet<NodeIndex> = scc.iter().copied().collect();
        let waits_for = |n: NodeIndex| -> Vec<NodeIndex> {
            self.graph
                .neighbors_directed(n, Direction::Incoming)
                .filter(|m| members.contains(m))
                .collect()
        };
        let mut sorted: Vec<String> = scc.iter().map(|&n| self.graph[n].clone()).collect();
        sorted.sort();
        if scc.iter().any(|&n| waits_for(n).len() != 1) {
            return sorted;
        }
        let mut walk = Vec::with_capacity(scc.len());
        let mut at = self.index[&sorted[0]];
        while walk.len() < scc.len() {
            walk.push(self.graph[at].clone());
            at = waits_for(at)[0];
        }
        walk
    }

    /// Every job, sorted by name.
    pub fn jobs(&self) -> impl Iterator<Item = &str> {
        self.index.keys().map(String::as_str)
    }

    /// True when `job` is in the graph.
    pub fn contains(&self, job: &str) -> bool {
        self.index.contains_key(job)
    }

    /// Every cycle (strongly connected component with a cycle, self-loops
    /// included), each naming every job on it: a simple cycle in "waits for"
    /// order from its smallest name (`[a, c, b]`: a waits for c, c for b, b
    /// for a), a tangle of several cycles sorted. The list is sorted.
    pub fn cycles(&self) -> &[Vec<String>] {
        &self.cycles
    }

    /// True for a job on a cycle: such a job is rejected (never loaded).
    pub fn on_cycle(&self, job: &str) -> bool {
        self.on_cycle.contains(job)
    }

    /// The jobs on cycles, i.e. the jobs the daemon must not load.
    pub fn rejected(&self) -> &BTreeSet<String> {
        &self.on_cycle
    }

    /// Every job reference of `job` (dependency or not), in file order.
    pub fn references_of(&self, job: &str) -> &[Reference] {
        self.refs.get(job).map_or(&[], Vec::as_slice)
    }

    /// Every reference to a job that does not exist, as `(job, reference)`,
    /// sorted: a warning, since the job may be added later.
    pub fn missing(&self) -> Vec<(String, Reference)> {
        let mut out: Vec<(String, Reference)> = self
            .refs
            .iter()
            .flat_map(|(job, refs)| refs.iter().map(move |r| (job, r)))
            .filter(|(_, r)| !self.index.contains_key(&r.target))
            .map(|(job, r)| (job.clone(), r.clone()))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The references of `job` that make it depend on `dependency`.
    pub fn edge_references(&self, dependency: &str, job: &str) -> &[Reference] {
        let (Some(&a), Some(&b)) = (self.index.get(dependency), self.index.get(job)) else {
            return &[];
        };
        match self.graph.find_edge(a, b) {
            Some(e) => &self.graph[e],
            None => &[],
        }
    }

    /// The jobs `job` waits for (direct dependencies), sorted.
    pub fn dependencies_of(&self, job: &str) -> Vec<String> {
        self.neighbors(job, Direction::Incoming)
    }

    /// The jobs that wait for `job` (direct dependents), sorted.
    pub fn dependents_of(&self, job: &str) -> Vec<String> {
        self.neighbors(job, Direction::Outgoing)
    }

    fn neighbors(&self, job: &str, dir: Direction) -> Vec<String> {
        let Some(&n) = self.index.get(job) else {
            return Vec::new();
        };
        let mut out: Vec<String> = self
            .graph
            .neighbors_directed(n, dir)
            .map(|m| self.graph[m].clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// The start order as waves: wave 0 holds the jobs that wait for no job,
    /// wave k the jobs whose dependencies are all in earlier waves (at least
    /// one in wave k-1). Names are sorted within a wave. Jobs on cycles are
    /// left out, and so are edges from them: a job that waits for a rejected
    /// job is ordered as if that reference were missing.
    pub fn start_waves(&self) -> Vec<Vec<String>> {
        let mut level: BTreeMap<NodeIndex, usize> = BTreeMap::new();
        let mut pending: BTreeMap<NodeIndex, usize> = BTreeMap::new();
        let mut ready = Vec::new();
        for (name, &n) in &self.index {
            if self.on_cycle.contains(name) {
                continue;
            }
            let deps = self
                .graph
                .neighbors_directed(n, Direction::Incoming)
                .filter(|m| !self.on_cycle.contains(&self.graph[*m]))
                .count();
            if deps == 0 {
                level.insert(n, 0);
                ready.push(n);
            } else {
                pending.insert(n, deps);
            }
        }
        // Kahn's algorithm; a node's level is one more than its deepest dependency.
        while let Some(n) = ready.pop() {
            let here = level[&n];
            for m in self.graph.neighbors_directed(n, Direction::Outgoing) {
                let Some(left) = pending.get_mut(&m) else {
                    continue;
                };
                let deeper = level.get(&m).copied().unwrap_or(0).max(here + 1);
                level.insert(m, deeper);
                *left -= 1;
                if *left == 0 {
                    pending.remove(&m);
                    ready.push(m);
                }
            }
        }
        let depth = level.values().copied().max().map_or(0, |d| d + 1);
        let mut waves = vec![Vec::new(); depth];
        for (n, l) in level {
            waves[l].push(self.graph[n].clone());
        }
        for w in &mut waves {
            w.sort();
        }
        waves
    }

    /// The stop order: the start waves reversed, so that every job is stopped
    /// before the jobs it was started after are signalled.
    pub fn stop_waves(&self) -> Vec<Vec<String>> {
        let mut waves = self.start_waves();
        waves.reverse();
        waves
    }

    /// The start waves flattened: one valid order to start the loaded jobs in.
    pub fn start_order(&self) -> Vec<String> {
        self.start_waves().into_iter().flatten().collect()
    }
}

#[cfg(test)]
mod tests;
