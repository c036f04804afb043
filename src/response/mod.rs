//! What a response means: its body read within a limit, a failure told from a success,
//! and a success decoded once into its generated type.

mod any_of;
mod located;
mod toplevel;
mod watch;

use std::cell::Cell;
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, Error, excerpt};

pub(crate) use any_of::any_of;

/// An object key, borrowed from the body when it has no escapes: how the generated types'
/// decoders and the status watch read keys without allocating.
pub(crate) enum Key<'de> {
    Borrowed(&'de str),
    Owned(String),
}

impl Key<'_> {
    pub(crate) fn as_str(&self) -> &str {
        match self {
            Key::Borrowed(key) => key,
            Key::Owned(key) => key,
        }
    }
}

impl<'de> serde::Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> serde::de::Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E: serde::de::Error>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key::Borrowed(v))
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v.to_owned()))
            }
            fn visit_string<E: serde::de::Error>(self, v: String) -> Result<Key<'de>, E> {
                Ok(Key::Owned(v))
            }
        }
        d.deserialize_str(KeyVisitor)
    }
}

/// How much of a failure's body is read: enough for any FastComments error object and
/// an excerpt of anything else. A 500 MB error page costs 64 KiB.
pub(crate) const FAILURE_BODY_LIMIT: usize = 64 * 1024;

/// What to do with a body longer than the limit.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Overflow {
    /// Fail with [`Error::BodyTooLarge`]: a success body must be whole.
    Fail,
    /// Keep the start and stop reading: a failure only needs its start.
    Truncate,
}

/// Reads the body of `response` up to `limit` bytes, without buffering more: a body
/// announced or found to be longer is cut short or refused (`overflow`). With
/// [`Overflow::Truncate`] a broken connection is not an error either: what arrived is
/// what the failure is made of.
pub(crate) async fn read(
    mut response: reqwest::Response,
    limit: usize,
    overflow: Overflow,
) -> Result<Bytes, Error> {
    let announced = response
        .content_length()
        .and_then(|n| usize::try_from(n).ok());
    if overflow == Overflow::Fail && announced.is_some_and(|n| n > limit) {
        return Err(Error::BodyTooLarge { limit });
    }
    let mut first: Option<Bytes> = None;
    let mut buffer = BytesMut::new();
    loop {
        let chunk = match response.chunk().await {
            Ok(Some(chunk)) => chunk,
            Ok(None) => break,
            Err(_) if overflow == Overflow::Truncate => break,
            Err(error) => return Err(Error::transport(error)),
        };
        let held = first.as_ref().map_or(0, Bytes::len) + buffer.len();
        if held.saturating_add(chunk.len()) > limit {
            if overflow == Overflow::Fail {
                return Err(Error::BodyTooLarge { limit });
            }
            let room = limit - held;
            append(
                &mut first,
                &mut buffer,
                chunk.slice(..room),
                announced,
                limit,
            );
            break;
        }
        append(&mut first, &mut buffer, chunk, announced, limit);
    }
    Ok(match first {
        Some(only) if buffer.is_empty() => only,
        Some(only) => {
            let mut whole = BytesMut::with_capacity(only.len() + buffer.len());
            whole.extend_from_slice(&only);
            whole.extend_from_slice(&buffer);
            whole.freeze()
        }
        None => buffer.freeze(),
    })
}

/// Keeps a body that arrives in one chunk without copying it; copies from the second.
fn append(
    first: &mut Option<Bytes>,
    buffer: &mut BytesMut,
    chunk: Bytes,
    announced: Option<usize>,
    limit: usize,
) {
    match first.take() {
        None if buffer.is_empty() => *first = Some(chunk),
        None => buffer.extend_from_slice(&chunk),
        Some(only) => {
            let expected = announced.unwrap_or(0).min(limit);
            buffer.reserve(expected.max(only.len() + chunk.len()));
            buffer.extend_from_slice(&only);
            buffer.extend_from_slice(&chunk);
        }
    }
}

/// `body` without a leading UTF-8 byte-order mark, which some servers and proxies put
/// before JSON and JSON parsers refuse: without this, a failure behind one lost its
/// error code and a success behind one was a decode error.
pub(crate) fn without_bom(body: &[u8]) -> &[u8] {
    body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body)
}

/// Whether a body's top-level `status` is `"failed"` or `"failure"` (as the integration
/// endpoints spell it), whatever else the body holds. Reads fields only up to `status`.
pub(crate) fn is_failure(body: &[u8]) -> bool {
    toplevel::fields(body)
        .find(|(key, _)| key == "status")
        .and_then(|(_, value)| toplevel::string(value, 16))
        .is_some_and(|status| status == "failed" || status == "failure")
}

/// The error for a failed response: [`Error::Api`] when the body is a FastComments
/// failure, [`Error::Http`] with an excerpt otherwise.
pub(crate) fn failure(status: u16, body: &[u8], retry_after: Option<Duration>) -> Error {
    let body = without_bom(body);
    if is_failure(body) {
        Error::Api(Box::new(api_error(status, body, retry_after)))
    } else {
        Error::Http {
            status,
            excerpt: excerpt(body),
            retry_after,
        }
    }
}

/// Only bodies up to this size fill [`ApiError::extra`]: the fields a failure is known
/// by are read from any body, the rest would copy a hostile one.
const EXTRA_FIELDS_LIMIT: usize = 64 * 1024;

/// Reads a failure body leniently: every field optional, one of the wrong type left out.
fn api_error(status: u16, body: &[u8], retry_after: Option<Duration>) -> ApiError {
    let mut api = ApiError {
        http_status: status,
        retry_after,
        ..ApiError::default()
    };
    let keep_extra = body.len() <= EXTRA_FIELDS_LIMIT;
    for (key, value) in toplevel::fields(body) {
        match key.as_ref() {
            "code" => api.code = text(value, 256),
            "reason" => api.reason = text(value, ApiError::MAX_REASON_CHARS + 1).map(cut_reason),
            "secondaryCode" => api.secondary_code = text(value, 256),
            "translatedError" => {
                api.translated_error = text(value, ApiError::MAX_REASON_CHARS + 1).map(cut_reason);
            }
            "bannedUntil" => api.banned_until = integer(value),
            "maxCharacterLength" => api.max_character_length = integer(value),
            "customConfig" if keep_extra => api.custom_config = serde_json::from_slice(value).ok(),
            _ if keep_extra => {
                if let Ok(value) = serde_json::from_slice::<Value>(value) {
                    api.extra.insert(key.into_owned(), value);
                }
            }
            _ => {}
        }
    }
    api
}

fn cut_reason(mut reason: String) -> String {
    if let Some((cut, _)) = reason.char_indices().nth(ApiError::MAX_REASON_CHARS) {
        reason.truncate(cut);
        reason.push('…');
    }
    reason
}

/// A string field, or the text of a number or boolean; `None` for null, objects, arrays.
fn text(raw: &[u8], max_chars: usize) -> Option<String> {
    match raw.first()? {
        b'"' => toplevel::string(raw, max_chars).map(|s| s.into_owned()),
        b'{' | b'[' | b'n' => None,
        _ => std::str::from_utf8(raw.get(..raw.len().min(64))?)
            .ok()
            .map(str::to_owned),
    }
}

/// An integer sent as a number (integer or float) or as a string holding one.
fn integer(raw: &[u8]) -> Option<i64> {
    let text = text(raw, 64)?;
    let text = text.trim();
    if let Ok(n) = text.parse::<i64>() {
        return Some(n);
    }
    text.parse::<f64>().ok().and_then(float_integer)
}

/// An integer from a JSON value: a number (a float is truncated) or a string holding one;
/// `None` for anything else or out of range. Shared by every lenient reader of numbers
/// the network sends.
#[cfg(feature = "integration")]
pub(crate) fn integer_value(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().and_then(float_integer)),
        Value::String(s) => {
            let s = s.trim();
            s.parse::<i64>()
                .ok()
                .or_else(|| s.parse::<f64>().ok().and_then(float_integer))
        }
        _ => None,
    }
}

/// A float's integer part, when it is finite and within `i64`.
pub(crate) fn float_integer(float: f64) -> Option<i64> {
    // In range, so the cast cannot saturate (i64::MAX as f64 rounds up to 2^63).
    (-9.223_372_036_854_775e18..9.223_372_036_854_775e18)
        .contains(&float)
        .then(|| float.trunc() as i64)
}

/// Decodes the body of a 2xx answer into `T`, in one pass over text checked for UTF-8
/// once, which also tells a failure (`status: "failed"` at the top level) from a
/// success: a failure is [`Error::Api`] even when it would fit `T`. A body that does not
/// fit `T` is looked at once more, leniently, before it is called a decode error, and
/// once more to name the JSON path and the value that did not fit (only then: the
/// success path tracks no path).
///
/// A leading UTF-8 byte-order mark is skipped. An empty body (a 204, or a 201 without
/// content) decodes where `T` allows it: as
/// JSON `null`, an empty object, or FastComments' bare `{"status": "success"}`.
pub(crate) fn decode<T: DeserializeOwned>(status: u16, body: &[u8]) -> Result<T, Error> {
    let body = without_bom(body);
    let Ok(text) = std::str::from_utf8(body) else {
        return Err(match is_failure(body) {
            true => failure(status, body, None),
            false => Error::decode(body, "the body is not UTF-8"),
        });
    };
    let failed = Cell::new(false);
    if text.trim().is_empty() {
        // Through the same decoder as every body: one instantiation per type.
        return ["null", "{}", r#"{"status":"success"}"#]
            .into_iter()
            .find_map(|empty| watch::decode(empty, &failed).ok())
            .ok_or_else(|| Error::decode(body, "the body is empty"));
    }
    match watch::decode(text, &failed) {
        Ok(_) if failed.get() => Err(failure(status, body, None)),
        Ok(value) => Ok(value),
        Err(_) if is_failure(body) => Err(failure(status, body, None)),
        Err(error) => Err(Error::decode(body, located::message::<T>(text, error))),
    }
}

/// The `Retry-After` of a response: delay-seconds or an HTTP date. Any value, however
/// large, is kept as sent (saturating at the largest duration): the retry policy decides
/// what a wait too long means.
pub(crate) fn retry_after(response: &reqwest::Response) -> Option<Duration> {
    let value = response
        .headers()
        .get(reqwest::header::RETRY_AFTER)?
        .to_str()
        .ok()?;
    parse_retry_after(value, std::time::SystemTime::now())
}

/// The server's clock as its `Date` header gives it, in epoch milliseconds (a whole
/// second: HTTP dates have no finer unit); `None` without a readable one.
#[cfg(feature = "live")]
pub(crate) fn server_date_ms(headers: &reqwest::header::HeaderMap) -> Option<i64> {
    let value = headers.get(reqwest::header::DATE)?.to_str().ok()?;
    let at = httpdate::parse_http_date(value).ok()?;
    let since_epoch = at.duration_since(std::time::UNIX_EPOCH).ok()?;
    i64::try_from(since_epoch.as_millis()).ok()
}

/// Reads a `Retry-After` value at time `now`.
pub(crate) fn parse_retry_after(value: &str, now: std::time::SystemTime) -> Option<Duration> {
    let value = value.trim();
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        return Some(Duration::from_secs(
            value.parse::<u64>().unwrap_or(u64::MAX),
        ));
    }
    let date = httpdate::parse_http_date(value).ok()?;
    Some(date.duration_since(now).unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::SystemTime;

    fn api(body: &str) -> ApiError {
        match failure(200, body.as_bytes(), None) {
            Error::Api(api) => *api,
            other => panic!("not an API error: {other:?}"),
        }
    }

    #[test]
    fn every_failed_status_is_an_api_error_whatever_else_the_body_holds() {
        let deep = format!(
            r#"{{"nested": {}1{}, "status": "failed", "code": "deep"}}"#,
            "[".repeat(1000),
            "]".repeat(1000)
        );
        let cases = [
            (r#"{"status":"failed"}"#, None),
            (r#"{"status":"failure","code":"x"}"#, Some("x")),
            (r#"{"status":"failed","code":null,"reason":null}"#, None),
            (
                r#"{"status":"failed","code":42,"reason":{"a":1}}"#,
                Some("42"),
            ),
            (
                r#"{"status":"fail\u0065d","code":"escaped"}"#,
                Some("escaped"),
            ),
            (
                r#"{"comments":[{"status":"success"}],"status":"failed","code":"late"}"#,
                Some("late"),
            ),
            (deep.as_str(), Some("deep")),
        ];
        for (body, code) in cases {
            assert_eq!(api(body).code.as_deref(), code, "{body}");
        }
    }

    #[test]
    fn numbers_are_read_from_strings_and_floats() {
        let api = api(
            r#"{"status":"failed","bannedUntil":"1700000000000","maxCharacterLength":2000.0,
                         "secondaryCode":"s","translatedError":"t","customConfig":{"a":1},"x":[1]}"#,
        );
        assert_eq!(api.banned_until, Some(1_700_000_000_000));
        assert_eq!(api.max_character_length, Some(2000));
        assert_eq!(api.secondary_code.as_deref(), Some("s"));
        assert_eq!(api.translated_error.as_deref(), Some("t"));
        assert_eq!(api.custom_config, Some(serde_json::json!({"a": 1})));
        assert_eq!(api.extra["x"], serde_json::json!([1]));
        assert_eq!(api.extra["status"], "failed");
        assert_eq!(integer(b"1e300"), None);
        assert_eq!(integer(b"\"abc\""), None);
    }

    #[test]
    fn a_long_reason_is_cut() {
        let body = format!(
            r#"{{"status":"failed","reason":"{}"}}"#,
            "r".repeat(100_000)
        );
        let reason = api(&body).reason.unwrap();
        assert_eq!(reason.chars().count(), ApiError::MAX_REASON_CHARS + 1);
        assert!(reason.ends_with('…'));
    }

    #[test]
    fn successes_and_non_objects_are_not_failures() {
        for body in [
            r#"{"status":"success"}"#,
            r#"{"a":{"status":"failed"}}"#,
            "[]",
            "<html>",
            "",
        ] {
            assert!(!is_failure(body.as_bytes()), "{body}");
        }
        assert!(matches!(
            failure(502, b"<html>", None),
            Error::Http { status: 502, .. }
        ));
    }

    #[test]
    fn empty_bodies_decode_where_the_type_allows() {
        #[derive(serde::Deserialize, Debug)]
        struct Status {
            status: String,
        }
        #[derive(serde::Deserialize, Debug)]
        #[allow(dead_code)]
        struct Needs {
            thing: u8,
        }
        assert_eq!(decode::<()>(204, b"").unwrap(), ());
        let empty: Status = decode(201, b" ").unwrap();
        assert_eq!(empty.status, "success");
        assert!(matches!(
            decode::<Needs>(204, b""),
            Err(Error::Decode { .. })
        ));
        assert!(matches!(
            decode::<Status>(200, b"\xff"),
            Err(Error::Decode { .. })
        ));

        // A failure is an API error whether or not it fits the type.
        let fits = br#"{"status":"failed","code":"x"}"#;
        let code = |e: Error| e.api_error().and_then(|a| a.code.clone());
        assert_eq!(
            code(decode::<Status>(200, fits).unwrap_err()).as_deref(),
            Some("x")
        );
        assert_eq!(
            code(decode::<Needs>(200, fits).unwrap_err()).as_deref(),
            Some("x")
        );
        let latin1 = b"{\"status\":\"failed\",\"reason\":\"caf\xe9\"}";
        assert!(matches!(decode::<Status>(200, latin1), Err(Error::Api(_))));
    }

    #[test]
    fn retry_after_saturates_instead_of_overflowing() {
        let now = SystemTime::now();
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("18446744073709551615", now),
            Some(Duration::from_secs(u64::MAX))
        );
        assert_eq!(
            parse_retry_after("99999999999999999999999", now),
            Some(Duration::from_secs(u64::MAX))
        );
        let later = httpdate::fmt_http_date(now + Duration::from_secs(90));
        let parsed = parse_retry_after(&later, now).unwrap();
        assert!(parsed > Duration::from_secs(88) && parsed <= Duration::from_secs(90));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }
}
