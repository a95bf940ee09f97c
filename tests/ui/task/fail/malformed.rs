#[boomer::task(weight = )]
fn task() {}

fn main() {}
