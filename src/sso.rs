//! SSO (feature `sso`): the `sso` object FastComments' widget and public API operations
//! take to sign a site's user in, with the keys and units FastComments checks.
//!
//! Secure SSO signs the user's data with the tenant's API secret:
//! `userDataJSONBase64` is base64 of the user as JSON with **camelCase** keys,
//! `verificationHash` the hex HMAC-SHA256 of `"<timestamp><userDataJSONBase64>"`, and
//! `timestamp` epoch **milliseconds** (FastComments rejects one in the future or more than
//! two days old, so sign per page view, not once). Simple SSO is unsigned and goes under
//! the widget's `simpleSSO` key.
//!
//! ```
//! use fastcomments::sso::{SecureSso, SsoUser};
//! let sso = SecureSso::new("my-api-secret");
//! let user = SsoUser::new("user-42", "ada@example.com", "ada");
//! let payload = sso.sign_at(&user, 1_700_000_000_000);
//! let widget = serde_json::to_value(&payload).unwrap();
//! assert_eq!(widget["timestamp"], 1_700_000_000_000_i64);
//! assert!(widget["userDataJSONBase64"].is_string());
//! // For a public API operation: `.sso(payload.to_query_param())`.
//! assert!(payload.to_query_param().starts_with('{'));
//! assert!(!format!("{sso:?}").contains("my-api-secret"));
//! ```

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::client::Secret;

/// A user of the site, as FastComments' SSO takes it (camelCase keys).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SsoUser {
    /// The site's id of the user.
    pub id: String,
    /// Their e-mail (never shown publicly). Left out of the signed data when empty: an
    /// empty value reads as a malformed SSO (FastComments' WordPress plugin, 2022-08).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub email: String,
    /// Their user name; left out when empty, like `email`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub username: String,
    /// An avatar URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// The name shown instead of `username`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// A label shown beside the name (e.g. "VIP").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_label: Option<String>,
    /// Their website.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website_url: Option<String>,
    /// Whether they get reply notifications.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opted_in_notifications: Option<bool>,
    /// Whether they get notifications of threads they subscribed to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub opted_in_subscription_notifications: Option<bool>,
    /// The groups they belong to (pages can be limited to groups).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_ids: Option<Vec<String>>,
    /// Whether they administer the tenant.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_admin: Option<bool>,
    /// Whether they moderate.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_moderator: Option<bool>,
    /// Whether their activity is private.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_profile_activity_private: Option<bool>,
    /// Any other field FastComments' SSO takes (e.g. `badgeConfig`), sent as given and
    /// kept as it came when a user is read back. A key the fields above model is never
    /// sent from here: the field decides (an `"id"` here cannot sign in another user).
    #[serde(flatten, serialize_with = "sso_user_extra")]
    pub extra: Map<String, Value>,
}

/// The keys [`SsoUser`]'s fields are sent as.
const SSO_USER_KEYS: &[&str] = &[
    "id",
    "email",
    "username",
    "avatar",
    "displayName",
    "displayLabel",
    "websiteUrl",
    "optedInNotifications",
    "optedInSubscriptionNotifications",
    "groupIds",
    "isAdmin",
    "isModerator",
    "isProfileActivityPrivate",
];

/// The keys [`SimpleSso`]'s fields are sent as.
const SIMPLE_SSO_KEYS: &[&str] = &[
    "username",
    "email",
    "avatar",
    "websiteUrl",
    "loginURL",
    "logoutURL",
];

fn sso_user_extra<S: serde::Serializer>(
    extra: &Map<String, Value>,
    s: S,
) -> Result<S::Ok, S::Error> {
    crate::lenient::unmodelled(extra, SSO_USER_KEYS, s)
}

fn simple_sso_extra<S: serde::Serializer>(
    extra: &Map<String, Value>,
    s: S,
) -> Result<S::Ok, S::Error> {
    crate::lenient::unmodelled(extra, SIMPLE_SSO_KEYS, s)
}

impl SsoUser {
    /// A user with the fields FastComments requires; set the others as fields.
    pub fn new(
        id: impl Into<String>,
        email: impl Into<String>,
        username: impl Into<String>,
    ) -> SsoUser {
        SsoUser {
            id: id.into(),
            email: email.into(),
            username: username.into(),
            ..SsoUser::default()
        }
    }
}

/// Signs [`SsoUser`]s with the tenant's API secret. `Debug` hides the secret.
#[derive(Clone, Debug)]
pub struct SecureSso {
    secret: Secret<String>,
    login_url: Option<String>,
    logout_url: Option<String>,
}

/// The signed `sso` object: give it to the widget as `sso`, or to a public API operation
/// as its `sso` parameter ([`to_query_param`](SecureSsoPayload::to_query_param)).
///
/// For a visitor who is not logged in ([`SecureSso::logged_out`]) it carries no user data
/// and no hash: only `timestamp`, `loginURL` and `logoutURL`, so the widget offers the
/// site's login. (Signing an empty user instead shows as a malformed SSO: FastComments'
/// WordPress plugin stopped doing that.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SecureSsoPayload {
    /// Base64 of the user's JSON; `None` for a logged-out visitor.
    #[serde(rename = "userDataJSONBase64", skip_serializing_if = "Option::is_none")]
    pub user_data_json_base64: Option<String>,
    /// Hex HMAC-SHA256 of `"<timestamp><userDataJSONBase64>"` with the API secret;
    /// `None` for a logged-out visitor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verification_hash: Option<String>,
    /// When it was signed, in epoch milliseconds.
    pub timestamp: i64,
    /// Where the widget sends a visitor to log in.
    #[serde(rename = "loginURL", skip_serializing_if = "Option::is_none")]
    pub login_url: Option<String>,
    /// Where the widget sends a user to log out.
    #[serde(rename = "logoutURL", skip_serializing_if = "Option::is_none")]
    pub logout_url: Option<String>,
    /// Any other field, kept as it came when a payload is read back.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl SecureSsoPayload {
    /// Whether this is the logged-out form (no user).
    pub fn is_logged_out(&self) -> bool {
        self.user_data_json_base64.is_none()
    }

    /// The JSON text the public API operations take as their `sso` parameter.
    pub fn to_query_param(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

impl SecureSso {
    /// A signer with the tenant's API secret.
    pub fn new(api_secret: impl Into<String>) -> SecureSso {
        SecureSso {
            secret: Secret(api_secret.into()),
            login_url: None,
            logout_url: None,
        }
    }

    /// The login URL put in every payload.
    pub fn login_url(mut self, url: impl Into<String>) -> SecureSso {
        self.login_url = Some(url.into());
        self
    }

    /// The logout URL put in every payload.
    pub fn logout_url(mut self, url: impl Into<String>) -> SecureSso {
        self.logout_url = Some(url.into());
        self
    }

    /// Signs `user` now.
    pub fn sign(&self, user: &SsoUser) -> SecureSsoPayload {
        self.sign_at(user, now_ms())
    }

    /// Signs `user` as of `timestamp_ms` (epoch milliseconds).
    pub fn sign_at(&self, user: &SsoUser, timestamp_ms: i64) -> SecureSsoPayload {
        let json = serde_json::to_vec(user).unwrap_or_default();
        let data = base64::engine::general_purpose::STANDARD.encode(json);
        SecureSsoPayload {
            verification_hash: Some(self.hash(timestamp_ms, &data)),
            user_data_json_base64: Some(data),
            timestamp: timestamp_ms,
            login_url: self.login_url.clone(),
            logout_url: self.logout_url.clone(),
            extra: Map::new(),
        }
    }

    /// The payload for a visitor who is not logged in, now: `timestamp` and the login and
    /// logout URLs, no user data. Set [`login_url`](Self::login_url) so the widget can
    /// send the visitor to log in.
    ///
    /// ```
    /// use fastcomments::sso::SecureSso;
    /// let sso = SecureSso::new("my-api-secret").login_url("https://blog.example/login");
    /// let payload = sso.logged_out_at(1_700_000_000_000);
    /// assert_eq!(
    ///     payload.to_query_param(),
    ///     r#"{"timestamp":1700000000000,"loginURL":"https://blog.example/login"}"#
    /// );
    /// ```
    pub fn logged_out(&self) -> SecureSsoPayload {
        self.logged_out_at(now_ms())
    }

    /// The logged-out payload as of `timestamp_ms` (epoch milliseconds).
    pub fn logged_out_at(&self, timestamp_ms: i64) -> SecureSsoPayload {
        SecureSsoPayload {
            user_data_json_base64: None,
            verification_hash: None,
            timestamp: timestamp_ms,
            login_url: self.login_url.clone(),
            logout_url: self.logout_url.clone(),
            extra: Map::new(),
        }
    }

    fn hash(&self, timestamp_ms: i64, data: &str) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.0.as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(timestamp_ms.to_string().as_bytes());
        mac.update(data.as_bytes());
        hex::encode(mac.finalize().into_bytes())
    }
}

/// Unsigned SSO, for sites that trust every visitor's claim (the widget's `simpleSSO`).
/// A visitor who is not logged in is [`SimpleSso::logged_out`]: no user, only the login
/// and logout URLs (never an empty username).
///
/// ```
/// use fastcomments::sso::SimpleSso;
/// let sso = SimpleSso::new("ada").email("ada@example.com");
/// let widget = serde_json::to_value(sso.widget_config()).unwrap();
/// assert_eq!(widget["simpleSSO"]["username"], "ada");
/// let visitor = SimpleSso::logged_out().login_url("https://blog.example/login");
/// assert_eq!(
///     visitor.widget_config().to_string(),
///     r#"{"simpleSSO":{"loginURL":"https://blog.example/login"}}"#
/// );
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SimpleSso {
    /// The name shown; `None` for a logged-out visitor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Their e-mail.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// An avatar URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub avatar: Option<String>,
    /// Their website.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub website_url: Option<String>,
    /// Where the widget sends a visitor to log in.
    #[serde(rename = "loginURL", skip_serializing_if = "Option::is_none")]
    pub login_url: Option<String>,
    /// Where the widget sends a user to log out.
    #[serde(rename = "logoutURL", skip_serializing_if = "Option::is_none")]
    pub logout_url: Option<String>,
    /// Any other field the widget's `simpleSSO` takes (e.g. `displayName`,
    /// `badgeConfig`), sent as given and kept as it came when read back; a key the fields
    /// above model is never sent from here.
    #[serde(flatten, serialize_with = "simple_sso_extra")]
    pub extra: Map<String, Value>,
}

impl SimpleSso {
    /// A user known by name only.
    pub fn new(username: impl Into<String>) -> SimpleSso {
        SimpleSso {
            username: Some(username.into()),
            ..SimpleSso::default()
        }
    }

    /// A visitor who is not logged in: no user data.
    pub fn logged_out() -> SimpleSso {
        SimpleSso::default()
    }

    /// The login URL.
    pub fn login_url(mut self, url: impl Into<String>) -> SimpleSso {
        self.login_url = Some(url.into());
        self
    }

    /// The logout URL.
    pub fn logout_url(mut self, url: impl Into<String>) -> SimpleSso {
        self.logout_url = Some(url.into());
        self
    }

    /// Their e-mail.
    pub fn email(mut self, email: impl Into<String>) -> SimpleSso {
        self.email = Some(email.into());
        self
    }

    /// `{"simpleSSO": {...}}`, the part of the widget's configuration it goes in.
    pub fn widget_config(&self) -> serde_json::Value {
        serde_json::json!({ "simpleSSO": self })
    }
}

/// Now, in epoch milliseconds.
fn now_ms() -> i64 {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    i64::try_from(now.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_hash_is_hmac_sha256_of_timestamp_then_data_in_hex() {
        // printf %s "1700000000000eyJpZCI6IjEifQ==" | openssl dgst -sha256 -hmac "secret"
        let sso = SecureSso::new("secret");
        assert_eq!(
            sso.hash(1_700_000_000_000, "eyJpZCI6IjEifQ=="),
            "6a32b883c637f30dcf3143685568ba3297e8061e487a5ffbc0ed065476592793"
        );
    }

    #[test]
    fn a_whole_payload_matches_one_made_outside_rust() {
        // printf %s '{"id":"u1","email":"a@example.com","username":"ada"}' | base64 -w0
        // printf %s "1700000000000<that>" | openssl dgst -sha256 -hmac "my secret"
        let user = SsoUser::new("u1", "a@example.com", "ada");
        let payload = SecureSso::new("my secret").sign_at(&user, 1_700_000_000_000);
        assert_eq!(
            payload.user_data_json_base64.as_deref(),
            Some("eyJpZCI6InUxIiwiZW1haWwiOiJhQGV4YW1wbGUuY29tIiwidXNlcm5hbWUiOiJhZGEifQ==")
        );
        assert_eq!(
            payload.verification_hash.as_deref(),
            Some("8ba2bb1b046ef013bc9ad14a5736eb845c939f7f46c0477f1ff0ad87af99e00e")
        );
    }

    #[test]
    fn the_json_field_names_are_exactly_the_documented_ones() {
        let payload = SecureSso::new("s")
            .login_url("l")
            .logout_url("o")
            .sign_at(&SsoUser::new("u", "e", "n"), 1);
        let widget = serde_json::to_value(&payload).unwrap();
        let mut keys: Vec<_> = widget.as_object().unwrap().keys().cloned().collect();
        keys.sort_unstable();
        let mut documented = [
            "userDataJSONBase64",
            "verificationHash",
            "timestamp",
            "loginURL",
            "logoutURL",
        ];
        documented.sort_unstable();
        assert_eq!(keys, documented);
        let mut user = SsoUser::new("u", "e", "n");
        user.avatar = Some("a".into());
        user.opted_in_notifications = Some(true);
        user.display_name = Some("d".into());
        let mut keys: Vec<_> = serde_json::to_value(&user)
            .unwrap()
            .as_object()
            .unwrap()
            .keys()
            .cloned()
            .collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            [
                "avatar",
                "displayName",
                "email",
                "id",
                "optedInNotifications",
                "username"
            ]
        );
    }

    #[test]
    fn user_data_has_camel_case_keys_and_the_timestamp_is_in_milliseconds() {
        let mut user = SsoUser::new("u1", "a@example.com", "ada");
        user.opted_in_notifications = Some(true);
        user.display_name = Some("Ada L.".into());
        let payload = SecureSso::new("s").login_url("https://x/login").sign(&user);
        let json = base64::engine::general_purpose::STANDARD
            .decode(payload.user_data_json_base64.as_deref().unwrap())
            .unwrap();
        let text = String::from_utf8(json).unwrap();
        assert!(text.contains("\"optedInNotifications\":true"), "{text}");
        assert!(text.contains("\"displayName\""), "{text}");
        assert!(!text.contains('_'), "no snake_case key: {text}");
        assert!(
            payload.timestamp > 1_600_000_000_000,
            "milliseconds, not seconds"
        );
        let widget = serde_json::to_value(&payload).unwrap();
        assert_eq!(widget["loginURL"], "https://x/login");
        assert!(widget.get("logoutURL").is_none());
        assert_eq!(payload.verification_hash.map(|h| h.len()), Some(64));
    }

    /// A visitor who is not logged in: exactly `timestamp`, `loginURL`, `logoutURL`; no
    /// user data, no hash, and never an empty user (which FastComments shows as a
    /// malformed SSO).
    #[test]
    fn the_logged_out_form_carries_no_user_at_all() {
        let sso = SecureSso::new("s")
            .login_url("https://x/login")
            .logout_url("https://x/out");
        let payload = sso.logged_out_at(1_700_000_000_000);
        assert!(payload.is_logged_out());
        assert_eq!(
            serde_json::to_value(&payload).unwrap(),
            serde_json::json!({"timestamp": 1_700_000_000_000_i64,
                "loginURL": "https://x/login", "logoutURL": "https://x/out"})
        );
        let now = sso.logged_out();
        assert!(now.timestamp > 1_600_000_000_000, "milliseconds");
        assert!(!sso.sign_at(&SsoUser::new("u", "e", "n"), 1).is_logged_out());
        let simple = SimpleSso::logged_out().login_url("https://x/login");
        assert_eq!(
            simple.widget_config(),
            serde_json::json!({"simpleSSO": {"loginURL": "https://x/login"}})
        );
        assert_eq!(
            SimpleSso::new("ada").widget_config()["simpleSSO"]["username"],
            "ada"
        );
    }

    /// A user with no e-mail (or no name) is signed without that key, never with `""`.
    #[test]
    fn empty_user_fields_are_left_out_of_the_signed_data() {
        let user = SsoUser::new("u1", "", "ada");
        let payload = SecureSso::new("s").sign_at(&user, 1);
        let json = base64::engine::general_purpose::STANDARD
            .decode(payload.user_data_json_base64.unwrap())
            .unwrap();
        assert_eq!(
            String::from_utf8(json).unwrap(),
            r#"{"id":"u1","username":"ada"}"#
        );
    }

    /// `extra` cannot override or duplicate a field the struct models, in the signed user
    /// or the simple SSO object; the key lists are those the fields are sent as.
    #[test]
    fn extra_never_overrides_a_modelled_field() {
        let mut user = SsoUser::new("u1", "", "ada");
        for key in ["id", "email", "isAdmin"] {
            user.extra.insert(key.into(), "forged".into());
        }
        user.extra.insert("badgeConfig".into(), 1.into());
        let json = String::from_utf8(serde_json::to_vec(&user).unwrap()).unwrap();
        assert_eq!(json, r#"{"id":"u1","username":"ada","badgeConfig":1}"#);
        let mut full = SsoUser::new("i", "e", "u");
        full.avatar = Some(String::new());
        full.display_name = Some(String::new());
        full.display_label = Some(String::new());
        full.website_url = Some(String::new());
        full.opted_in_notifications = Some(true);
        full.opted_in_subscription_notifications = Some(true);
        full.group_ids = Some(Vec::new());
        full.is_admin = Some(true);
        full.is_moderator = Some(true);
        full.is_profile_activity_private = Some(true);
        crate::lenient::assert_lists_every_key(&full, SSO_USER_KEYS);
        let mut simple = SimpleSso::new("ada").login_url("l").logout_url("o");
        simple.email = Some("e".into());
        simple.avatar = Some("a".into());
        simple.website_url = Some("w".into());
        crate::lenient::assert_lists_every_key(&simple, SIMPLE_SSO_KEYS);
        simple.extra.insert("username".into(), "mallory".into());
        assert_eq!(simple.widget_config()["simpleSSO"]["username"], "ada");
    }

    /// A field this crate does not model is sent as given and read back whole.
    #[test]
    fn fields_not_modelled_are_sent_and_kept() {
        let mut user = SsoUser::new("u", "e", "n");
        user.extra.insert(
            "badgeConfig".into(),
            serde_json::json!({"badgeIds": ["b1"]}),
        );
        let json = serde_json::to_value(&user).unwrap();
        assert_eq!(json["badgeConfig"]["badgeIds"][0], "b1");
        let back: SsoUser = serde_json::from_value(json).unwrap();
        assert_eq!(back, user);
        let payload: SecureSsoPayload =
            serde_json::from_str(r#"{"timestamp": 1, "newField": 2}"#).unwrap();
        assert!(payload.is_logged_out());
        assert_eq!(payload.extra["newField"], 2);
    }
}
