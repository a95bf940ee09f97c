#[derive(Default)]
#[boomer::user(arrival_rate = -5)]
struct Negative;

#[derive(Default)]
#[boomer::user(arrival_rate = true)]
struct NotANumber;

#[derive(Default)]
#[boomer::user(arrival_rate = "")]
struct Empty;

#[derive(Default)]
#[boomer::user(arrival_rate)]
struct NoValue;

fn main() {}
