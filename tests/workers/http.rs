//! End-to-end test worker for `boomer::http`: sends exactly `HTTP_TOTAL` requests per test
//! (default 500) to the master's host, then idles. Of every 5: `GET /missing` (a 404, a
//! failure), `GET /gone` (a 404 judged a success as `/gone [expected]`), `GET /redirect`
//! (followed to `/`, recorded once), and 2 × `GET /`. With `HTTP_ONLY_PATH`, every request
//! is a `GET` of that path instead.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

static NEXT: AtomicU64 = AtomicU64::new(0);

fn total() -> u64 {
    static TOTAL: OnceLock<u64> = OnceLock::new();
    *TOTAL.get_or_init(|| {
        std::env::var("HTTP_TOTAL")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(500)
    })
}

#[boomer::task]
async fn mix(ctx: &mut boomer::Ctx) {
    let i = NEXT.fetch_add(1, Ordering::Relaxed);
    if i >= total() {
        tokio::time::sleep(Duration::from_millis(20)).await;
        return;
    }
    if let Some(path) = only_path() {
        ctx.http().get(path).send().await;
        return;
    }
    match i % 5 {
        0 => {
            ctx.http().get("/missing").send().await;
        }
        1 => {
            let mut resp = ctx
                .http()
                .get("/gone")
                .name("/gone [expected]")
                .send()
                .await;
            if resp.status() == 404 {
                resp.success();
            }
        }
        2 => {
            let resp = ctx.http().get("/redirect").send().await;
            assert_eq!(resp.text(), "hello", "the redirect was followed");
        }
        _ => {
            ctx.http().get("/").send().await;
        }
    }
}

fn only_path() -> Option<&'static str> {
    static ONLY: OnceLock<Option<String>> = OnceLock::new();
    ONLY.get_or_init(|| std::env::var("HTTP_ONLY_PATH").ok())
        .as_deref()
}

#[boomer::on(test_start)]
fn reset() {
    NEXT.store(0, Ordering::Relaxed);
}

boomer::main!();
