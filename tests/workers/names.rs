//! Test and benchmark worker. By default every iteration records one success under one of
//! `NAMES` names (default 100), in turn, then waits 10 ms; with `NAMES_FAIL`, every 10th
//! record is a failure `bad`. With `NAMES_TASK_MS`, a task first works (sleeps) that long.
//!
//! With `NAMES_SCRIPT="METHOD NAME MS[ ERROR];..."`, the first task records exactly those
//! samples, in order (a failure when an error text is given), and the others idle: the same
//! script fed to a real Locust shows what Locust's outputs say for the same samples.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

static NEXT: AtomicU64 = AtomicU64::new(0);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn names() -> u64 {
    static NAMES: OnceLock<u64> = OnceLock::new();
    *NAMES.get_or_init(|| env_u64("NAMES", 100).max(1))
}

#[boomer::task]
async fn names_task(ctx: &mut boomer::Ctx) {
    let i = NEXT.fetch_add(1, Ordering::Relaxed);
    if let Ok(script) = std::env::var("NAMES_SCRIPT") {
        if i == 0 {
            for sample in script.split(';').filter(|s| !s.trim().is_empty()) {
                let mut parts = sample.trim().splitn(4, ' ');
                let method = parts.next().unwrap_or("GET");
                let name = parts.next().unwrap_or("/");
                let ms: f64 = parts.next().and_then(|v| v.parse().ok()).unwrap_or(0.0);
                let elapsed = Duration::from_secs_f64(ms / 1000.0);
                match parts.next() {
                    Some(error) => ctx.record_failure(method, name, elapsed, error),
                    None => ctx.record_success(method, name, elapsed, 10),
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
        return;
    }
    let work = env_u64("NAMES_TASK_MS", 0);
    if work > 0 {
        tokio::time::sleep(Duration::from_millis(work)).await;
    }
    let name = format!("/name/{:03}", i % names());
    let elapsed = Duration::from_micros(1000 + (i % 7) * 1500);
    if std::env::var_os("NAMES_FAIL").is_some() && i.is_multiple_of(10) {
        ctx.record_failure("GET", &name, elapsed, "bad");
    } else {
        ctx.record_success("GET", &name, elapsed, 10);
    }
    tokio::time::sleep(Duration::from_millis(10)).await;
}

boomer::main!();
