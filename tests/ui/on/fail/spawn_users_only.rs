#[boomer::on(spawn)]
fn handler(users: u32) {
    let _ = users;
}

fn main() {}
