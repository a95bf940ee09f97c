#[boomer::on(stop, quit)]
fn handler() {}

fn main() {}
