//! A shop's customer, the scenario of `examples/shop.py` for Locust: log in with JSON (the
//! client keeps the session cookie; the token goes in every request's `Authorization`),
//! browse products page by page, view some (counted as one `/products/[id]`, a 200 without
//! a price counted as a failure), fill the cart, log out.
//!
//! ```text
//! cargo run --release --example shop          # 10 s against the embedded shop
//! cargo run --release --example shop -- --host http://127.0.0.1:8080 -u 100 -t 1m
//! locust -f examples/shop.py --master         # then: ... --example shop -- --master-host 127.0.0.1
//! ```
//!
//! The embedded shop has products without a price (ids 7, 17, ...): their failures, and an
//! exit code of 1, are what this test is meant to find.

use boomer::{http::HttpError, random, Ctx};
use serde_json::{json, Value};

mod embedded; // the shop under test when no --host is given, and `fn main`
use embedded::main;

const CATEGORIES: [&str; 3] = ["books", "games", "music"];

#[boomer::user(wait_time = boomer::between(0.1, 0.5), on_start = log_in, on_stop = log_out)]
struct Shopper;

async fn log_in(ctx: &mut Ctx) -> Result<Shopper, HttpError> {
    let login = json!({"username": format!("user{}", ctx.user_id()), "password": "secret"});
    let resp: Value = ctx.http().post("/login").json(&login).send().await.json()?;
    let token = resp["token"].as_str().unwrap_or_default();
    ctx.http().set_bearer_auth(token)?;
    Ok(Shopper)
}

async fn log_out(_: &mut Shopper, ctx: &mut Ctx) {
    ctx.http().post("/logout").send().await;
}

#[boomer::task(weight = 4)]
async fn browse(_: &mut Shopper, ctx: &mut Ctx) {
    // Without .name(), a request is named by its path and query string, as in Locust.
    let query = json!({"page": random::usize(1..=3), "category": random::choice(CATEGORIES)});
    let request = ctx.http().get("/products").query(&query);
    request.name("/products").send().await;
}

#[boomer::task(weight = 3)]
async fn view_product(_: &mut Shopper, ctx: &mut Ctx) {
    let path = format!("/products/{}", random::usize(1..=90));
    let mut resp = ctx.http().get(&path).name("/products/[id]").send().await;
    if resp.ok() && !resp.json::<Value>().is_ok_and(|p| !p["price"].is_null()) {
        resp.failure("no price");
    }
}

#[boomer::task(weight = 2)]
async fn add_to_cart(_: &mut Shopper, ctx: &mut Ctx) {
    let item = json!({"product_id": random::usize(1..=90), "quantity": 1});
    ctx.http().post("/cart").json(&item).send().await;
}

#[boomer::task]
async fn view_cart(_: &mut Shopper, ctx: &mut Ctx) {
    ctx.http().get("/cart").send().await;
}
