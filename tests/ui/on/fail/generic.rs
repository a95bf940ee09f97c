#[boomer::on(stop)]
fn handler<T: Default>() {
    let _ = T::default();
}

fn main() {}
