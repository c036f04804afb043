//! Where a body that did not decode went wrong: the JSON path and the value found there.
//!
//! Only called after the fast decode failed: the body is decoded once more into the same
//! type through `serde_path_to_error`, which tracks the path (a cost the success path never
//! pays), and the value at that path is read from the body as JSON.

use serde::de::DeserializeOwned;
use serde_json::Value;
use serde_path_to_error::{Path, Segment};

/// The longest excerpt of the offending value in a message, in characters.
const VALUE_CHARS: usize = 120;

/// The longest decoder explanation in a message, in characters: serde repeats the
/// offending value in it (`invalid type: string "…"`), which may be the whole body.
const REASON_CHARS: usize = 300;

/// `error`, the fast decode's error for `text` as a `T`, told with its JSON path and the
/// value there: `notifications[0].type: "x" (invalid type: string "x", expected i64 at
/// line 1 column 40)`. The path is `.` for the top level. `error` as it is when the second
/// decode finds nothing wrong (the fast one also refuses trailing characters).
pub(super) fn message<T: DeserializeOwned>(text: &str, error: serde_json::Error) -> String {
    let mut json = serde_json::Deserializer::from_str(text);
    let Err(located) = serde_path_to_error::deserialize::<_, T>(&mut json) else {
        return error.to_string();
    };
    let path = located.path();
    match serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|body| value_at(&body, path).map(excerpt))
    {
        Some(value) => format!(
            "{path}: {value} ({})",
            cut(located.inner().to_string(), REASON_CHARS)
        ),
        None => format!("{path}: {}", cut(located.inner().to_string(), REASON_CHARS)),
    }
}

/// The value at `path` in `body`, if every segment leads somewhere.
fn value_at<'v>(body: &'v Value, path: &Path) -> Option<&'v Value> {
    path.iter().try_fold(body, |value, segment| match segment {
        Segment::Seq { index } => value.get(index),
        Segment::Map { key } => value.get(key.as_str()),
        Segment::Enum { .. } | Segment::Unknown => Some(value),
    })
}

/// A value as compact JSON, cut to [`VALUE_CHARS`].
fn excerpt(value: &Value) -> String {
    cut(value.to_string(), VALUE_CHARS)
}

/// `text` cut to `chars` characters, with `…` where it was cut.
fn cut(mut text: String, chars: usize) -> String {
    if let Some((at, _)) = text.char_indices().nth(chars) {
        text.truncate(at);
        text.push('…');
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    struct Page {
        #[allow(dead_code)]
        notifications: Vec<Item>,
    }

    #[derive(Debug, serde::Deserialize)]
    struct Item {
        #[allow(dead_code)]
        #[serde(rename = "type")]
        kind: i64,
    }

    fn located(text: &str) -> String {
        let error = serde_json::from_str::<Page>(text).unwrap_err();
        message::<Page>(text, error)
    }

    #[test]
    fn the_message_names_the_path_and_the_value() {
        let message = located(r#"{"notifications": [{"type": 1}, {"type": "new"}]}"#);
        assert!(
            message.starts_with(r#"notifications[1].type: "new" (invalid type: string"#),
            "{message}"
        );
    }

    #[test]
    fn a_missing_field_names_its_object_and_a_long_value_is_cut() {
        let long = "x".repeat(500);
        let message = located(&format!(r#"{{"notifications": [{{"other": "{long}"}}]}}"#));
        assert!(
            message.starts_with("notifications[0]: {\"other\""),
            "{message}"
        );
        assert!(message.contains("…"), "{message}");
        assert!(message.contains("missing field `type`"), "{message}");
    }

    /// A 100 KB value where a number belongs: the message stays short, even the part
    /// where serde repeats the value.
    #[test]
    fn a_huge_value_is_never_echoed_whole() {
        let huge = "x".repeat(100_000);
        let message = located(&format!(r#"{{"notifications": [{{"type": "{huge}"}}]}}"#));
        assert!(message.starts_with("notifications[0].type: "), "{message}");
        assert!(message.len() < 1_000, "{} characters", message.len());
    }

    #[test]
    fn trailing_characters_keep_the_first_error() {
        let text = r#"{"notifications": []} x"#;
        let error = serde_json::from_str::<Page>(text).unwrap_err();
        let expected = error.to_string();
        assert_eq!(message::<Page>(text, error), expected);
    }
}
