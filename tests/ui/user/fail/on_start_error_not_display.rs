#[derive(Debug)]
struct LoginError;

#[boomer::user(on_start = log_in)]
struct Shopper;

async fn log_in(_ctx: &mut boomer::Ctx) -> Result<Shopper, LoginError> {
    Err(LoginError)
}

fn main() {}
