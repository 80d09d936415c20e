//! A job's lifecycle as Upstart has it: goal and state, and the pure state machine.
//! No I/O and no clock: timers and processes leave as effects and come back as inputs.

pub mod cause;
pub mod io;
pub mod machine;
pub mod policy;
pub mod state;
mod transitions;

pub use cause::Cause;
pub use machine::{Effect, Input, Job, Process, Timer, next_state, step};
pub use policy::Policy;
pub use state::{Exit, Goal, State};
