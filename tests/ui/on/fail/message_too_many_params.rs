#[boomer::on(message = "user_defined")]
fn handler(message: &boomer::CustomMessage, extra: u32) {
    let _ = (message, extra);
}

fn main() {}
