#[derive(Default)]
#[boomer::user]
struct Shopper;

// The context comes second.
#[boomer::task]
fn swapped(ctx: &mut boomer::Ctx, user: &mut Shopper) {
    let _ = (ctx, user);
}

// One class per task.
#[boomer::task]
fn two_users(user: &mut Shopper, other: &mut Shopper) {
    let _ = (user, other);
}

// The state by value.
#[boomer::task]
fn by_value(user: Shopper) {
    let _ = user;
}

// A blocking task cannot take the state.
#[boomer::task(blocking)]
fn blocking(user: &mut Shopper) {
    let _ = user;
}

fn main() {}
