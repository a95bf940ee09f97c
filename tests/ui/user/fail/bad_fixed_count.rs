#[derive(Default)]
#[boomer::user(fixed_count = "2")]
struct Text;

#[derive(Default)]
#[boomer::user(fixed_count = 4294967296)]
struct TooMany;

#[derive(Default)]
#[boomer::user(fixed_count = -1)]
struct Negative;

fn main() {}
