// Tasks may live in any module, in a fn body, or be named with a raw identifier.

mod nested {
    pub mod deeper {
        #[boomer::task]
        pub(crate) async fn in_a_module(_ctx: &mut boomer::Ctx) {}
    }
}

/// Documented, and with other attributes around it.
#[inline]
#[boomer::task(weight = 2)]
#[allow(clippy::all)]
fn with_attributes() {}

#[boomer::task]
fn r#loop() {}

fn main() {
    #[boomer::task]
    fn local() {}
}
