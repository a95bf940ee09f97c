use std::rc::Rc;

#[derive(Default)]
#[boomer::user]
struct Shopper {
    cart: Rc<Vec<u32>>,
}

fn main() {}
