//! Custom messages both ways, with examples/custom_message.py on the master:
//!
//! ```text
//! locust -f examples/custom_message.py --master --headless -u 2 -r 2 -t 10s
//! cargo run --release --example custom_message
//! ```
//!
//! The master sends `user_defined` (a JSON string) and `user_map` (a dict) at test start;
//! this worker logs them and answers `acknowledge_users`.

use std::time::Duration;

use serde::Deserialize;

/// The JSON body of `user_defined`.
#[derive(Debug, Deserialize)]
struct Body {
    worker: u32,
    users: Vec<String>,
}

/// `user_map` arrives as a msgpack map: decode it straight into a struct.
#[derive(Debug, Deserialize)]
struct MapBody {
    worker: u32,
    tags: Vec<String>,
}

#[boomer::on(message = "user_defined")]
fn user_defined(msg: &boomer::CustomMessage) {
    let text: String = match msg.decode() {
        Ok(text) => text,
        Err(e) => return tracing::error!("user_defined is not a string: {e}"),
    };
    match serde_json::from_str::<Body>(&text) {
        Ok(body) => {
            tracing::info!("user_defined: {body:?}");
            boomer::send_message(
                "acknowledge_users",
                format!("worker {} got users {}", body.worker, body.users.join(",")),
            );
        }
        Err(e) => tracing::error!("user_defined is not the expected JSON: {e}"),
    }
}

#[boomer::on(message = "user_map")]
async fn user_map(msg: &boomer::CustomMessage) {
    match msg.decode::<MapBody>() {
        Ok(body) => {
            tracing::info!("user_map: {body:?}");
            boomer::send_message(
                "acknowledge_users",
                format!("worker {} got tags {}", body.worker, body.tags.join(",")),
            );
        }
        Err(e) => tracing::error!("user_map is not the expected map: {e} ({:?})", msg.data()),
    }
}

#[boomer::task]
async fn idle(ctx: &mut boomer::Ctx) {
    tokio::time::sleep(Duration::from_millis(100)).await;
    ctx.record_success("custom", "idle", Duration::from_millis(100), 0);
}

boomer::main!();
