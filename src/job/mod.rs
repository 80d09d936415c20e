//! A job's lifecycle as Upstart has it: goal and state, and the pure state machine.
//! No I/O and no clock: timers and processes leave as effects and come back as inputs.

pub mod state;

pub use state::{Exit, Goal, State};
