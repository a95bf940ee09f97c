#[boomer::on(spwan)]
fn handler() {}

fn main() {}
