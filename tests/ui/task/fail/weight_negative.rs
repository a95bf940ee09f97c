#[boomer::task(weight = -1)]
fn task() {}

fn main() {}
