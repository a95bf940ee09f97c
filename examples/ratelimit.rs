//! Rate limits across all users, as Go boomer's: run next to
//! `locust -f examples/locustfile.py --master` with one of
//!
//! ```text
//! cargo run --release --example ratelimit -- --max-rps 200
//! cargo run --release --example ratelimit -- --max-rps 1000 --request-increase-rate 100/1s
//! EVEN_SECONDS=1 cargo run --release --example ratelimit
//! ```
//!
//! `--max-rps N` caps task runs at N per second for the whole worker, spaced evenly (no
//! bursts at each refill); `--request-increase-rate "N/<duration>"` ramps the cap up by N
//! per period. Both restart at each test start. A limiter of your own implements
//! [`boomer::RateLimiter`]; here, one that only lets tasks run in even seconds.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A task that would run as fast as it can: the limiter decides its rate.
#[boomer::task]
async fn ping(ctx: &mut boomer::Ctx) {
    let start = Instant::now();
    tokio::task::yield_now().await;
    ctx.record_success("RATE", "ping", start.elapsed(), 0);
}

/// Lets tasks run only during even seconds, at most 50 per second.
struct EvenSeconds(boomer::SmoothRateLimiter);

impl boomer::RateLimiter for EvenSeconds {
    fn start(&self) {
        self.0.start();
    }

    fn acquire(&self) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send + '_>> {
        Box::pin(async move {
            let now = SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap_or_default();
            if now.as_secs() % 2 == 1 {
                tokio::time::sleep(Duration::from_nanos(
                    1_000_000_000 - u64::from(now.subsec_nanos()),
                ))
                .await;
            }
            self.0.acquire().await;
        })
    }
}

boomer::main!(|b| {
    // Limits set in code go through the builder (the command line is boomer's own).
    if std::env::var_os("EVEN_SECONDS").is_some() {
        b.rate_limiter(EvenSeconds(boomer::SmoothRateLimiter::new(50.0)))
    } else {
        b
    }
});
