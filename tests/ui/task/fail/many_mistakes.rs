// Every mistake of one item is reported in the same build.
#[boomer::task(weight = 0, name = "", colour = "red")]
fn task<T>(_count: u32) {}

fn main() {}
