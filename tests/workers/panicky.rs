//! End-to-end test worker: a task that panics on every 10th of its first 100 runs and
//! records a success otherwise; then idles.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static RUNS: AtomicU64 = AtomicU64::new(0);

#[boomer::task]
async fn flaky(ctx: &mut boomer::Ctx) {
    let i = RUNS.fetch_add(1, Ordering::Relaxed);
    if i >= 100 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        return;
    }
    if i % 10 == 9 {
        panic!("flaky broke on run {}", i / 10);
    }
    ctx.record_success("GET", "/flaky", Duration::from_millis(5), 10);
}

boomer::main!();
