#[boomer::task(name = login)]
fn task() {}

fn main() {}
