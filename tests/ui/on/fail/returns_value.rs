#[boomer::on(connected)]
fn handler() -> Result<(), String> {
    Ok(())
}

fn main() {}
