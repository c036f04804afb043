//! The integration token: a UUID v4 that FastComments learns to trust once a site admin
//! confirms it. It authenticates every integration call, so it is a secret: `Debug`
//! never shows it, and it only travels as the `token` query parameter of HTTPS calls to
//! the client's host (never into a log: the client's spans carry the path only).

use std::fmt;

use serde::{Deserialize, Serialize};

/// An integration token.
///
/// ```
/// use fastcomments::integration::Token;
/// let token = Token::generate();
/// assert_eq!(token.expose().len(), 36);
/// assert_eq!(format!("{token:?}"), "Token(<redacted>)");
/// ```
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Token(String);

impl Token {
    /// A new random token (UUID v4 from the operating system's secure random source).
    pub fn generate() -> Token {
        Token(uuid::Uuid::new_v4().to_string())
    }

    /// A token kept from an earlier run or given by the platform.
    pub fn new(token: impl Into<String>) -> Token {
        Token(token.into())
    }

    /// The token itself, for storing it or building a URL.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Token")
            .field(&crate::client::Secret(&self.0))
            .finish()
    }
}

/// The page where a site admin confirms `token`: the integration shows this link while
/// it waits for the token to be validated.
pub(crate) fn confirmation_url(base_url: &str, token: &Token) -> String {
    let mut url = format!("{base_url}/auth/my-account/integrations/v1/confirm?token=");
    url.extend(form_urlencoded_byte(token.expose()));
    url
}

/// Percent-encodes a query value (a token is a UUID, but one given by a platform need
/// not be).
fn form_urlencoded_byte(value: &str) -> impl Iterator<Item = String> + '_ {
    value.bytes().map(|b| match b {
        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
            char::from(b).to_string()
        }
        _ => format!("%{b:02X}"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_tokens_are_uuid_v4_and_differ() {
        let a = Token::generate();
        let b = Token::generate();
        assert_ne!(a, b);
        let text = a.expose();
        assert_eq!(text.as_bytes()[14], b'4', "{text}");
        assert!(
            matches!(text.as_bytes()[19], b'8' | b'9' | b'a' | b'b'),
            "{text}"
        );
    }

    #[test]
    fn the_confirmation_url_encodes_the_token() {
        let url = confirmation_url("https://fastcomments.com", &Token::new("a b&c"));
        assert_eq!(
            url,
            "https://fastcomments.com/auth/my-account/integrations/v1/confirm?token=a%20b%26c"
        );
    }
}
