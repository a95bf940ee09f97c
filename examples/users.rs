//! Two user classes with their own state, next to `examples/users.py`, whose classes have
//! the same names and weights 3:1:
//!
//! ```text
//! locust -f examples/users.py --master
//! cargo run --release --example users
//! ```
//!
//! A `Shopper` logs in when it starts (its `on_start`), browses and buys with its session
//! token, and logs out when it stops; an `Admin` lists orders then approves one, in that
//! order, twice a second. The requests are pretend (a short sleep), but recorded for real.
//! Tasks are tagged (`shop`, `checkout`, `admin`): `--tags admin` on the master runs only
//! the admin's.

use std::time::{Duration, Instant};

use boomer::Ctx;

/// One shopper's session.
#[boomer::user(
    wait_time = boomer::between(0.1, 0.3),
    on_start = Self::log_in,
    on_stop = Self::log_out
)]
struct Shopper {
    token: String,
    cart: Vec<u32>,
}

impl Shopper {
    /// `POST /login`. An `Err` would be recorded as an `on_start` failure, and the user
    /// would try again a little later.
    async fn log_in(ctx: &mut Ctx) -> Result<Self, String> {
        let token = request(ctx, "POST", "/login", 20).await;
        Ok(Shopper {
            token,
            cart: Vec::new(),
        })
    }

    /// What a real request would send as `Authorization: Bearer <token>`. An `Err` returned
    /// by a task is recorded as a failure of the task, with its text.
    fn authorise(&self) -> Result<&str, String> {
        match self.token.as_str() {
            "" => Err("not logged in".to_string()),
            token => Ok(token),
        }
    }

    /// `POST /logout`, when the user stops (the master lowers the count, stop, quit).
    async fn log_out(&mut self, ctx: &mut Ctx) {
        request(ctx, "POST", "/logout", 10).await;
        self.token.clear();
    }
}

#[boomer::task(weight = 5, tags = ["shop"])]
async fn browse(shopper: &mut Shopper, ctx: &mut Ctx) -> Result<(), String> {
    shopper.authorise()?;
    request(ctx, "GET", "/items", 15).await;
    shopper.cart.push(shopper.cart.len() as u32);
    Ok(())
}

#[boomer::task(weight = 2, tags = ["shop"])]
async fn view_cart(shopper: &mut Shopper, ctx: &mut Ctx) -> Result<(), String> {
    shopper.authorise()?;
    request(ctx, "GET", "/cart", 10).await;
    Ok(())
}

#[boomer::task(tags = ["shop", "checkout"])]
async fn checkout(shopper: &mut Shopper, ctx: &mut Ctx) -> Result<(), String> {
    shopper.authorise()?;
    if shopper.cart.is_empty() {
        return Ok(());
    }
    request(ctx, "POST", "/checkout", 40).await;
    shopper.cart.clear();
    Ok(())
}

/// An admin works through its tasks in order: list the orders, then approve the next one.
#[derive(Default)]
#[boomer::user(sequential, wait_time = boomer::constant_throughput(2.0))]
struct Admin {
    pending: u32,
}

#[boomer::task(tags = ["admin"])]
async fn list_orders(admin: &mut Admin, ctx: &mut Ctx) {
    request(ctx, "GET", "/admin/orders", 25).await;
    admin.pending += 1;
}

#[boomer::task(tags = ["admin"])]
async fn approve_order(admin: &mut Admin, ctx: &mut Ctx) {
    if admin.pending > 0 {
        request(ctx, "POST", "/admin/orders/approve", 30).await;
        admin.pending -= 1;
    }
}

/// A pretend request of about `millis` ms, recorded as `method name`; returns a token.
async fn request(ctx: &mut Ctx, method: &str, name: &str, millis: u64) -> String {
    let start = Instant::now();
    tokio::time::sleep(Duration::from_millis(millis)).await;
    ctx.record_success(method, name, start.elapsed(), 128);
    format!("token-{}", ctx.user_id())
}

boomer::main!();
