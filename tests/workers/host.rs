//! End-to-end test worker: records one request per iteration named after `ctx.host()`, of
//! type `user-N` (the user's id), so the master's stats show which host each iteration saw,
//! and which users saw it.

use std::time::Duration;

#[boomer::task]
async fn host(ctx: &mut boomer::Ctx) {
    let name = ctx.host().unwrap_or("none").to_string();
    let user = format!("user-{}", ctx.user_id());
    ctx.record_success(&user, &name, Duration::from_millis(1), 0);
    tokio::time::sleep(Duration::from_millis(50)).await;
}

boomer::main!();
