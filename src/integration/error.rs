//! The integration's own error type.
//!
//! Why a type of its own rather than more variants of [`crate::Error`]: that type says
//! what one call to FastComments did, and every variant of it still applies here
//! ([`Error::Client`]). What an integration adds is not a failed call: the site's store
//! or the state store failing (errors of the user's own code, kept as they were), a
//! token FastComments refuses, a lease another runner holds, a log the server cannot
//! page through. A malformed event is *not* an error: it is reported in the
//! [`TickReport`](super::TickReport) and handed to the site as
//! [`Event::Malformed`](super::Event::Malformed), so it never stops the stream.

/// An error of the site's or the state store's own code.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why an integration step failed. Nothing is lost by a failure: the checkpoint and the
/// upload cursor only move with the writes that made them true, so the next
/// [`tick`](super::Integration::tick) resumes where this one stopped.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A call to FastComments failed (after the client's retries).
    #[error(transparent)]
    Client(#[from] crate::Error),
    /// FastComments refused the token (unknown, revoked, or not yet validated by an
    /// admin): show the admin the [confirmation URL](super::Integration::confirmation_url).
    #[error("FastComments refused the integration token ({code}): {reason}")]
    TokenRefused {
        /// FastComments' error code, or the HTTP status when it sent none.
        code: String,
        /// Its reason.
        reason: String,
    },
    /// Another runner holds the lease on this site until `until_ms`: two runners must
    /// not sync one site at once.
    #[error("another runner ({owner}) holds the integration lease until {until_ms} (epoch ms)")]
    LeaseHeld {
        /// The other runner's id.
        owner: String,
        /// When its lease expires, in epoch milliseconds.
        until_ms: i64,
    },
    /// The event log did not move past one millisecond: more events share it than one
    /// page holds, so paging by `fromDateTime` cannot reach the rest.
    #[error("the event log is stuck at {at_ms} ms: {detail}")]
    Stuck {
        /// The checkpoint's millisecond.
        at_ms: i64,
        /// What was seen.
        detail: String,
    },
    /// The site's store failed.
    #[error("the site's store failed: {0}")]
    Site(#[source] BoxError),
    /// The integration's state store failed.
    #[error("the integration state store failed: {0}")]
    Store(#[source] BoxError),
}

impl Error {
    /// Maps a failed call of a token-authenticated endpoint: a 401/403, or a failure
    /// whose code speaks of the token, is a refused token.
    pub(crate) fn from_call(error: crate::Error) -> Error {
        let refused = matches!(error.status(), Some(401 | 403))
            || error.code().is_some_and(|code| code.contains("token"));
        if !refused {
            return Error::Client(error);
        }
        let code = error
            .code()
            .map(str::to_owned)
            .or_else(|| error.status().map(|s| s.to_string()))
            .unwrap_or_default();
        let reason = error
            .api_error()
            .map(|api| api.reason.clone().unwrap_or_default())
            .unwrap_or_else(|| error.to_string());
        Error::TokenRefused { code, reason }
    }

    pub(crate) fn site(error: BoxError) -> Error {
        Error::Site(error)
    }

    pub(crate) fn store(error: BoxError) -> Error {
        Error::Store(error)
    }
}
