#[derive(Default)]
#[boomer::user(weight = 1, name = "A", weight = 2, sequential, sequential)]
struct Shopper;

fn main() {}
