//! pidfile: to be written.
//! Placeholder so the crate layout is fixed.
