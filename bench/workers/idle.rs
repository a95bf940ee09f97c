//! Benchmark worker: users that sleep 1 s per iteration (as `constant(1)` would), for the
//! memory cost of an idle user.

use std::time::Duration;

#[boomer::task]
async fn idle() {
    tokio::time::sleep(Duration::from_secs(1)).await;
}

boomer::main!();
