use std::fmt;

#[derive(Debug)]
struct MyError;

impl fmt::Display for MyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("my error")
    }
}

#[boomer::task]
fn io_error() -> std::io::Result<()> {
    Ok(())
}

#[boomer::task]
fn string_error(_ctx: &mut boomer::Ctx) -> Result<(), String> {
    Err("no".into())
}

#[boomer::task]
fn own_error() -> Result<(), MyError> {
    Err(MyError)
}

#[boomer::task(blocking)]
fn blocking_fallible() -> Result<(), &'static str> {
    Ok(())
}

fn main() {}
