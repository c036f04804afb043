//! Why a command failed, and its exit code: one per kind of `fastcomments::Error`, so a
//! script can tell "FastComments said no" from "the network is down" from "try later".
//!
//! | code | meaning |
//! |---|---|
//! | 0 | success, or stdout closed by its reader (`export | head`): the reader has what it wanted |
//! | 1 | anything else: a file that cannot be read or written, a server that cannot start |
//! | 2 | usage: a bad flag, a missing credential, a body that is not JSON (clap's own code) |
//! | 3 | `Error::Api`: FastComments answered `status: "failed"` |
//! | 4 | `Error::Http`: a non-success status without a FastComments error body |
//! | 5 | `Error::Transport`: connection refused or reset, DNS, TLS, timeout |
//! | 6 | `Error::Decode`: an answer not of the spec's shape |
//! | 7 | `Error::BodyTooLarge` |
//! | 8 | `Error::NoProgress`: a listing that repeated itself |
//! | 9 | `Error::InvalidRequest`: refused before sending (a parameter of the wrong kind) |
//! | 10 | `Error::InvalidPathParameter` |
//! | 11 | `Error::GaveUp`: retried on FastComments' schedule until the policy stopped |
//! | 12 | a webhook delivery the receiver refused (`webhook sign URL`) |

use fastcomments::Error;

/// A failure: the line printed and the exit code.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    message: String,
}

/// Exit code of anything that is not a usage error or a `fastcomments::Error`.
pub const OTHER: u8 = 1;
/// Exit code of a usage error (as clap's).
pub const USAGE: u8 = 2;
/// Exit code of a delivery refused by a webhook receiver.
pub const REFUSED: u8 = 12;

impl Failure {
    /// A failure with this code.
    pub fn new(code: u8, message: impl Into<String>) -> Failure {
        Failure {
            code,
            message: message.into(),
        }
    }

    /// A usage failure (exit code 2).
    pub fn usage(message: impl Into<String>) -> Failure {
        Failure::new(USAGE, message)
    }

    /// Any other failure (exit code 1).
    pub fn other(message: impl std::fmt::Display) -> Failure {
        Failure::new(OTHER, message.to_string())
    }

    /// The exit code.
    pub fn code(&self) -> u8 {
        self.code
    }

    /// Whether the command stopped because its reader went away (stdout's pipe closed):
    /// not a failure, nothing to print.
    pub fn is_closed_pipe(&self) -> bool {
        self.code == 0
    }

    /// The message on one line: a server's multi-line answer is joined, and control
    /// characters it may hold are escaped.
    pub fn one_line(&self) -> String {
        printable(
            &self
                .message
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        )
    }
}

/// `text` with control characters (a terminal's escape sequences, NUL) escaped, for
/// what is printed as text rather than as JSON.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The exit code of each kind of [`Error`].
pub fn code_of(error: &Error) -> u8 {
    match error {
        Error::Api(_) => 3,
        Error::Http { .. } => 4,
        Error::Transport { .. } => 5,
        Error::Decode { .. } => 6,
        Error::BodyTooLarge { .. } => 7,
        Error::NoProgress { .. } => 8,
        Error::InvalidRequest(_) => 9,
        Error::InvalidPathParameter { .. } => 10,
        Error::GaveUp { .. } => 11,
        _ => OTHER,
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        Failure::new(code_of(&error), error.to_string())
    }
}

impl From<std::io::Error> for Failure {
    fn from(error: std::io::Error) -> Failure {
        if error.kind() == std::io::ErrorKind::BrokenPipe {
            return Failure::new(0, "");
        }
        Failure::other(error)
    }
}
