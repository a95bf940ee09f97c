//! End-to-end test worker: records one request per iteration named after `ctx.host()`,
//! so the master's stats show which host each iteration saw.

use std::time::Duration;

#[boomer::task]
async fn host(ctx: &mut boomer::Ctx) {
    let name = ctx.host().unwrap_or("none").to_string();
    ctx.record_success("HOST", &name, Duration::from_millis(1), 0);
    tokio::time::sleep(Duration::from_millis(50)).await;
}

boomer::main!();
