//! SSO payloads as a public API operation receives them.

use base64::Engine;
use fastcomments::sso::{SecureSso, SsoUser};
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::Sha256;

use crate::common::mock;

#[tokio::test]
async fn a_public_operation_receives_an_sso_parameter_the_server_can_verify() {
    let (server, client) = mock().await;
    let user = SsoUser::new("user-42", "ada@example.com", "ada");
    let payload = SecureSso::new("tenant-secret").sign(&user);
    // Whatever the mock answers, the request went out; check what it carried.
    let _ = client
        .search_users()
        .url_id("post-1")
        .username_starts_with("a")
        .sso(payload.to_query_param())
        .send()
        .await;
    let request = server
        .requests()
        .into_iter()
        .find(|r| r.path.starts_with("/user-search/"))
        .expect("the request was sent");
    assert_eq!(request.api_key, None, "a public operation gets no API key");
    let sso: Value = serde_json::from_str(&request.query_param("sso").unwrap()).unwrap();
    let (data, timestamp) = (
        sso["userDataJSONBase64"].as_str().unwrap(),
        sso["timestamp"].as_i64().unwrap(),
    );
    let mut mac = Hmac::<Sha256>::new_from_slice(b"tenant-secret").unwrap();
    mac.update(format!("{timestamp}{data}").as_bytes());
    assert_eq!(
        sso["verificationHash"],
        hex::encode(mac.finalize().into_bytes())
    );
    let user: Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap(),
    )
    .unwrap();
    assert_eq!(user["id"], "user-42");
    assert_eq!(user["username"], "ada");
}
