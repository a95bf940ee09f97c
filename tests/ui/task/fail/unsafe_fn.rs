#[boomer::task]
unsafe fn task() {}

fn main() {}
