#[boomer::on(stop)]
static STOPPED: bool = false;

fn main() {}
