use boomer::Ctx;

#[boomer::task]
fn no_param() {}

#[boomer::task]
fn with_ctx(_ctx: &mut boomer::Ctx) {}

#[boomer::task]
fn with_imported_ctx(_: &mut Ctx) {}

#[boomer::task]
fn with_lifetime<'a>(_ctx: &'a mut Ctx) {}

#[boomer::task]
fn explicit_unit() -> () {}

#[boomer::task]
pub fn public() {}

fn main() {
    // The fns are left as they were.
    no_param();
    public();
}
