// One fn for several events, and several fns for one message type: all allowed.

#[boomer::on(stop)]
#[boomer::on(quit)]
fn flush() {}

#[boomer::on(message = "shared")]
fn first() {}

#[boomer::on(message = "shared")]
async fn second(_: &boomer::CustomMessage) {}

mod nested {
    #[boomer::on(connected)]
    pub(crate) fn r#in() {}
}

fn main() {
    #[boomer::on(test_start)]
    fn local() {}

    flush();
}
