#[boomer::task(tags = ["auth", slow])]
fn task() {}

fn main() {}
