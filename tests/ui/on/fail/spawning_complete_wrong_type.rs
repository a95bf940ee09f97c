#[boomer::on(spawning_complete)]
fn handler(user_count: u32) {
    let _ = user_count;
}

fn main() {}
