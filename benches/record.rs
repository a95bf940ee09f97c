//! The hot paths: `record_success` on one thread and on two at once, and what running a
//! task costs a user's loop per iteration.
//!   cargo bench --bench record

use std::hint::black_box;
use std::sync::Barrier;
use std::time::{Duration, Instant};

use boomer::{Ctx, Task, TaskFn};
use criterion::{criterion_group, criterion_main, Criterion};

fn record_one_thread(c: &mut Criterion) {
    c.bench_function("record_success/1 thread", |b| {
        b.iter(|| {
            boomer::record_success(
                black_box("GET"),
                black_box("/index"),
                black_box(Duration::from_micros(1500)),
                black_box(100),
            )
        });
    });
    boomer_core::__bench::drain();
}

/// Two threads record at once; the time is wall time per record on each thread, so a
/// shared lock or cache line would show as a collapse against the one-thread number.
fn record_two_threads(c: &mut Criterion) {
    c.bench_function("record_success/2 threads, per thread", |b| {
        b.iter_custom(|iters| {
            let barrier = Barrier::new(2);
            let times: Vec<Duration> = std::thread::scope(|s| {
                let run = || {
                    barrier.wait();
                    let start = Instant::now();
                    for _ in 0..iters {
                        boomer::record_success(
                            black_box("GET"),
                            black_box("/index"),
                            Duration::from_micros(1500),
                            100,
                        );
                    }
                    start.elapsed()
                };
                let a = s.spawn(run);
                let b = s.spawn(run);
                [a, b].into_iter().filter_map(|h| h.join().ok()).collect()
            });
            times.into_iter().max().unwrap_or_default()
        });
    });
    boomer_core::__bench::drain();
}

fn noop_sync(_: &mut Ctx) -> Result<(), String> {
    Ok(())
}

fn noop_async(_: &mut Ctx) -> boomer::__private::BoxFuture<'_, Result<(), String>> {
    Box::pin(async { Ok(()) })
}

/// A user's iteration around a task that does nothing: timing, panic catching, the boxed
/// future of an async task, the cooperative-budget yield.
fn dispatch(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a tokio runtime");
    for (label, run) in [
        ("sync", TaskFn::Sync(noop_sync)),
        ("async", TaskFn::Async(noop_async)),
    ] {
        let task = Task::new("noop", 1, run);
        let mut ctx = Ctx::detached(None);
        c.bench_function(&format!("dispatch/{label} task"), |b| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        boomer_core::__bench::run_task(&task, &mut ctx).await;
                        tokio::task::consume_budget().await;
                    }
                    start.elapsed()
                })
            });
        });
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = record_one_thread, record_two_threads, dispatch
}
criterion_main!(benches);
