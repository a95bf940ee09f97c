#[boomer::task(blocking)]
async fn task() {}

fn main() {}
