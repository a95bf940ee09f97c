//! End-to-end test worker: records a 1 ms request on every iteration, with no pause, so
//! only a rate limit holds it back.

use std::time::Duration;

#[boomer::task]
fn fast(ctx: &mut boomer::Ctx) {
    ctx.record_success("GET", "/fast", Duration::from_millis(1), 0);
}

boomer::main!();
