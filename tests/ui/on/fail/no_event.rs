#[boomer::on]
fn handler() {}

fn main() {}
