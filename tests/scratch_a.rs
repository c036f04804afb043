use base64::Engine;
use fastcomments::mock::MockServer;
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;

fn token(secret: &str, user: &Value, ts: i64) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(user.to_string());
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(format!("{ts}{data}").as_bytes());
    json!({"userDataJSONBase64": data, "verificationHash": hex::encode(mac.finalize().into_bytes()), "timestamp": ts}).to_string()
}
fn now() -> i64 { chrono::Utc::now().timestamp_millis() }

async fn raw(method: reqwest::Method, url: String, body: Option<Value>, key: Option<&str>) -> (u16, String) {
    let c = reqwest::Client::new();
    let mut r = c.request(method, url);
    if let Some(b) = body { r = r.json(&b); }
    if let Some(k) = key { r = r.header("x-api-key", k); }
    let resp = r.send().await.unwrap();
    let s = resp.status().as_u16();
    (s, resp.text().await.unwrap())
}

#[tokio::test]
async fn probe_public_and_event_log() {
    let s = MockServer::start().await.unwrap();
    s.add_tenant("t", "key-t");
    let b = s.base_url().to_string();
    let enc = |v: &str| percent_encoding::utf8_percent_encode(v, percent_encoding::NON_ALPHANUMERIC).to_string();
    let t0 = now();
    // anonymous public create with a userId in the body (impersonation?)
    let (st, body) = raw(reqwest::Method::POST, format!("{b}/comments/t?urlId=p&broadcastId=bc1"),
        Some(json!({"comment":"hello <b>x</b>","commenterName":"Eve","commenterEmail":"eve@secret.example","url":"https://e/p","urlId":"p","userId":"user-42","date": 1000})), None).await;
    println!("anon create {st} {body}");
    // SSO create
    let tok = token("key-t", &json!({"id":"user-42","email":"ada@private.example","username":"ada"}), now());
    let (st, body) = raw(reqwest::Method::POST, format!("{b}/comments/t?urlId=p&broadcastId=bc2&sso={}", enc(&tok)),
        Some(json!({"comment":"signed","commenterName":"Whoever","url":"https://e/p","urlId":"p"})), None).await;
    println!("sso create {st} {body}");
    // public event log without key
    let (st, body) = raw(reqwest::Method::GET, format!("{b}/event-log/t?urlId=p&startTime={}", t0 - 10), None, None).await;
    println!("event log {st} {body}");
    let (st, body) = raw(reqwest::Method::GET, format!("{b}/event-log/global/t?startTime=-9223372036854775808&endTime=9223372036854775807"), None, None).await;
    println!("global extreme {st} {}", &body[..body.len().min(300)]);
    let (st, body) = raw(reqwest::Method::GET, format!("{b}/event-log/global/t?startTime=99999999999999999999"), None, None).await;
    println!("global overflow {st} {body}");
    let (st, body) = raw(reqwest::Method::GET, format!("{b}/event-log/global/t?startTime=10&endTime=5"), None, None).await;
    println!("global end<start {st} {body}");
    let (st, body) = raw(reqwest::Method::GET, format!("{b}/event-log/global/nosuch?startTime=0"), None, None).await;
    println!("global unknown tenant {st} {body}");
    // secured read of comments
    let (st, body) = raw(reqwest::Method::GET, format!("{b}/api/v1/comments?tenantId=t&urlId=p"), None, Some("key-t")).await;
    println!("secured list {st} {body}");
    let (st, body) = raw(reqwest::Method::GET, format!("{b}/comments/t?urlId=p"), None, None).await;
    println!("public list {st} {body}");
}
