//! Custom messages both ways, with examples/custom_message.py on the master:
//!
//! ```text
//! locust -f examples/custom_message.py --master --headless -u 2 -r 2 -t 10s
//! cargo run --release --example custom_message
//! ```
//!
//! The master sends `user_defined` (a JSON string) and `user_map` (a dict) at test start.
//! This worker answers **every** one of them with `acknowledge_users`, whatever the payload
//! looks like, and logs what it got (as Go boomer's example does). Reading the payload into
//! a struct is a second step, and an optional one: a body of another shape is still
//! answered.

use std::time::Duration;

use serde::Deserialize;

/// The JSON body examples/custom_message.py sends as `user_defined`.
#[derive(Debug, Deserialize)]
struct Body {
    worker: u32,
    users: Vec<String>,
}

/// `user_map` arrives as a msgpack map: it decodes straight into a struct.
#[derive(Debug, Deserialize)]
struct MapBody {
    worker: u32,
    tags: Vec<String>,
}

#[boomer::on(message = "user_defined")]
fn user_defined(msg: &boomer::CustomMessage) {
    // Step 1, for any payload: log it and answer.
    log("user_defined", msg);
    // Step 2, optional: the body this example knows, when it is one.
    let known = msg
        .decode::<String>()
        .ok()
        .and_then(|text| serde_json::from_str::<Body>(&text).ok());
    let reply = match known {
        Some(body) => format!(
            "Thanks for the message: worker {} got users {}",
            body.worker,
            body.users.join(",")
        ),
        None => "Thanks for the message".to_string(),
    };
    boomer::send_message("acknowledge_users", reply);
}

#[boomer::on(message = "user_map")]
async fn user_map(msg: &boomer::CustomMessage) {
    log("user_map", msg);
    let reply = match msg.decode::<MapBody>() {
        Ok(body) => format!(
            "Thanks for the message: worker {} got tags {}",
            body.worker,
            body.tags.join(",")
        ),
        Err(_) => "Thanks for the message".to_string(),
    };
    boomer::send_message("acknowledge_users", reply);
}

/// A text payload as it is (JSON here); any other shape as its msgpack value, with Debug
/// (Display recurses at 2 KB of stack per level in a debug build: a Python master may nest
/// 1023 levels).
fn log(kind: &str, msg: &boomer::CustomMessage) {
    match msg.data().as_str() {
        Some(text) => tracing::info!("{kind}: {text}"),
        None => tracing::info!("{kind}: {:?}", msg.data()),
    }
}

#[boomer::task]
async fn idle(ctx: &mut boomer::Ctx) {
    tokio::time::sleep(Duration::from_millis(100)).await;
    ctx.record_success("custom", "idle", Duration::from_millis(100), 0);
}

boomer::main!();
