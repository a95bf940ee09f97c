use boomer::{CustomMessage, SpawnEvent};

#[boomer::on(connected)]
async fn connected() {
    std::future::ready(()).await;
}

#[boomer::on(spawn)]
async fn spawn(_users: u32, _spawn_rate: f64) {}

#[boomer::on(spawn)]
async fn spawn_event(_event: &SpawnEvent) {}

#[boomer::on(spawning_complete)]
async fn spawning_complete(_user_count: u64) {}

#[boomer::on(stop)]
async fn stop() {}

#[boomer::on(quit)]
async fn quit() {}

#[boomer::on(test_start)]
async fn test_start() {}

#[boomer::on(test_stop)]
async fn test_stop() {}

#[boomer::on(message = "user_defined")]
async fn message(message: &CustomMessage) {
    let kind = message.kind().to_string();
    std::future::ready(()).await;
    let _ = kind;
}

fn main() {}
