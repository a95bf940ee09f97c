#[boomer::task(name = "")]
fn task() {}

fn main() {}
