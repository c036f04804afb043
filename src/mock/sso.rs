//! SSO as FastComments checks it on every operation that takes an `sso` parameter (the
//! public API and the moderation API): the parameter is the JSON text of one of
//!
//! - secure SSO `{userDataJSONBase64, verificationHash, timestamp}`: the hash must be the
//!   hex HMAC-SHA256 of `"<timestamp><userDataJSONBase64>"` keyed with the tenant's API
//!   secret (in the mock, its API key), the timestamp epoch milliseconds no more than
//!   [`MAX_AGE_MS`] old and no more than [`MAX_AHEAD_MS`] ahead, and the user data base64
//!   of a JSON object with a non-empty `id`;
//! - the logged-out secure form `{timestamp, loginURL?, logoutURL?}`: anonymous;
//! - simple SSO, the user's data itself (`{username, email?, avatar?}`, as FastComments'
//!   other SDKs send it) or under `simpleSSO`: unsigned, taken as it is; without a
//!   `username` it is the logged-out form, anonymous.
//!
//! Anything else (not JSON, a forged or foreign hash, an expired or future timestamp,
//! half a secure payload, user data that is not base64 JSON with an `id`) is refused
//! with HTTP 401, code `invalid-sso` (FastComments does not document its code; this is
//! the mock's choice), and the reason. A verified user is kept as the tenant's SSO user
//! (`GetSSOUsers` lists it) and is who the call acts as.

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use super::respond::Failure;
use super::store::{Object, State, now_ms};

/// The oldest a secure SSO timestamp may be: two days, as FastComments documents.
pub(crate) const MAX_AGE_MS: i64 = 2 * 24 * 60 * 60 * 1000;
/// How far ahead of the mock's clock a timestamp may be (clock skew): one minute.
pub(crate) const MAX_AHEAD_MS: i64 = 60 * 1000;

/// Who a call acts as.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Identity {
    /// No `sso`, or a logged-out form.
    Anonymous,
    /// A secure SSO user (verified) or a simple SSO user (unsigned), as stored.
    User { user: Object, verified: bool },
}

fn refused(reason: impl Into<String>) -> Failure {
    Failure::new(axum::http::StatusCode::UNAUTHORIZED, "invalid-sso", reason)
}

/// Checks `sso` (the parameter's text) for `tenant_id`; a user it names is upserted into
/// the tenant's SSO users. An unknown tenant is left to the operation to refuse.
pub(crate) fn verify(state: &State, tenant_id: &str, sso: &str) -> Result<Identity, Failure> {
    if sso.trim().is_empty() {
        return Ok(Identity::Anonymous);
    }
    let Value::Object(payload) = serde_json::from_str::<Value>(sso)
        .map_err(|_| refused("The sso parameter is not JSON."))?
    else {
        return Err(refused("The sso parameter is not a JSON object."));
    };
    let identity = match (
        payload.get("userDataJSONBase64"),
        payload.get("verificationHash"),
    ) {
        (Some(data), Some(hash)) => {
            let secret = state
                .api_secret(tenant_id)
                .ok_or_else(|| refused("Unknown tenant."))?;
            secure(&secret, data, hash, payload.get("timestamp"), now_ms())?
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(refused(
                "Secure SSO needs both userDataJSONBase64 and verificationHash.",
            ));
        }
        (None, None) => simple(&payload)?,
    };
    Ok(match identity {
        Identity::User { user, verified } => {
            // Who the call acts as is the user as stored, what the API set included.
            let stored = state
                .with_tenant(tenant_id, |t| upsert(&mut t.sso_users, &user))
                .unwrap_or(user);
            Identity::User {
                user: stored,
                verified,
            }
        }
        Identity::Anonymous => Identity::Anonymous,
    })
}

/// A secure payload's user, when its hash and timestamp check out at `now`.
fn secure(
    secret: &str,
    data: &Value,
    hash: &Value,
    timestamp: Option<&Value>,
    now: i64,
) -> Result<Identity, Failure> {
    let (Some(data), Some(hash)) = (data.as_str(), hash.as_str()) else {
        return Err(refused(
            "userDataJSONBase64 and verificationHash must be strings.",
        ));
    };
    let timestamp = timestamp
        .and_then(Value::as_i64)
        .ok_or_else(|| refused("timestamp must be epoch milliseconds."))?;
    let expected = hex::decode(hash).map_err(|_| refused("verificationHash is not hex."))?;
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes())
        .map_err(|_| refused("The tenant has no secret."))?;
    mac.update(timestamp.to_string().as_bytes());
    mac.update(data.as_bytes());
    mac.verify_slice(&expected).map_err(|_| {
        refused("verificationHash does not match: signed with another secret or altered.")
    })?;
    if timestamp > now.saturating_add(MAX_AHEAD_MS) {
        return Err(refused("The SSO timestamp is in the future."));
    }
    if timestamp < now.saturating_sub(MAX_AGE_MS) {
        return Err(refused("The SSO timestamp is more than two days old."));
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(data)
        .map_err(|_| refused("userDataJSONBase64 is not base64."))?;
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(&decoded) else {
        return Err(refused("userDataJSONBase64 is not a JSON object."));
    };
    let id = fields
        .get("id")
        .and_then(Value::as_str)
        .filter(|id| !id.is_empty())
        .ok_or_else(|| refused("The SSO user has no id."))?;
    let username = fields.get("username").and_then(Value::as_str).unwrap_or(id);
    Ok(Identity::User {
        user: user(id, username, &fields, false),
        verified: true,
    })
}

/// A simple SSO payload's user (`None` username: logged out).
fn simple(payload: &Map<String, Value>) -> Result<Identity, Failure> {
    let fields = match payload.get("simpleSSO") {
        Some(Value::Object(inner)) => inner,
        Some(_) => return Err(refused("simpleSSO must be an object.")),
        None => payload,
    };
    match fields.get("username") {
        None | Some(Value::Null) => Ok(Identity::Anonymous),
        Some(Value::String(name)) if !name.is_empty() => {
            let id = fields
                .get("email")
                .and_then(Value::as_str)
                .filter(|e| !e.is_empty())
                .unwrap_or(name);
            Ok(Identity::User {
                user: user(&format!("simple:{id}"), name, fields, true),
                verified: false,
            })
        }
        Some(_) => Err(refused("username must be a non-empty string.")),
    }
}

/// The SSO user's fields a token carried (`id`, `username` and `displayName` always), as
/// `GetSSOUsers` names them.
fn user(id: &str, username: &str, fields: &Map<String, Value>, simple: bool) -> Object {
    let mut user = Object::new();
    user.insert("id".into(), id.into());
    user.insert("username".into(), username.into());
    let text = |key: &str| {
        fields
            .get(key)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let display_name = text("displayName").unwrap_or(username);
    user.insert("displayName".into(), display_name.into());
    for (to, from) in [
        ("email", "email"),
        ("websiteUrl", "websiteUrl"),
        ("displayLabel", "displayLabel"),
        ("avatarSrc", "avatar"),
        ("avatarSrc", "avatarSrc"),
    ] {
        if let Some(value) = text(from) {
            user.insert(to.into(), value.into());
        }
    }
    for key in ["optedInNotifications", "isAdmin", "isModerator"] {
        if let Some(flag) = fields.get(key).and_then(Value::as_bool) {
            user.insert(key.into(), flag.into());
        }
    }
    if let Some(groups) = fields.get("groupIds").filter(|g| g.is_array()) {
        user.insert("groupIds".into(), groups.clone());
    }
    user.insert("createdFromSimpleSSO".into(), simple.into());
    user
}

/// Stores what a token carried: a known user keeps every field the token did not carry
/// (what `AddSSOUser` set: moderator flags, groups, ...) and counts the login; a new one
/// gets the fields every SSO user has.
fn upsert(users: &mut Vec<Object>, carried: &Object) -> Object {
    let id = carried.get("id");
    match users.iter_mut().find(|u| u.get("id") == id) {
        Some(known) => {
            let logins = known.get("loginCount").and_then(Value::as_i64).unwrap_or(0);
            known.extend(carried.clone());
            known.insert("loginCount".into(), logins.saturating_add(1).into());
            known.clone()
        }
        None => {
            let mut user = json!({
                "email": "", "websiteUrl": "", "signUpDate": now_ms(), "createdFromUrlId": "",
                "loginCount": 1, "avatarSrc": "", "optedInNotifications": false,
                "optedInSubscriptionNotifications": false, "displayLabel": "", "groupIds": [],
            })
            .as_object()
            .cloned()
            .unwrap_or_default();
            user.extend(carried.clone());
            users.push(user.clone());
            user
        }
    }
}

impl Identity {
    /// Whether the caller is a moderator or admin: as its token said (`isModerator`,
    /// `isAdmin`) or as the API stored the user (`isCommentModeratorAdmin`,
    /// `isAdminAdmin`, `isAccountOwner`).
    pub(crate) fn is_moderator(&self) -> bool {
        let Identity::User { user, .. } = self else {
            return false;
        };
        [
            "isModerator",
            "isAdmin",
            "isCommentModeratorAdmin",
            "isAdminAdmin",
            "isAccountOwner",
        ]
        .iter()
        .any(|flag| user.get(*flag).and_then(Value::as_bool) == Some(true))
    }

    /// The SSO user's id; `None` when anonymous.
    pub(crate) fn user_id(&self) -> Option<&str> {
        match self {
            Identity::User { user, .. } => user.get("id").and_then(Value::as_str),
            Identity::Anonymous => None,
        }
    }

    /// The user as the public API's `user` (`UserSessionInfo`); `null` when anonymous.
    pub(crate) fn session(&self) -> Value {
        let Identity::User { user, verified } = self else {
            return Value::Null;
        };
        json!({
            "id": user.get("id"),
            "username": user.get("username"),
            "displayName": user.get("displayName"),
            "email": user.get("email"),
            "avatarSrc": user.get("avatarSrc"),
            "authorized": verified,
            "isAnonSession": false,
            "groupIds": user.get("groupIds"),
        })
    }

    /// Makes `comment` this identity's: its author fields from the user, `verified` for
    /// a secure SSO user.
    pub(crate) fn author(&self, comment: &mut Object) {
        let Identity::User { user, verified } = self else {
            return;
        };
        for (field, from) in [
            ("userId", "id"),
            ("commenterName", "displayName"),
            ("commenterEmail", "email"),
            ("avatarSrc", "avatarSrc"),
        ] {
            if let Some(value) = user.get(from).filter(|v| v.as_str() != Some("")) {
                comment.insert(field.into(), value.clone());
            }
        }
        comment.insert("verified".into(), (*verified).into());
    }
}

/// The moderator `MockServer::example_request` signs in as.
pub(crate) fn example_moderator() -> Value {
    json!({"id": "example-moderator", "username": "moderator",
           "email": "moderator@example.com", "isModerator": true})
}

/// A secure SSO token for `user` as of `timestamp_ms`, signed with `secret`.
pub(crate) fn sign(secret: &str, user: &Value, timestamp_ms: i64) -> String {
    let data = base64::engine::general_purpose::STANDARD.encode(user.to_string());
    let hash = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).map(|mut mac| {
        mac.update(timestamp_ms.to_string().as_bytes());
        mac.update(data.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    });
    json!({"userDataJSONBase64": data, "verificationHash": hash.unwrap_or_default(),
           "timestamp": timestamp_ms})
    .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sign(secret: &str, timestamp: i64, data: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(format!("{timestamp}{data}").as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }

    fn data(user: Value) -> String {
        base64::engine::general_purpose::STANDARD.encode(user.to_string())
    }

    #[test]
    fn a_secure_payload_is_checked_for_its_hash_and_its_age() {
        let now = 1_767_225_600_000;
        let d = data(json!({"id": "u1", "username": "ada", "email": "a@x"}));
        let check = |secret: &str, at: i64| {
            secure(
                "key",
                &json!(d),
                &json!(sign(secret, at, &d)),
                Some(&json!(at)),
                now,
            )
        };
        let Ok(Identity::User { user, verified }) = check("key", now) else {
            panic!("a good payload");
        };
        assert!(verified);
        assert_eq!(user["id"], "u1");
        assert!(check("other", now).is_err(), "another key");
        assert!(check("key", now - MAX_AGE_MS - 1).is_err(), "too old");
        assert!(
            check("key", now + MAX_AHEAD_MS + 1).is_err(),
            "in the future"
        );
        assert!(check("key", now - MAX_AGE_MS).is_ok());
    }

    #[test]
    fn simple_sso_is_a_user_or_logged_out() {
        let simple_of = |v: Value| simple(v.as_object().unwrap());
        assert_eq!(simple_of(json!({})).unwrap(), Identity::Anonymous);
        assert_eq!(
            simple_of(json!({"loginURL": "https://x/login"})).unwrap(),
            Identity::Anonymous
        );
        let Ok(Identity::User { user, verified }) =
            simple_of(json!({"simpleSSO": {"username": "bo", "email": "b@x"}}))
        else {
            panic!("a simple user");
        };
        assert!(!verified);
        assert_eq!(user["id"], "simple:b@x");
        assert!(simple_of(json!({"username": 5})).is_err());
    }

    #[test]
    fn a_login_keeps_what_the_api_stored_and_counts() {
        let mut users = vec![
            json!({"id": "u", "username": "old", "signUpDate": 5, "loginCount": 3,
                   "isCommentModeratorAdmin": true, "groupIds": ["g1"], "websiteUrl": "https://m"})
            .as_object()
            .cloned()
            .unwrap(),
        ];
        upsert(&mut users, &user("u", "ada", &Map::new(), false));
        assert_eq!(users.len(), 1);
        let u = &users[0];
        assert_eq!(
            (&u["username"], &u["signUpDate"], &u["loginCount"]),
            (&json!("ada"), &json!(5), &json!(4))
        );
        assert_eq!(u["isCommentModeratorAdmin"], true);
        assert_eq!(u["groupIds"], json!(["g1"]));
        assert_eq!(u["websiteUrl"], "https://m");
        upsert(&mut users, &user("v", "bo", &Map::new(), true));
        assert_eq!(users[1]["signUpDate"].as_i64().map(|d| d > 0), Some(true));
        assert_eq!(users[1]["groupIds"], json!([]));
    }
}
