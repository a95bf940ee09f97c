//! Benchmark worker: idle users, as issue 6 defines them: a task that does nothing and a
//! `constant(1)` wait between runs, for the memory cost of a user that mostly waits.

/// A user with no state of its own; the master's class name does not matter (a worker with
/// one class takes all users).
#[derive(Default)]
#[boomer::user(wait_time = boomer::constant(1.0))]
struct Idle;

#[boomer::task]
fn tick(_user: &mut Idle) {}

boomer::main!();
