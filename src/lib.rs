//! # boomer: Locust workers in Rust
//!
//! Annotate plain Rust functions, add `boomer::main!()`, and `cargo run` joins a
//! [Locust](https://locust.io) master as a worker: the master's web UI, load shapes, reports
//! and exit codes work as with Python workers, while the load comes from Rust on every core.
//!
//! ```no_run
//! use std::time::{Duration, Instant};
//!
//! #[boomer::task(weight = 10)]
//! async fn foo(ctx: &mut boomer::Ctx) {
//!     let start = Instant::now();
//!     // ... do something ...
//!     ctx.record_success("http", "foo", start.elapsed(), 10);
//! }
//!
//! #[boomer::task(weight = 30, name = "bar")]
//! fn bar() {
//!     boomer::record_failure("udp", "bar", Duration::from_millis(30), "udp error");
//! }
//!
//! #[boomer::on(spawn)]
//! fn spawn(users: u32, spawn_rate: f64) {
//!     println!("{users} users at {spawn_rate}/s");
//! }
//!
//! boomer::main!();
//! ```
//!
//! Run it with `cargo run --release -- --master-host 127.0.0.1 --master-port 5557` next to
//! a master started with `locust -f locustfile.py --master`, or on its own with
//! `cargo run --release -- --standalone -u 10 -r 2 -t 30s` (Locust's console tables, and
//! `--csv`, `--json`, `--prometheus-listen` outputs).
//!
//! ## What the parts do
//! - [`task`]: a function every user runs again and again, picked by `weight`.
//! - [`on`]: a handler for a worker event (`connected`, `spawn`, `stop`, `quit`, ...) or a
//!   custom message from the master.
//! - [`record_success`] / [`record_failure`]: what the master's statistics are made of.
//! - [`send_message`]: a custom message to the master's locustfile.
//! - [`main!`]: `fn main` with the command line ([`Options`]); [`Boomer::builder`] for
//!   programs that own their tokio runtime.

#![warn(missing_docs)]

pub use boomer_core::{
    record_failure, record_success, send_message, Boomer, Builder, Ctx, CustomMessage, Error,
    Event, EventKind, Exit, Handler, Options, SpawnEvent, Task, TaskFn, Value,
};
pub use boomer_macros::{on, task};

/// Where results go besides the master: implement [`output::Output`] for a sink of your own
/// and add it with [`Builder::output`]. The console, CSV, JSON and Prometheus outputs are
/// switched on from the command line (`--csv`, `--json`, `--prometheus-listen`, ...).
pub mod output {
    pub use boomer_core::output::{ExceptionCount, Output, RunInfo, Snapshot, PERCENTILES};
    pub use boomer_core::stats::{Entry, Window};
}

/// Statistics in Locust's exact shape (buckets, percentiles, error keys).
pub mod stats {
    pub use boomer_core::stats::{bucket_ms, error_key, percentile, python_repr};
}

#[doc(hidden)]
pub mod __private;

/// Expands to `fn main` that parses the command line (see [`Options`]: `--master-host`,
/// `--master-port`, `--run-tasks`, ...), sets up logging, builds a multi-threaded tokio
/// runtime and runs the worker with every task and handler registered in the binary.
///
/// A binary with no task exits at start-up with a message naming the fix.
///
/// ```no_run
/// #[boomer::task]
/// fn noop() {}
///
/// boomer::main!();
/// ```
#[macro_export]
macro_rules! main {
    () => {
        fn main() -> ::std::process::ExitCode {
            $crate::__private::run_main()
        }
    };
}
