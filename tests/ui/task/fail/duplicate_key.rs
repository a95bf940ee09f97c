#[boomer::task(weight = 1, weight = 2)]
fn task() {}

fn main() {}
