#[boomer::user(on_start = |ctx| Shopper, on_stop = "log_out")]
struct Shopper;

#[boomer::user(on_start)]
struct Admin;

fn main() {}
