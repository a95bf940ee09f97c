//! End-to-end test worker: one user class whose `WaitTime::custom` closure panics on its
//! 5th, 10th and 15th calls, under a custom rate limiter whose `acquire` panics on its 5th,
//! 10th and 15th calls too (each with another message); otherwise the task records
//! `GET /tick` and the user waits 10 ms. The user must outlive every panic.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

static WAITS: AtomicU64 = AtomicU64::new(0);
static PERMITS: AtomicU64 = AtomicU64::new(0);

fn pace() -> Duration {
    let n = WAITS.fetch_add(1, Ordering::Relaxed) + 1;
    if n <= 15 && n.is_multiple_of(5) {
        panic!("wait broke at call {n}");
    }
    Duration::from_millis(10)
}

#[derive(Default)]
#[boomer::user(wait_time = boomer::WaitTime::custom(pace))]
struct Pacer;

#[boomer::task]
async fn tick(_user: &mut Pacer, ctx: &mut boomer::Ctx) {
    ctx.record_success("GET", "/tick", Duration::from_millis(1), 0);
}

/// Lets every task run, but panics on some calls.
struct Brittle;

impl boomer::RateLimiter for Brittle {
    fn acquire(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        let n = PERMITS.fetch_add(1, Ordering::Relaxed) + 1;
        if n <= 15 && n.is_multiple_of(5) {
            panic!("limiter broke at call {n}");
        }
        Box::pin(async {})
    }
}

boomer::main!(|b| b.rate_limiter(Brittle));
