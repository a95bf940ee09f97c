#[boomer::task(weight = 10)]
fn weighted() {}

#[boomer::task(name = "renamed")]
fn named() {}

#[boomer::task(tags = ["a", "b"])]
fn tagged() {}

#[boomer::task(tags = [])]
fn no_tags() {}

#[boomer::task(blocking)]
fn blocking() {
    std::thread::sleep(std::time::Duration::from_millis(1));
}

#[boomer::task(blocking, tags = ["slow"], name = "all", weight = 7u32,)]
fn every_key() {}

fn main() {}
