//! End-to-end test worker for sessions: each user logs in with JSON at `on_start` (a
//! session cookie and a bearer token come back), then runs `SESSION_TOTAL` tasks in all
//! (default 300), alternating `GET /me` — a failure unless the server names this very user,
//! so a cookie that leaked between users shows — and `POST /echo` with a JSON body that must
//! come back as sent, with the bearer token and the query.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use boomer::Ctx;
use serde::{Deserialize, Serialize};

static NEXT: AtomicU64 = AtomicU64::new(0);

fn total() -> u64 {
    static TOTAL: OnceLock<u64> = OnceLock::new();
    *TOTAL.get_or_init(|| {
        std::env::var("SESSION_TOTAL")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(300)
    })
}

#[boomer::user(on_start = Self::log_in)]
struct Member {
    name: String,
}

#[derive(Deserialize)]
struct Token {
    token: String,
}

impl Member {
    async fn log_in(ctx: &mut Ctx) -> Result<Self, String> {
        let name = format!("user-{}", ctx.user_id());
        let resp = ctx
            .http()
            .post("/login")
            .json(&serde_json::json!({ "username": name }))
            .send()
            .await;
        let token: Token = resp.json().map_err(|e| e.to_string())?;
        drop(resp);
        ctx.http()
            .set_bearer_auth(&token.token)
            .map_err(|e| e.to_string())?;
        Ok(Member { name })
    }
}

#[derive(Serialize, Deserialize, PartialEq, Debug)]
struct Item {
    id: u64,
    tags: Vec<String>,
}

#[derive(Deserialize)]
struct Me {
    username: String,
}

#[derive(Deserialize)]
struct Echo {
    body: String,
    query: String,
    authorization: String,
}

#[boomer::task]
async fn visit(member: &mut Member, ctx: &mut Ctx) {
    let i = NEXT.fetch_add(1, Ordering::Relaxed);
    if i >= total() {
        tokio::time::sleep(Duration::from_millis(20)).await;
        return;
    }
    if i.is_multiple_of(2) {
        let mut resp = ctx.http().get("/me").send().await;
        match resp.json::<Me>() {
            Ok(me) if me.username == member.name => {}
            Ok(me) => resp.failure(format!("the server saw {} as {}", member.name, me.username)),
            Err(e) => resp.failure(e),
        }
    } else {
        let item = Item {
            id: i,
            tags: vec!["a b".into(), "é".into()],
        };
        let mut resp = ctx
            .http()
            .post("/echo")
            .query(&[("user", member.name.as_str())])
            .name("/echo")
            .json(&item)
            .send()
            .await;
        let want_query = format!("user={}", member.name);
        let want_auth = format!("Bearer t-{}", member.name);
        match resp.json::<Echo>() {
            Ok(e) if e.query == want_query && e.authorization == want_auth => {
                match serde_json::from_str::<Item>(&e.body) {
                    Ok(back) if back == item => {}
                    other => resp.failure(format!("JSON came back as {other:?}")),
                }
            }
            Ok(e) => resp.failure(format!("query {:?}, auth {:?}", e.query, e.authorization)),
            Err(e) => resp.failure(e),
        }
    }
}

#[boomer::on(test_start)]
fn reset() {
    NEXT.store(0, Ordering::Relaxed);
}

boomer::main!();
