//! The worker of the end-to-end tests: records a known sample set, exactly
//! `RECORDER_TOTAL` requests per test (default 1000), then idles. With `RECORDER_PACE_MS`,
//! each user sleeps that long after each record (a steady stream instead of a burst); at
//! quit the worker prints how many it recorded in all (`recorded N requests`).
//!
//! Per 100 requests on `GET /rust`: 30 × 10 ms, 30 × 20 ms, 20 × 45 ms, 15 × 150 ms and
//! 5 × 1200 ms; the 5 slowest are failures with error `boom`, the others return 100 bytes.
//! The master must then show 1000 requests, 50 failures, avg 100.5 ms, min 10, max 1200,
//! p50 20, p66 45, p75 45, p80 150, p90 150, p95..p100 1200.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

static NEXT: AtomicU64 = AtomicU64::new(0);
/// Requests recorded since the process started, all tests together.
static RECORDED: AtomicU64 = AtomicU64::new(0);

fn pace() -> Option<Duration> {
    static PACE: OnceLock<Option<Duration>> = OnceLock::new();
    *PACE.get_or_init(|| {
        let ms = std::env::var("RECORDER_PACE_MS").ok()?.parse().ok()?;
        Some(Duration::from_millis(ms))
    })
}

fn total() -> u64 {
    static TOTAL: OnceLock<u64> = OnceLock::new();
    *TOTAL.get_or_init(|| {
        std::env::var("RECORDER_TOTAL")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(1000)
    })
}

/// The response time of the `i`-th request of a test, in ms.
fn sample(i: u64) -> u64 {
    match i % 100 {
        0..30 => 10,
        30..60 => 20,
        60..80 => 45,
        80..95 => 150,
        _ => 1200,
    }
}

#[boomer::task]
async fn record(ctx: &mut boomer::Ctx) {
    let i = NEXT.fetch_add(1, Ordering::Relaxed);
    if i >= total() {
        tokio::time::sleep(Duration::from_millis(20)).await;
        return;
    }
    let ms = sample(i);
    let elapsed = Duration::from_millis(ms);
    if ms == 1200 {
        ctx.record_failure("GET", "/rust", elapsed, "boom");
    } else {
        ctx.record_success("GET", "/rust", elapsed, 100);
    }
    // No await between the count and the record: a user stopped at an await has both or
    // neither.
    RECORDED.fetch_add(1, Ordering::Relaxed);
    if let Some(pace) = pace() {
        tokio::time::sleep(pace).await;
    }
}

/// Quit handlers run once the users have stopped: the count is final.
#[boomer::on(quit)]
fn tell() {
    println!("recorded {} requests", RECORDED.load(Ordering::Relaxed));
}

/// Each test records its own `RECORDER_TOTAL` requests.
#[boomer::on(test_start)]
fn reset() {
    NEXT.store(0, Ordering::Relaxed);
}

boomer::main!();
