#[boomer::task(weight = 0)]
fn task() {}

fn main() {}
