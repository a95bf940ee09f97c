#[boomer::task]
struct Task;

fn main() {}
