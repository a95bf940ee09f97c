#[boomer::task]
fn task<T: Default>() {
    let _ = T::default();
}

fn main() {}
