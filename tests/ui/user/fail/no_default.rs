// Without on_start, the state is `Default::default()`.
#[boomer::user(weight = 2)]
struct Shopper {
    token: String,
}

#[boomer::task]
fn browse(user: &mut Shopper) {
    let _ = &user.token;
}

fn main() {}
