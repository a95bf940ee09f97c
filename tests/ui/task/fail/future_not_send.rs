use std::rc::Rc;

#[boomer::task]
async fn task() {
    let shared = Rc::new(1);
    std::future::ready(()).await;
    let _ = shared;
}

fn main() {}
