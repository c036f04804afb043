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
///
/// It is **transient** unless the site marks it [`Permanent`]: the integration retries
/// a transient error at a later tick and never skips the item it concerns (a database
/// restarting loses nothing); a permanent one makes it skip that one item (an event, an
/// upload comment, a command), report it in the [`TickReport`](super::TickReport), and
/// go on with the rest.
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Marks a site's error as **permanent**: trying the same item again would fail the same
/// way (a row the schema refuses, a comment the site cannot store whatever happens).
/// Return it from [`Site::apply`](super::Site::apply) (or any [`Site`](super::Site)
/// method) boxed, e.g. `Err(Permanent::new("html too long").into())`; the integration
/// looks for it at the top of the error and down its `source()` chain.
///
/// Without this mark an error is transient: retried later, never skipped. That default
/// is the safe one: an item is only given up when the site says so.
///
/// ```
/// use fastcomments::integration::{BoxError, Permanent};
/// let error: BoxError = Permanent::new("the comment's HTML does not fit the column").into();
/// assert!(Permanent::is(&*error));
/// let transient: BoxError = "the database is restarting".into();
/// assert!(!Permanent::is(&*transient));
/// ```
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Permanent(#[source] pub BoxError);

impl Permanent {
    /// Marks `error` permanent.
    pub fn new(error: impl Into<BoxError>) -> Permanent {
        Permanent(error.into())
    }

    /// Whether `error`, or an error in its `source()` chain, is marked [`Permanent`].
    pub fn is(error: &(dyn std::error::Error + 'static)) -> bool {
        let mut next = Some(error);
        while let Some(error) = next {
            if error.is::<Permanent>() {
                return true;
            }
            // `std::io::Error::source()` skips the error it wraps: look inside it too.
            next = match error
                .downcast_ref::<std::io::Error>()
                .and_then(|io| io.get_ref())
            {
                Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
                None => error.source(),
            };
        }
        false
    }
}

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
    /// This runner's lease was taken over while it was not looking (paused past the
    /// lease's expiry: a GC pause, a VM migration, a debugger): a store or the site
    /// refused a write carrying its old [`Fence`](super::Fence). Nothing of that write
    /// landed, and the runner stops; the next tick takes the lease afresh if it is
    /// free. Transient, never a reason to skip anything.
    #[error(
        "the lease was taken over: fence {fence} is stale (now {current}); this runner writes nothing more"
    )]
    Fenced {
        /// The fence this runner wrote with.
        fence: super::Fence,
        /// The current fence, the new holder's.
        current: super::Fence,
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
    /// The site's store failed. Transient unless the site marked its error
    /// [`Permanent`] (see [`Error::is_permanent`]); a permanent failure of one item is
    /// skipped and reported rather than returned, so this variant reaches the caller
    /// when the failure is transient.
    #[error("the site's store failed: {0}")]
    Site(#[source] BoxError),
    /// Giving up an item failed too ([`Site::skip`](super::Site::skip) or
    /// [`Site::skip_upload`](super::Site::skip_upload) returned an error): nothing moved,
    /// and the same item comes again at the next tick. Never permanent, whatever its
    /// source says, so it always reaches the caller instead of being skipped in turn.
    #[error("giving up {item} failed: {source}")]
    SkipFailed {
        /// The event's `_id` or the comment's `externalId`.
        item: String,
        /// The site's error.
        #[source]
        source: BoxError,
    },
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

    /// Whether retrying cannot help: a site error marked [`Permanent`]. Every other
    /// error is transient (a failed call, a refused token until an admin confirms it,
    /// a lease another runner holds, a store that failed).
    pub fn is_permanent(&self) -> bool {
        match self {
            Error::Site(error) => Permanent::is(&**error),
            _ => false,
        }
    }

    pub(crate) fn site(error: BoxError) -> Error {
        Error::fenced(&*error).unwrap_or(Error::Site(error))
    }

    pub(crate) fn store(error: BoxError) -> Error {
        Error::fenced(&*error).unwrap_or(Error::Store(error))
    }

    /// [`Error::SkipFailed`], or [`Error::Fenced`] when the skip was refused for its
    /// fence.
    pub(crate) fn skip_failed(item: String, source: BoxError) -> Error {
        Error::fenced(&*source).unwrap_or(Error::SkipFailed { item, source })
    }

    /// A [`StaleFence`](super::StaleFence) anywhere in `error` as [`Error::Fenced`].
    pub(crate) fn fenced(error: &(dyn std::error::Error + 'static)) -> Option<Error> {
        super::StaleFence::find(error).map(|stale| Error::Fenced {
            fence: stale.fence,
            current: stale.current,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `std::io::Error` hides the error it wraps from `source()`: a `Permanent` inside one
    /// is found all the same, and a transient one stays transient.
    #[test]
    fn a_permanent_error_is_found_inside_an_io_error() {
        let wrapped: BoxError = Box::new(std::io::Error::other(Permanent::new("refused")));
        assert!(Permanent::is(&*wrapped));
        assert!(Error::Site(wrapped).is_permanent());
        let transient: BoxError = Box::new(std::io::Error::other("permanent-sounding, but not"));
        assert!(!Permanent::is(&*transient));
    }
}
