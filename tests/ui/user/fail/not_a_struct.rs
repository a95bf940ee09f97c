#[boomer::user]
enum Shopper {
    Browsing,
}

#[boomer::user]
fn admin() {}

fn main() {}
