// Every accepted shape of a class, of its hooks and of its tasks.

use std::fmt;

/// Named fields, built by an `on_start` that cannot fail.
#[boomer::user(on_start = log_in, on_stop = log_out)]
struct Named {
    token: String,
}

async fn log_in(ctx: &mut boomer::Ctx) -> Named {
    Named {
        token: format!("token-{}", ctx.user_id()),
    }
}

async fn log_out(user: &mut Named, _ctx: &mut boomer::Ctx) {
    user.token.clear();
}

/// A tuple struct whose `on_start` may fail, with hooks in its `impl`.
#[boomer::user(
    name = "Tuple",
    weight = 3,
    fixed_count = 2,
    wait_time = boomer::between(0.5, 1.0),
    host = "http://localhost:8080",
    tags = ["a", "b"],
    sequential,
    on_start = Self::start,
    on_stop = Self::stop,
)]
struct TupleUser(u32);

struct StartError;

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("no luck")
    }
}

impl TupleUser {
    async fn start(_ctx: &mut boomer::Ctx) -> Result<Self, StartError> {
        Ok(TupleUser(0))
    }

    async fn stop(&mut self, _ctx: &mut boomer::Ctx) {}
}

/// A unit struct built with `Default`, any `WaitTime` expression.
#[derive(Default)]
#[boomer::user(wait_time = {
    let per_second = 2.0;
    boomer::constant_throughput(per_second)
})]
struct Unit;

/// A raw identifier, and a path to the hook.
#[derive(Default)]
#[boomer::user(wait_time = boomer::WaitTime::custom(|| std::time::Duration::ZERO), on_stop = hooks::stop)]
pub struct r#Raw {
    count: u64,
}

mod hooks {
    pub async fn stop(_user: &mut super::Raw, _ctx: &mut boomer::Ctx) {}
}

#[boomer::task]
fn sync_user(user: &mut Named) {
    user.token.push('!');
}

#[boomer::task]
fn sync_user_ctx(user: &mut Named, ctx: &mut boomer::Ctx) -> Result<(), String> {
    let _ = (user, ctx.user_id());
    Ok(())
}

#[boomer::task(weight = 2, name = "tuple-async", tags = ["c"])]
async fn async_user(user: &mut TupleUser) {
    user.0 += 1;
}

#[boomer::task]
async fn async_user_ctx(user: &mut TupleUser, ctx: &mut boomer::Ctx) -> Result<(), StartError> {
    let _ = (user, ctx);
    Ok(())
}

#[boomer::task]
fn unit(_user: &mut Unit) {}

#[boomer::task]
async fn raw(user: &mut crate::r#Raw, _: &mut Ctx) {
    user.count += 1;
}

use boomer::Ctx;

// A class declared in a fn body, like a task can be.
fn main() {
    #[derive(Default)]
    #[boomer::user]
    struct Local;

    #[boomer::task]
    fn local(_user: &mut Local) {}
}
