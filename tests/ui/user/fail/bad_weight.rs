#[derive(Default)]
#[boomer::user(weight = 0)]
struct Zero;

#[derive(Default)]
#[boomer::user(weight = 1.5)]
struct Fraction;

#[derive(Default)]
#[boomer::user(weight = -1)]
struct Negative;

#[derive(Default)]
#[boomer::user(weight)]
struct NoValue;

fn main() {}
