//! Accepting and serving connections so that no client can stall or break the server:
//! accept errors back off, request headers must arrive within [`HEADER_TIMEOUT`], and a
//! handler that panics answers 500 instead of taking its connection (or a lock) down.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::time::Duration;

use axum::Router;
use axum::response::{IntoResponse, Response};
use futures_util::FutureExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tower::ServiceExt;

use super::faults::Hangup;
use super::respond::Failure;

/// How long a client may take to send a request's headers before it is disconnected.
pub(crate) const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// The first and the longest pause after a failed accept.
const ACCEPT_BACKOFF: (Duration, Duration) = (Duration::from_millis(5), Duration::from_secs(1));

/// Where connections come from: a TCP listener, or a test's stand-in.
pub(crate) trait Acceptor: Send + 'static {
    /// A connection.
    type Stream: AsyncRead + AsyncWrite + Unpin + Send + 'static;
    /// The next connection.
    fn accept(&mut self) -> impl Future<Output = std::io::Result<Self::Stream>> + Send;
}

impl Acceptor for TcpListener {
    type Stream = tokio::net::TcpStream;

    async fn accept(&mut self) -> std::io::Result<Self::Stream> {
        TcpListener::accept(self).await.map(|(stream, _)| stream)
    }
}

/// Accepts connections until `stopped` fires. An accept error (too many open files, say)
/// pauses the loop, doubling from 5 ms to 1 s while errors last, instead of spinning.
pub(crate) async fn serve<A: Acceptor>(
    mut acceptor: A,
    app: Router,
    mut stopped: oneshot::Receiver<()>,
) {
    let mut backoff = Duration::ZERO;
    loop {
        tokio::select! {
            accepted = acceptor.accept() => match accepted {
                Ok(stream) => {
                    backoff = Duration::ZERO;
                    tokio::spawn(serve_connection(stream, app.clone()));
                }
                Err(error) => {
                    backoff = (backoff * 2).clamp(ACCEPT_BACKOFF.0, ACCEPT_BACKOFF.1);
                    tracing::warn!(%error, ?backoff, "mock server: accept failed");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        _ = &mut stopped => return,
                    }
                }
            },
            _ = &mut stopped => return,
        }
    }
}

/// Serves one connection with hyper, a [`Hangup`] in every request's extensions so that a
/// fault can close it unanswered.
async fn serve_connection<S: AsyncRead + AsyncWrite + Unpin + Send + 'static>(
    stream: S,
    app: Router,
) {
    let hangup = Hangup::default();
    let closed = hangup.0.clone();
    let service =
        hyper::service::service_fn(move |mut request: hyper::Request<hyper::body::Incoming>| {
            request.extensions_mut().insert(hangup.clone());
            let answer = AssertUnwindSafe(app.clone().oneshot(request)).catch_unwind();
            async move { answer.await.unwrap_or_else(|_| Ok(panicked())) }
        });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service)
        // The live-event WebSocket (`super::live`) takes its connection over.
        .with_upgrades();
    tokio::select! {
        result = connection => {
            if let Err(error) = result {
                tracing::debug!(%error, "mock server: connection ended with an error");
            }
        }
        () = closed.notified() => tracing::debug!("mock server: hung up on purpose"),
    }
}

fn panicked() -> Response {
    Failure::new(
        axum::http::StatusCode::INTERNAL_SERVER_ERROR,
        "mock-panic",
        "the mock server failed on this request (a bug in the mock)",
    )
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// An acceptor whose every accept fails at once, as when file descriptors run out.
    struct Exhausted(Arc<AtomicUsize>);

    impl Acceptor for Exhausted {
        type Stream = tokio::io::DuplexStream;

        async fn accept(&mut self) -> std::io::Result<Self::Stream> {
            self.0.fetch_add(1, Ordering::Relaxed);
            Err(std::io::Error::from_raw_os_error(24)) // EMFILE
        }
    }

    #[tokio::test(start_paused = true)]
    async fn accept_errors_back_off_instead_of_spinning() {
        let calls = Arc::new(AtomicUsize::new(0));
        let (_stop, stopped) = oneshot::channel();
        let serving = serve(Exhausted(calls.clone()), Router::new(), stopped);
        let _ = tokio::time::timeout(Duration::from_secs(10), serving).await;
        // 5, 10, 20, ... 640 ms, then 1 s each: 17 or 18 accepts in ten seconds.
        let calls = calls.load(Ordering::Relaxed);
        assert!((10..=20).contains(&calls), "{calls} accepts");
    }
}
