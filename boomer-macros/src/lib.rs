//! The attributes of [boomer](https://docs.rs/boomer): `#[boomer::task]`, `#[boomer::on]`
//! and `#[boomer::user]`. Use them through the `boomer` crate, which re-exports them; the
//! code they generate refers to `::boomer::__private` only.
//!
//! Each attribute registers the fn or struct it annotates (with `inventory`) and leaves it
//! untouched, so it can still be used, tested and documented like any other. Every mistake
//! in one attribute and its item is reported in the same build, at the tokens that caused
//! it.

mod args;
mod emit;
mod errors;
mod on;
mod sig;
mod task;
mod user;

use proc_macro::TokenStream;

/// Registers a fn as a task: every simulated user runs its tasks again and again, picking
/// one at random by weight each time, as Locust's `@task` does.
///
/// ```ignore
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
///   requests, read the user's id, ...). A task of a user class (`#[boomer::user]`) takes
///   the user's state first: `(user: &mut MyUser)` or `(user: &mut MyUser, ctx: &mut
///   boomer::Ctx)`; it runs only for users of that class.
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
///
/// ```ignore
/// #[boomer::task(name = "udp-send", tags = ["udp"], blocking)]
/// fn send_datagram() -> std::io::Result<()> {
///     let socket = std::net::UdpSocket::bind("0.0.0.0:0")?;
///     socket.send_to(b"ping", "127.0.0.1:9000")?;
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn task(args: TokenStream, item: TokenStream) -> TokenStream {
    task::expand(args.into(), item.into()).into()
}

/// Registers a fn as a handler of a worker event: it is called each time the event
/// happens.
///
/// ```ignore
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
/// not generic, not `unsafe`), that returns `()`; its parameters depend on the event. An `async` handler's future must be
/// `Send`.
///
/// # Events
///
/// | Event | When | Parameters |
/// |-------|------|------------|
/// | `connected` | the master acknowledged the worker (after each `client_ready`) | none |
/// | `spawn` | the master sent a new target user count (each ramp-up step) | `(users: u32, spawn_rate: f64)` or `(event: &boomer::SpawnEvent)` |
/// | `spawning_complete` | the master says the ramp-up is over | none, or `(user_count: u64)` |
/// | `stop` | the test was stopped: users are stopped | none |
/// | `quit` | the worker is quitting | none |
/// | `test_start` | the first spawn of a test | none |
/// | `test_stop` | the test ended (stop, or quit while running) | none |
/// | `message = "<type>"` | the master sent a custom message of that type | none, or `(message: &boomer::CustomMessage)` |
///
/// The `spawn` parameters `(users, spawn_rate)` are those of Go boomer's handlers; take the
/// whole [`SpawnEvent`](https://docs.rs/boomer/latest/boomer/struct.SpawnEvent.html) to
/// also see the host and the per-class user counts:
///
/// ```ignore
/// #[boomer::on(spawn)]
/// fn spawn(event: &boomer::SpawnEvent) {
///     tracing::info!(host = ?event.host(), "spawning");
/// }
///
/// #[boomer::on(message = "user_defined")]
/// fn on_message(message: &boomer::CustomMessage) {
///     let text: String = message.decode().unwrap_or_default();
///     boomer::send_message("acknowledge_users", "Thanks for the message");
/// }
/// ```
///
/// # Several handlers
///
/// An event may have any number of handlers, and so may a message type: all of them run,
/// one after the other, in the order of their module path and fn name. One fn can handle
/// several events by stacking the attribute:
///
/// ```ignore
/// #[boomer::on(stop)]
/// #[boomer::on(quit)]
/// fn flush() {
///     // ...
/// }
/// ```
#[proc_macro_attribute]
pub fn on(args: TokenStream, item: TokenStream) -> TokenStream {
    on::expand(args.into(), item.into()).into()
}

/// Registers a struct as a user class, as a Locust `User` subclass: its value is the state
/// of one user, built by `on_start` and torn down by `on_stop`. Documented, with examples,
/// on its re-export `boomer::user`.
#[proc_macro_attribute]
pub fn user(args: TokenStream, item: TokenStream) -> TokenStream {
    user::expand(args.into(), item.into()).into()
}
