//! Benchmark worker: every iteration records one success and does nothing else, so the
//! master's request rate is the record path plus task dispatch (launce-benchmark's method).

use std::time::Duration;

#[boomer::task]
fn record() {
    boomer::record_success("bench", "record", Duration::from_micros(1500), 10);
}

boomer::main!();
