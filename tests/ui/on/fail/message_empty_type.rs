#[boomer::on(message = "")]
fn handler() {}

fn main() {}
