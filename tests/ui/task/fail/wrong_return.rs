#[boomer::task]
fn task() -> u32 {
    42
}

fn main() {}
