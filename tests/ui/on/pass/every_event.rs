use boomer::{CustomMessage, SpawnEvent};

#[boomer::on(connected)]
fn connected() {}

#[boomer::on(spawn)]
fn spawn(users: u32, spawn_rate: f64) {
    let _ = (users, spawn_rate);
}

#[boomer::on(spawn)]
fn spawn_event(event: &boomer::SpawnEvent) {
    let _ = event;
}

#[boomer::on(spawn)]
fn spawn_event_imported<'a>(_: &'a SpawnEvent) {}

#[boomer::on(spawning_complete)]
fn spawning_complete() {}

#[boomer::on(spawning_complete)]
fn spawning_complete_count(user_count: u64) {
    let _ = user_count;
}

#[boomer::on(stop)]
fn stop() {}

#[boomer::on(quit)]
fn quit() -> () {}

#[boomer::on(test_start)]
fn test_start() {}

#[boomer::on(test_stop)]
fn test_stop() {}

#[boomer::on(message = "user_defined")]
fn message(message: &CustomMessage) {
    let _ = message.kind();
}

#[boomer::on(message = "ping")]
fn message_without_payload() {}

fn main() {}
