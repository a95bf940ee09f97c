#[boomer::task(weight = "10")]
fn task() {}

fn main() {}
