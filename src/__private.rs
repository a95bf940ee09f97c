//! Paths emitted by the macros. Not public API: anything here may change in any release.

pub use ::boomer_core::inventory;
pub use ::boomer_core::registry::{
    BoxFuture, HandlerRegistration, IntoOutcome, Outcome, StaticEventKind, TaskFn, TaskRegistration,
};
pub use ::boomer_core::{Ctx, CustomMessage, Event, SpawnEvent};
pub use ::std::boxed::Box;

/// `fn main` of `boomer::main!()`.
pub fn run_main() -> ::std::process::ExitCode {
    ::boomer_core::run_main(::boomer_core::Builder::default())
}

/// Spawn-handler argument: the user count of the spawn (Go boomer's signature).
pub fn spawn_users(ev: &SpawnEvent) -> u32 {
    ev.users()
}

/// Spawn-handler argument: the master's spawn rate (Go boomer's signature).
pub fn spawn_rate(ev: &SpawnEvent) -> f64 {
    ev.spawn_rate()
}
