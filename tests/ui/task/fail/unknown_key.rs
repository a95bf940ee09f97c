#[boomer::task(wieght = 3)]
fn task() {}

fn main() {}
