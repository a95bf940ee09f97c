// A mistake in `#[boomer::user(...)]` is one error: the class's tasks (which take
// `&mut Shopper`) and hooks do not add "`Shopper` is not a user class" on top of it.
#[derive(Default)]
#[boomer::user(weight = 0)]
struct Shopper {
    carts: u32,
}

#[boomer::task]
fn browse(user: &mut Shopper) {
    user.carts += 1;
}

#[boomer::task]
async fn checkout(user: &mut Shopper, _ctx: &mut boomer::Ctx) {
    user.carts = 0;
}

fn main() {}
