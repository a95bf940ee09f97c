//! End-to-end test worker for the control plane (tests/control.rs). Each iteration sleeps
//! `CONTROL_SLEEP_MS` (default 50) and records one `GET` named after what the task saw:
//! `/w<index>` (its `ctx.worker_index()`, `/w-none` before the ack), or, with
//! `CONTROL_FULL=N`, `/ramp` until user N-1 has started and `/full` after. With
//! `CONTROL_TEST_STOP_MS`, the `test_stop` handler takes that long, then records
//! `/test_stop`. With `CONTROL_SPIN=1`, tasks spin on the CPU instead of sleeping. A second
//! task, `tock`, records `/tock` instead (with `CONTROL_TOCK=1`; else it is `tick` again),
//! for the web UI's task picker. With `CONTROL_IDS=1`, each task records
//! `/<task>/u<user id>@<host>` (`-` for no host) instead, to see which users run which task
//! against which host. With `CONTROL_CONNECTED=1`, each ack from the master
//! records `/late` (a sample of no test, recorded while the worker is ready), and tasks
//! record `/run<n>` in the n-th test.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

static FULL: AtomicBool = AtomicBool::new(false);
static RUN: AtomicU64 = AtomicU64::new(0);

fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

#[boomer::task]
async fn tick(ctx: &mut boomer::Ctx) {
    run(ctx, "tick").await
}

#[boomer::task]
async fn tock(ctx: &mut boomer::Ctx) {
    run(ctx, "tock").await
}

async fn run(ctx: &mut boomer::Ctx, task: &str) {
    let tock = task == "tock" && std::env::var("CONTROL_TOCK").is_ok();
    if std::env::var("CONTROL_SPIN").is_ok() {
        let start = Instant::now();
        let mut x = 0u64;
        while start.elapsed() < Duration::from_millis(20) {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(7));
        }
        ctx.record_success("GET", "/spin", start.elapsed(), 0);
        return;
    }
    let sleep = env_u64("CONTROL_SLEEP_MS").unwrap_or(50);
    let full = env_u64("CONTROL_FULL");
    if full.is_some_and(|full| ctx.user_id() + 1 >= full) {
        FULL.store(true, Ordering::SeqCst);
    }
    tokio::time::sleep(Duration::from_millis(sleep)).await;
    let name = match full {
        _ if std::env::var("CONTROL_IDS").is_ok() => {
            format!("/{task}/u{}@{}", ctx.user_id(), ctx.host().unwrap_or("-"))
        }
        _ if tock => "/tock".to_string(),
        _ if std::env::var("CONTROL_CONNECTED").is_ok() => {
            format!("/run{}", RUN.load(Ordering::SeqCst))
        }
        Some(_) => {
            if FULL.load(Ordering::SeqCst) {
                "/full".to_string()
            } else {
                "/ramp".to_string()
            }
        }
        None => match ctx.worker_index() {
            Some(i) => format!("/w{i}"),
            None => "/w-none".to_string(),
        },
    };
    ctx.record_success("GET", &name, Duration::from_millis(sleep), 0);
}

#[boomer::on(test_stop)]
async fn test_stop() {
    if let Some(ms) = env_u64("CONTROL_TEST_STOP_MS") {
        tokio::time::sleep(Duration::from_millis(ms)).await;
        boomer::record_success("GET", "/test_stop", Duration::from_millis(ms), 0);
        tracing::info!("test_stop handler done");
    }
}

#[boomer::on(test_start)]
fn test_start() {
    RUN.fetch_add(1, Ordering::SeqCst);
}

#[boomer::on(connected)]
fn connected() {
    if std::env::var("CONTROL_CONNECTED").is_ok() {
        boomer::record_success("GET", "/late", Duration::from_millis(1), 0);
    }
}

boomer::main!();
