#[boomer::task]
fn task(count: u32) {
    let _ = count;
}

fn main() {}
