#[boomer::task(tags = "auth")]
fn task() {}

fn main() {}
