#[boomer::on(spawn)]
fn handler(users: u64, spawn_rate: f64) {
    let _ = (users, spawn_rate);
}

fn main() {}
