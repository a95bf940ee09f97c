#[derive(Debug)]
struct NotDisplay;

#[boomer::task]
fn task() -> Result<(), NotDisplay> {
    Err(NotDisplay)
}

fn main() {}
