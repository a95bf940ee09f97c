#[boomer::on(spawn)]
fn handler() {}

fn main() {}
