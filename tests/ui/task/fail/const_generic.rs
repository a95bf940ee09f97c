#[boomer::task]
fn task<const N: usize>() {}

fn main() {}
