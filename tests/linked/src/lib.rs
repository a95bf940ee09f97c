//! Tasks and handlers in a library crate: a binary runs them once it links the crate
//! (`use boomer_linked_tasks as _;`).

use std::time::Duration;

/// Records one request, so `--run-tasks` shows it ran.
#[boomer::task]
pub fn lib_task(ctx: &mut boomer::Ctx) {
    ctx.record_success("LIB", "lib_task", Duration::from_millis(3), 42);
}

/// A handler in the library too.
#[boomer::on(quit)]
pub fn lib_quit() {}
