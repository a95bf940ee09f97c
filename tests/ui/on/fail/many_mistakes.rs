// Every mistake of one item is reported in the same build.
#[boomer::on(spwan, quit)]
unsafe fn handler<T>() -> bool {
    true
}

fn main() {}
