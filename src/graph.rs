//! The dependency graph of jobs (petgraph): edges from `started/stopped JOB`
//! Placeholder so the crate layout is fixed.
