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
//! - [`user`]: a user class: a struct holding each user's state, with `on_start`,
//!   `on_stop`, `wait_time` and a class name matching the master's locustfile.
//! - [`on`]: a handler for a worker event (`connected`, `spawn`, `stop`, `quit`, ...) or a
//!   custom message from the master.
//! - [`record_success`] / [`record_failure`]: what the master's statistics are made of.
//! - [`send_message`]: a custom message to the master's locustfile.
//! - [`main!`]: `fn main` with the command line ([`Options`]); [`Boomer::builder`] for
//!   programs that own their tokio runtime.

#![warn(missing_docs)]

pub use boomer_core::{
    between, constant, constant_pacing, constant_throughput, record_failure, record_success,
    send_message, Boomer, Builder, Ctx, CustomMessage, Error, Event, EventKind, Exit, Handler,
    Options, RateLimiter, SmoothRateLimiter, SpawnEvent, Task, TaskFn, UserClass, Value, WaitTime,
};
// The types the API's signatures name: errors, the in-flight guard, the master log layer.
pub use boomer_core::{
    master_log_layer, ArgsError, InFlight, MasterLogLayer, OptionsError, ParseError, RegistryError,
};

/// The shapes of hand-built tasks, handlers and user classes ([`TaskFn`], [`Handler`],
/// [`UserClass`]), for programs that register them without the macros.
pub mod registry {
    pub use boomer_core::registry::{BoxFuture, HandlerFn, Outcome, StartFn, StopFn, UserState};
}

/// Random numbers for tasks, as Python's `random` in a locustfile: the
/// [`fastrand`](https://docs.rs/fastrand/2) crate (a fast, per-thread generator; not for
/// secrets).
///
/// ```
/// let page = boomer::random::usize(1..=3);
/// let category = boomer::random::choice(["books", "games", "music"]).unwrap_or("books");
/// assert!((1..=3).contains(&page) && !category.is_empty());
/// ```
pub use fastrand as random;

/// Registers a fn as a handler of a worker event: it is called each time the event
/// happens.
///
/// ```
/// #[boomer::on(connected)]
/// fn connected() {
///     tracing::info!("the master acked us");
/// }
///
/// #[boomer::on(spawn)]
/// async fn ramp(users: u32, spawn_rate: f64) {
///     tracing::info!(users, spawn_rate, "spawning");
/// }
/// ```
///
/// The fn is a free `fn` or `async fn`, in a module or a fn body (not in an `impl` block,
/// not generic, not `unsafe`), that returns `()`; its parameters depend on the event. An
/// `async` handler's future must be `Send`.
///
/// # Events
///
/// | Event | When | Parameters |
/// |-------|------|------------|
/// | `connected` | the master acked the worker (after each `client_ready`) | none |
/// | `spawn` | the master sent a new user count (each ramp-up step) | see below |
/// | `spawning_complete` | the master says the ramp-up is over | none, or `(user_count: u64)` |
/// | `stop` | the test was stopped: users are stopped | none |
/// | `quit` | the worker is quitting | none |
/// | `test_start` | the first spawn of a test | none |
/// | `test_stop` | the test ended (stop, or quit while running) | none |
/// | `message = "<type>"` | the master sent a custom message of that type | see below |
///
/// A `spawn` handler takes `(users: u32, spawn_rate: f64)`, the parameters of Go boomer's
/// handlers, or the whole [`SpawnEvent`] (`(event: &boomer::SpawnEvent)`) to also see the
/// host and the per-class user counts. A `message` handler takes nothing, or the
/// [`CustomMessage`] (`(message: &boomer::CustomMessage)`):
///
/// ```
/// #[boomer::on(spawn)]
/// fn spawn(event: &boomer::SpawnEvent) {
///     tracing::info!(host = ?event.host(), "spawning");
/// }
///
/// #[boomer::on(message = "user_defined")]
/// fn on_message(message: &boomer::CustomMessage) {
///     let text: String = message.decode().unwrap_or_default();
///     boomer::send_message("acknowledge_users", format!("Thanks for {text:?}"));
/// }
/// ```
///
/// Besides the event, the attribute takes `crate = "<path>"` (`#[boomer::on(stop, crate =
/// "load")]`), as [`task`] does.
///
/// # Several handlers
///
/// An event may have any number of handlers, and so may a message type: all of them run,
/// one after the other, in the order of their module path and fn name. One fn can handle
/// several events by stacking the attribute:
///
/// ```
/// #[boomer::on(stop)]
/// #[boomer::on(quit)]
/// fn flush() {
///     // ...
/// }
/// ```
pub use boomer_macros::on;
/// Registers a fn as a task: every simulated user runs its tasks again and again, picking
/// one at random by weight each time, as Locust's `@task` does.
///
/// ```
/// use std::time::Instant;
///
/// #[boomer::task(weight = 10)]
/// async fn browse(ctx: &mut boomer::Ctx) {
///     let start = Instant::now();
///     // ... do something ...
///     ctx.record_success("http", "browse", start.elapsed(), 512);
/// }
///
/// #[boomer::task]
/// fn ping() -> Result<(), std::io::Error> {
///     // ... an `Err` is recorded as a failure of the task, with the error's text ...
///     Ok(())
/// }
/// ```
///
/// # The fn
///
/// A free `fn` or `async fn`, in a module or a fn body (not in an `impl` block, not
/// generic, not `unsafe`):
///
/// - **Parameters**: none, or one `&mut boomer::Ctx`, the running user's context (to record
///   requests, read the user's id, ...). A task of a user class ([`user`]) takes the user's
///   state first: `(user: &mut MyUser)` or `(user: &mut MyUser, ctx: &mut boomer::Ctx)`; it
///   runs only for users of that class.
/// - **Return type**: `()`, or `Result<(), E>` where `E: Display`: an `Err` is recorded as
///   a failure of the task, with the error's `to_string()`.
/// - **Plain `fn`s run inline** on the user's async task, between its awaits: they must not
///   block (no `std::thread::sleep`, no blocking I/O), or they stall the other users on that
///   thread. Mark a fn that blocks with `blocking`, or make it `async`.
/// - **`async fn`s** are awaited; their future must be `Send`, since users run on a
///   multi-threaded runtime.
///
/// # Keys
///
/// All optional, in any order: `#[boomer::task(weight = 3, name = "login", tags = ["auth"])]`.
///
/// - `weight = <integer>`: how often the task is picked relative to the others: a task of
///   weight 3 runs three times as often as one of weight 1. At least 1; defaults to 1.
/// - `name = "<name>"`: the name the task goes by (in logs, and to tell tasks apart).
///   Not empty; defaults to the fn's name. Two tasks with the same name are an error at
///   start-up.
/// - `tags = ["<tag>", ...]`: tags for selecting tasks with `--tags` and `--exclude-tags`,
///   as with Locust's `@tag`.
/// - `blocking`: the task may block, so it runs on tokio's blocking thread pool instead of
///   inline. Only for a plain `fn` without parameters: an `async fn` never needs it, and the
///   `Ctx` cannot leave its user.
/// - `crate = "<path>"`: the path of this crate, for code that reaches it by another name
///   than `boomer` (a renamed dependency, or a crate re-exporting it); see below.
///
/// ```
/// #[boomer::task(name = "udp-send", tags = ["udp"], blocking)]
/// fn send_datagram() -> std::io::Result<()> {
///     let socket = std::net::UdpSocket::bind("0.0.0.0:0")?;
///     socket.send_to(b"ping", "127.0.0.1:9000")?;
///     Ok(())
/// }
/// ```
///
/// # Under another name
///
/// The code the attributes generate names this crate `::boomer`. Where it has another
/// name, give the path in a string with `crate`, which all three attributes ([`task`],
/// [`on`], [`user`]) take:
///
/// ```
/// extern crate boomer as load;
///
/// #[load::user(crate = "load")]
/// #[derive(Default)]
/// struct Shopper;
///
/// #[load::task(crate = "load", weight = 2)]
/// fn browse(user: &mut Shopper) {
///     let _ = user;
/// }
///
/// #[load::on(test_start, crate = "load")]
/// fn started() {}
/// ```
pub use boomer_macros::task;
/// Makes a struct a user class, as a Locust `User` subclass: each user of the class owns
/// one value of the struct (a session token, a client, counters), built when the user
/// starts, handed to the class's tasks, torn down when it stops.
///
/// ```no_run
/// use std::time::Instant;
///
/// #[boomer::user(weight = 3, wait_time = boomer::between(1.0, 2.0), on_start = log_in)]
/// struct Shopper {
///     token: String,
///     orders: u32,
/// }
///
/// async fn log_in(ctx: &mut boomer::Ctx) -> Result<Shopper, std::io::Error> {
///     let start = Instant::now();
///     // ... POST /login: an `Err` is recorded, and the user tries again ...
///     ctx.record_success("POST", "/login", start.elapsed(), 0);
///     Ok(Shopper { token: format!("token-{}", ctx.user_id()), orders: 0 })
/// }
///
/// #[boomer::task(weight = 5)]
/// async fn browse(user: &mut Shopper, ctx: &mut boomer::Ctx) {
///     let start = Instant::now();
///     // ... GET /items with `user.token` ...
///     ctx.record_success("GET", "/items", start.elapsed(), 512);
/// }
///
/// #[boomer::task]
/// fn order(user: &mut Shopper) {
///     user.orders += 1;
/// }
///
/// boomer::main!();
/// ```
///
/// The master's locustfile must have a class of the same name (`class Shopper(User)`): the
/// master hands out users per class name, and the worker starts as many users of each class
/// as it is told. A worker with a single class takes all the users whatever their class;
/// users of a class the worker does not have are skipped, with one warning.
///
/// # The struct
///
/// A struct with named fields, a tuple struct or a unit struct, without type or lifetime
/// parameters, that is `Send` (its users run on a multi-threaded runtime).
///
/// # Keys
///
/// All optional, in any order:
///
/// - `name = "<name>"`: the Locust class name it answers to. Defaults to the struct's name.
/// - `weight = <integer>`: Locust's class `weight`, at least 1 (default 1): how the users
///   are split between classes when the worker runs without a master.
/// - `fixed_count = <integer>`: Locust's `fixed_count`: exactly this many users of the class
///   (without a master; 0, the default, means none fixed).
/// - `wait_time = <expression>`: the pause after each task, any expression of type
///   [`WaitTime`]: [`between`]`(a, b)`, [`constant`]`(s)`, [`constant_pacing`]`(s)`,
///   [`constant_throughput`]`(per_s)` or [`WaitTime::custom`]. Default: no pause.
/// - `host = "<url>"`: the host its users test when neither the master nor `--host` gives
///   one ([`Ctx::host`]).
/// - `tags = ["<tag>", ...]`: tags that apply to all its tasks (for `--tags` and
///   `--exclude-tags`).
/// - `sequential`: the tasks run one after the other in the order of their definition
///   (module, then line), over and over, instead of being picked at random by weight, as a
///   Locust `SequentialTaskSet`.
/// - `on_start = <path>`: builds a user's state; see below. Without it, the state is
///   `Default::default()`, so the struct must implement `Default`.
/// - `on_stop = <path>`: tears a user down; see below.
/// - `crate = "<path>"`: the path of this crate where it goes by another name, as for
///   [`task`].
///
/// # Hooks
///
/// - `on_start`: an `async fn(&mut boomer::Ctx) -> Self` or `-> Result<Self, E>` where
///   `E: Display` (`Self` being the struct; `on_start = Self::log_in` names an associated
///   fn). It runs once when the user starts, before its first task. An `Err` (or a panic) is
///   recorded as a failure of type `on_start` named after the class, with the error's text,
///   and the user tries again after a pause that doubles from 0.5 s up to 10 s, counting as
///   a running user meanwhile (as in Locust) until it succeeds or is stopped.
/// - `on_stop`: an `async fn(&mut Self, &mut boomer::Ctx)`. It runs when the user stops:
///   when the master lowers the user count, at `stop`, and at `quit` (also after a task was
///   cut short at the end of `stop_timeout`, with a short grace of its own).
///
/// ```no_run
/// #[derive(Default)]
/// #[boomer::user(
///     sequential,
///     wait_time = boomer::constant_throughput(2.0),
///     on_stop = Admin::log_out
/// )]
/// struct Admin {
///     audits: u32,
/// }
///
/// impl Admin {
///     async fn log_out(&mut self, ctx: &mut boomer::Ctx) {
///         ctx.record_success("POST", "/logout", std::time::Duration::ZERO, 0);
///     }
/// }
///
/// #[boomer::task]
/// fn list_orders(admin: &mut Admin) {
///     admin.audits += 1;
/// }
///
/// #[boomer::task]
/// async fn audit(admin: &mut Admin, ctx: &mut boomer::Ctx) -> Result<(), String> {
///     if ctx.stopping() {
///         return Err(format!("cut short after {} audits", admin.audits));
///     }
///     Ok(())
/// }
///
/// boomer::main!();
/// ```
///
/// # Tasks
///
/// A [`task`] whose first parameter is `&mut MyUser` belongs to the class `MyUser`:
/// `(user: &mut MyUser)` or `(user: &mut MyUser, ctx: &mut boomer::Ctx)`, a plain `fn` or
/// an `async fn`, returning `()` or `Result<(), E>` where `E: Display`. Tasks without one
/// belong to the default class. A class needs at least one task.
pub use boomer_macros::user;
/// An HTTP client that records every request, bound to the user's host: HTTPS, HTTP/2,
/// a cookie jar per user, JSON; get it with [`Ctx::http`]. On by default (cargo feature
/// `http`). See [`http::HttpClient`] and, for TLS in code, [`http::HttpConfig`] with
/// [`Builder::http_config`].
#[cfg(feature = "http")]
pub mod http {
    pub use boomer_core::http::{
        Bytes, CookieJar, HeaderMap, HttpClient, HttpConfig, HttpError, HttpOptions, Method,
        RequestBuilder, Response, Timings, Version,
    };
}

/// Where results go besides the master: implement [`output::Output`] for a sink of your own
/// and add it with [`Builder::output`]. The console, CSV, JSON and Prometheus outputs are
/// switched on from the command line (`--csv`, `--json`, `--prometheus-listen`, ...).
pub mod output {
    pub use boomer_core::output::{
        ArrivalCount, ExceptionCount, Output, RunInfo, Snapshot, ThresholdState, PERCENTILES,
    };
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
/// What you set in code rather than on the command line goes in a closure that gets the
/// [`Builder`]: a rate limiter, an output, tasks built at run time, standalone by default.
///
/// ```no_run
/// #[boomer::task]
/// fn noop() {}
///
/// boomer::main!(|b| b.rate_limiter(boomer::SmoothRateLimiter::new(100.0)));
/// ```
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
            $crate::Boomer::builder().run_main()
        }
    };
    ($configure:expr $(,)?) => {
        fn main() -> ::std::process::ExitCode {
            let configure: fn($crate::Builder) -> $crate::Builder = $configure;
            configure($crate::Boomer::builder()).run_main()
        }
    };
}

/// The README's examples, compiled as doctests so that they stay true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
