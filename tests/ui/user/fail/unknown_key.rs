#[derive(Default)]
#[boomer::user(wieght = 3)]
struct Shopper;

fn main() {}
