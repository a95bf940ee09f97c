//! Every worker event, logged: run next to `locust -f examples/locustfile.py --master`.
//!
//! ```text
//! cargo run --release --example events -- --master-port 5557
//! ```

use std::time::{Duration, Instant};

#[boomer::on(connected)]
fn connected() {
    tracing::info!("event: connected (the master acknowledged us)");
}

#[boomer::on(test_start)]
fn test_start() {
    tracing::info!("event: test_start");
}

#[boomer::on(spawn)]
fn spawn(users: u32, spawn_rate: f64) {
    tracing::info!("event: spawn {users} users at {spawn_rate}/s");
}

#[boomer::on(spawn)]
async fn spawn_full(ev: &boomer::SpawnEvent) {
    tracing::info!(
        "event: spawn {:?}, host {:?}, stop_timeout {}",
        ev.user_classes_count(),
        ev.host(),
        ev.stop_timeout()
    );
}

#[boomer::on(spawning_complete)]
fn spawning_complete(user_count: u64) {
    tracing::info!("event: spawning_complete, {user_count} users in the test");
}

#[boomer::on(stop)]
fn stop() {
    tracing::info!("event: stop");
}

#[boomer::on(test_stop)]
fn test_stop() {
    tracing::info!("event: test_stop");
}

#[boomer::on(quit)]
async fn quit() {
    tracing::info!("event: quit");
}

/// A task that sleeps like a 20 ms request and records it.
#[boomer::task]
async fn work(ctx: &mut boomer::Ctx) {
    let start = Instant::now();
    tokio::time::sleep(Duration::from_millis(20)).await;
    ctx.record_success("sleep", "20ms", start.elapsed(), 0);
}

boomer::main!();
