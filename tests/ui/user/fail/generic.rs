#[boomer::user]
struct Shopper<'a, T, const N: usize> {
    items: &'a [T; N],
}

fn main() {}
