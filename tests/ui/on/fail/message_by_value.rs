#[boomer::on(message = "user_defined")]
fn handler(message: boomer::CustomMessage) {
    let _ = message;
}

fn main() {}
