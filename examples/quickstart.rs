//! The quickstart: `cargo run --release --example quickstart`.
//!
//! With no `--host`, the tasks test an HTTP server embedded in this example (on 127.0.0.1,
//! see `embedded/mod.rs`) for 10 s in standalone mode, and print Locust's console tables.
//! `--host http://HOST:PORT` tests that server instead; `--master-host` joins a Locust
//! master as a worker (run `locust -f examples/locustfile.py --master` first).
//!
//! Each request goes through the user's own HTTP client, `ctx.http()`, which records it
//! (`GET /`, a failure if the status is >= 400) on a kept-alive connection.

mod embedded;

#[boomer::task(weight = 3)]
async fn index(ctx: &mut boomer::Ctx) {
    ctx.http().get("/").send().await;
}

#[boomer::task(weight = 1)]
async fn about(ctx: &mut boomer::Ctx) {
    ctx.http().get("/about").send().await;
}

fn main() -> std::process::ExitCode {
    embedded::main()
}
