#[derive(Default)]
#[boomer::user(name = Shopper)]
struct Shopper;

#[derive(Default)]
#[boomer::user(name = "")]
struct Empty;

fn main() {}
