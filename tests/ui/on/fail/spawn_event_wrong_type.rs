#[boomer::on(spawn)]
async fn handler(event: &boomer::CustomMessage) {
    let _ = event;
}

fn main() {}
