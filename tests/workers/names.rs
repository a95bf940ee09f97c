//! Test and benchmark worker: every iteration records one success under one of `NAMES`
//! names (default 100), in turn, then waits 10 ms; with `NAMES_FAIL`, every 10th record is
//! a failure. For the outputs' long-run memory (BENCHMARKS.md) and the row-order tests.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

static NEXT: AtomicU64 = AtomicU64::new(0);

fn names() -> u64 {
    static NAMES: OnceLock<u64> = OnceLock::new();
    *NAMES.get_or_init(|| {
        std::env::var("NAMES")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(100)
            .max(1)
    })
}

#[boomer::task]
async fn names_task(ctx: &mut boomer::Ctx) {
    let i = NEXT.fetch_add(1, Ordering::Relaxed);
    let name = format!("/name/{:03}", i % names());
    let elapsed = Duration::from_micros(1000 + (i % 7) * 1500);
    if std::env::var_os("NAMES_FAIL").is_some() && i % 10 == 0 {
        ctx.record_failure("GET", &name, elapsed, "bad");
    } else {
        ctx.record_success("GET", &name, elapsed, 10);
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
}

boomer::main!();
