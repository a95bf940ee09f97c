//! End-to-end test worker: a task that panics on every 10th of its first 100 runs and
//! records a success otherwise; then idles. Its spawn handler panics too.

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

/// A handler that panics: logged and reported to the master, the worker goes on.
#[boomer::on(spawn)]
fn spawn_breaks(users: u32, _rate: f64) {
    panic!("spawn handler broke at {users} users");
}

boomer::main!();
