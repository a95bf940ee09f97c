use std::rc::Rc;

#[boomer::on(test_start)]
async fn handler() {
    let shared = Rc::new(1);
    std::future::ready(()).await;
    let _ = shared;
}

fn main() {}
