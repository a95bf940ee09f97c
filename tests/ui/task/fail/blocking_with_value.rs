#[boomer::task(blocking = true)]
fn task() {}

fn main() {}
