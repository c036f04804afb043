//! Reads the top level of a JSON object without decoding its values: how a failure is
//! told from a success in one cheap pass that usually stops after the first field.
//!
//! Nested values are skipped by counting brackets (no recursion, so no depth limit) and
//! strings by searching for their closing quote; only keys, and the values asked for, are
//! unescaped. Malformed input ends the iteration; nothing here can panic or allocate in
//! proportion to the body.

use std::borrow::Cow;

/// The longest key decoded, in characters; a longer key is cut (it matches no name we
/// look for, and [`ApiError::extra`](crate::ApiError::extra) keeps it cut).
const MAX_KEY_CHARS: usize = 256;

/// The `(key, raw value)` pairs of the top-level object of `body`, in order; nothing
/// when `body` is not an object.
pub(crate) fn fields(body: &[u8]) -> Fields<'_> {
    let start = skip_ws(body, 0);
    let object = body.get(start) == Some(&b'{');
    Fields {
        body,
        position: start + 1,
        first: true,
        done: !object,
    }
}

/// See [`fields`].
pub(crate) struct Fields<'a> {
    body: &'a [u8],
    position: usize,
    first: bool,
    done: bool,
}

impl<'a> Iterator for Fields<'a> {
    type Item = (Cow<'a, str>, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        let field = self.field();
        self.done = field.is_none();
        field
    }
}

impl<'a> Fields<'a> {
    fn field(&mut self) -> Option<(Cow<'a, str>, &'a [u8])> {
        let body = self.body;
        let mut at = skip_ws(body, self.position);
        match (self.first, *body.get(at)?) {
            (true, b'}') | (false, b'}') => return None,
            (false, b',') => at = skip_ws(body, at + 1),
            (false, _) => return None,
            (true, _) => {}
        }
        self.first = false;
        if *body.get(at)? != b'"' {
            return None;
        }
        let key_end = string_end(body, at)?;
        let key = string(&body[at..key_end], MAX_KEY_CHARS)?;
        at = skip_ws(body, key_end);
        if *body.get(at)? != b':' {
            return None;
        }
        let value_start = skip_ws(body, at + 1);
        let value_end = value_end(body, value_start)?;
        self.position = value_end;
        Some((key, &body[value_start..value_end]))
    }
}

/// The text of a JSON string literal (quotes included in `literal`), unescaped, cut at
/// `max_chars` characters; `None` when `literal` is not a string.
pub(crate) fn string(literal: &[u8], max_chars: usize) -> Option<Cow<'_, str>> {
    let inner = literal.strip_prefix(b"\"")?.strip_suffix(b"\"")?;
    if !inner.contains(&b'\\') {
        let text = String::from_utf8_lossy(inner);
        return Some(match text.char_indices().nth(max_chars) {
            Some((cut, _)) => Cow::Owned(text[..cut].to_owned()),
            None => text,
        });
    }
    let mut out = String::new();
    let mut chars = 0;
    let mut rest = inner;
    while chars < max_chars && !rest.is_empty() {
        let run = memchr::memchr(b'\\', rest).unwrap_or(rest.len());
        for c in String::from_utf8_lossy(&rest[..run]).chars() {
            if chars == max_chars {
                return Some(Cow::Owned(out));
            }
            out.push(c);
            chars += 1;
        }
        rest = &rest[run..];
        if rest.is_empty() || chars == max_chars {
            break;
        }
        let (c, used) = escape(rest);
        out.push(c);
        chars += 1;
        rest = &rest[used.min(rest.len())..];
    }
    Some(Cow::Owned(out))
}

/// The character an escape sequence at the start of `escaped` (which begins with `\`)
/// stands for, and how many bytes it takes. Invalid escapes are U+FFFD.
fn escape(escaped: &[u8]) -> (char, usize) {
    let simple = match escaped.get(1) {
        Some(b'"') => '"',
        Some(b'\\') => '\\',
        Some(b'/') => '/',
        Some(b'b') => '\u{8}',
        Some(b'f') => '\u{c}',
        Some(b'n') => '\n',
        Some(b'r') => '\r',
        Some(b't') => '\t',
        Some(b'u') => return unicode_escape(escaped),
        _ => return (char::REPLACEMENT_CHARACTER, 2),
    };
    (simple, 2)
}

fn unicode_escape(escaped: &[u8]) -> (char, usize) {
    let hex = |at: usize| -> Option<u32> {
        let digits = std::str::from_utf8(escaped.get(at..at + 4)?).ok()?;
        u32::from_str_radix(digits, 16).ok()
    };
    let Some(high) = hex(2) else {
        return (char::REPLACEMENT_CHARACTER, 2);
    };
    if (0xD800..0xDC00).contains(&high)
        && escaped.get(6..8) == Some(b"\\u")
        && let Some(low @ 0xDC00..0xE000) = hex(8)
    {
        let code = 0x10000 + ((high - 0xD800) << 10) + (low - 0xDC00);
        return (
            char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER),
            12,
        );
    }
    (
        char::from_u32(high).unwrap_or(char::REPLACEMENT_CHARACTER),
        6,
    )
}

fn skip_ws(body: &[u8], mut at: usize) -> usize {
    while body
        .get(at)
        .is_some_and(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
    {
        at += 1;
    }
    at
}

/// The index just past the closing quote of the string starting at `start`.
fn string_end(body: &[u8], start: usize) -> Option<usize> {
    let mut at = start + 1;
    loop {
        at += memchr::memchr2(b'"', b'\\', body.get(at..)?)?;
        if body[at] == b'"' {
            return Some(at + 1);
        }
        at += 2;
    }
}

/// The index just past the value starting at `start`.
fn value_end(body: &[u8], start: usize) -> Option<usize> {
    match *body.get(start)? {
        b'"' => string_end(body, start),
        b'{' | b'[' => nested_end(body, start),
        _ => {
            let len = body[start..]
                .iter()
                .position(|b| matches!(b, b',' | b'}' | b']' | b' ' | b'\t' | b'\n' | b'\r'))
                .unwrap_or(body.len() - start);
            (len > 0).then_some(start + len)
        }
    }
}

/// The index just past the object or array starting at `start`, by counting brackets.
fn nested_end(body: &[u8], start: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut at = start;
    while let Some(&byte) = body.get(at) {
        match byte {
            b'"' => {
                at = string_end(body, at)?;
                continue;
            }
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(at + 1);
                }
            }
            _ => {}
        }
        at += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(body: &str) -> Vec<(String, String)> {
        fields(body.as_bytes())
            .map(|(k, v)| (k.into_owned(), String::from_utf8_lossy(v).into_owned()))
            .collect()
    }

    #[test]
    fn top_level_fields_come_out_with_their_raw_values() {
        let body = r#" { "a" : [1, {"b": "]}"}], "c\"d": "x\\y", "e":-1.5e3 , "f":null,"g":{} } "#;
        assert_eq!(
            keys(body),
            [
                ("a".into(), r#"[1, {"b": "]}"}]"#.into()),
                ("c\"d".into(), r#""x\\y""#.into()),
                ("e".into(), "-1.5e3".into()),
                ("f".into(), "null".into()),
                ("g".into(), "{}".into()),
            ]
        );
    }

    #[test]
    fn depth_is_no_limit_and_garbage_ends_quietly() {
        let deep = format!(
            r#"{{"x": {}{}, "status": "failed"}}"#,
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert_eq!(keys(&deep).last().unwrap().0, "status");
        for bad in [
            "",
            "[1]",
            "{",
            r#"{"a""#,
            r#"{"a":}"#,
            r#"{"a":"x}"#,
            r#"{"a":1 "b":2}"#,
            "{]}",
            "\"s\"",
        ] {
            let _ = keys(bad);
        }
        assert_eq!(keys(r#"{"a":1 "b":2}"#).len(), 1);
        assert!(keys("[1]").is_empty());
    }

    #[test]
    fn strings_are_unescaped_and_cut() {
        let s = |lit: &str, max| string(lit.as_bytes(), max).map(Cow::into_owned);
        assert_eq!(s(r#""fail\u0065d""#, 100).as_deref(), Some("failed"));
        assert_eq!(
            s(r#""a\nb\"c\/\ud83d\ude00""#, 100).as_deref(),
            Some("a\nb\"c/😀")
        );
        assert_eq!(s(r#""\ud83d x""#, 100).as_deref(), Some("\u{fffd} x"));
        assert_eq!(s(r#""abcdef""#, 3).as_deref(), Some("abc"));
        assert_eq!(s(r#""ab\ncdef""#, 3).as_deref(), Some("ab\n"));
        assert_eq!(s(r#""\u12""#, 10).as_deref(), Some("\u{fffd}12"));
        assert_eq!(s("12", 10), None);
    }
}
