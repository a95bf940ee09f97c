//! End-to-end test worker for a mixed fleet (tests/e2e_http.rs): the Python locustfile's
//! `FleetUser` (tests/fleet_locustfile.py), request for request.

use std::time::Duration;

use boomer::Ctx;

#[boomer::user(wait_time = boomer::constant(0.05))]
#[derive(Default)]
struct FleetUser;

#[boomer::task]
async fn faults(_: &mut FleetUser, ctx: &mut Ctx) {
    let closed = std::env::var("FLEET_CLOSED_PORT").unwrap_or_else(|_| "1".into());
    ctx.http().get("/missing").send().await;
    let slow = ctx.http().get("/slow").timeout(Duration::from_millis(200));
    slow.send().await;
    let refused = format!("http://127.0.0.1:{closed}/refused");
    ctx.http().get(&refused).send().await;
}

boomer::main!();
