//! Path parameters: a value is one segment of its operation's path, never a way to another
//! path.
//!
//! Progenitor percent-encodes a path value (`/`, `%`, `?`, `#`, ...), but not `\`, which
//! the URL parser reads as `/` in an http(s) URL (WHATWG URL), and a URL library removes
//! the dot segments `.` and `..` after encoding (RFC 3986, 5.2.4), and an empty value
//! leaves an empty segment: `delete_comment().id("..")` would be sent as
//! `DELETE /api/v1/`, `vote_comment().comment_id("..")` land on another operation, and
//! `delete_comment().id("..\\pages\\p1")` delete a page. So every path value, of every
//! operation, generated or hand-written, goes through here: `\` is encoded with the rest
//! (`%5C`), and an empty value, `.` and `..`, and their percent-encoded spellings
//! (`%2e%2e`, `.%2E`, ...) are refused with
//! [`Error::InvalidPathParameter`](crate::Error::InvalidPathParameter) before anything is
//! sent.

use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

use crate::Error;
use crate::operations::Operation;

/// What a path value has percent-encoded: progenitor's set (`progenitor_client::
/// encode_path`) and `\`, which would otherwise become a `/`.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}')
    .add(b'/')
    .add(b'%')
    .add(b'\\');

/// What building a generated request can fail with: progenitor's own errors (a missing
/// required parameter, a body that cannot be encoded), or a path value refused here.
/// The send pass (`codegen/src/postprocess/send.rs`) makes every generated
/// `build_request()` return it.
#[derive(Debug)]
pub(crate) enum BuildError {
    Request(Box<progenitor_client::Error>),
    Path(Box<Error>),
}

impl From<progenitor_client::Error> for BuildError {
    fn from(error: progenitor_client::Error) -> Self {
        BuildError::Request(Box::new(error))
    }
}

impl From<reqwest::Error> for BuildError {
    fn from(error: reqwest::Error) -> Self {
        BuildError::Request(Box::new(error.into()))
    }
}

impl From<BuildError> for Error {
    fn from(error: BuildError) -> Self {
        match error {
            BuildError::Request(e) => Error::from_request_builder(*e),
            BuildError::Path(e) => *e,
        }
    }
}

/// The `ordinal`-th path value of `operation`, percent-encoded into one segment, or the
/// error naming its parameter (from the operation's path template) when the
/// value would change the request's path.
pub(crate) fn path_segment(
    operation: &'static Operation,
    ordinal: usize,
    value: &str,
) -> Result<String, BuildError> {
    check_segment(operation, ordinal, value).map_err(|e| BuildError::Path(Box::new(e)))?;
    Ok(utf8_percent_encode(value, SEGMENT).to_string())
}

/// Refuses a value that is empty or a dot segment, once percent-decoded.
fn check_segment(operation: &'static Operation, ordinal: usize, value: &str) -> Result<(), Error> {
    let decoded = percent_decode(value);
    let reason = match decoded.as_slice() {
        b"" => "an empty value",
        b"." | b".." => "a dot segment, which the URL would remove",
        _ => return Ok(()),
    };
    Err(Error::InvalidPathParameter {
        operation: operation.id,
        parameter: parameter_name(operation.path, ordinal).to_owned(),
        value: value.chars().take(64).collect(),
        reason,
    })
}

/// The name of the `ordinal`-th `{parameter}` of a path template.
fn parameter_name(template: &'static str, ordinal: usize) -> &'static str {
    template
        .split('{')
        .skip(1)
        .nth(ordinal)
        .and_then(|rest| rest.split('}').next())
        .unwrap_or("?")
}

/// `%XX` decoded (anything else as it is): how a server or URL library reads a segment.
fn percent_decode(value: &str) -> Vec<u8> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push(((hex(h).unwrap_or(0) << 4) | hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operations::find;

    #[test]
    fn dot_segments_and_empty_values_are_refused_in_every_spelling() {
        let op = find("VoteComment").unwrap();
        let names: Vec<_> = (0..2).map(|i| parameter_name(op.path, i)).collect();
        assert_eq!(names, ["tenantId", "commentId"]);
        for value in ["", ".", "..", "%2e%2e", ".%2E", "%2E.", "%2e", "%2E%2e"] {
            let error = check_segment(op, 1, value).unwrap_err();
            let shown = error.to_string();
            assert!(shown.contains("commentId"), "{value:?}: {shown}");
            assert!(matches!(
                error,
                Error::InvalidPathParameter { parameter, .. } if parameter == "commentId"
            ));
        }
        for value in ["...", "a..", "%2e%2e%2e", "c1", "a/b", "%", "%zz", "é"] {
            assert!(check_segment(op, 1, value).is_ok(), "{value:?}");
        }
        assert_eq!(path_segment(op, 1, "a/b%").unwrap(), "a%2Fb%25");
        assert_eq!(path_segment(op, 1, "..\\p").unwrap(), "..%5Cp");
        // Everything else progenitor encodes is encoded the same way.
        for value in ["a b\"#<>?`{}/%\u{7}é", "plain-id_1.2~"] {
            let ours = path_segment(op, 1, value).unwrap();
            assert_eq!(
                ours,
                progenitor_client::encode_path(value).replace('\\', "%5C")
            );
        }
    }
}
