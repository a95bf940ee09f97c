//! Benchmark worker: light load. Each user records one sample every 100 ms, so 50 users
//! make 500 records/s: the worker's own CPU at light load (issue 10's "light load must
//! cost nothing").

use std::time::Duration;

#[derive(Default)]
#[boomer::user(wait_time = boomer::constant(0.1))]
struct Light;

#[boomer::task]
fn record(_user: &mut Light) {
    boomer::record_success("bench", "light", Duration::from_micros(1500), 10);
}

boomer::main!();
