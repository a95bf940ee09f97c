#[boomer::on(message)]
fn handler(message: &boomer::CustomMessage) {
    let _ = message;
}

fn main() {}
