// Every mistake of one item is reported in the same build.
#[boomer::user(weight = 0, fixed_count = x, name = 3, on_stop = 1, colour = "red")]
struct Shopper<T>(T);

fn main() {}
