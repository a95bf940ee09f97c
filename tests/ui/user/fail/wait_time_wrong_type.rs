#[derive(Default)]
#[boomer::user(wait_time = 1.5)]
struct Seconds;

#[derive(Default)]
#[boomer::user(wait_time = std::time::Duration::from_secs(1))]
struct Duration;

fn main() {}
