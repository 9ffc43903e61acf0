//! Serving the API on a listener, hardened against slow and greedy clients: a deadline for
//! the request head and one for the whole body, idle keep-alive connections closed, and caps
//! on open connections and on requests being handled at once (docs/server.md).
//!
//! A client trickling its head is cut by hyper's `header_read_timeout`; one trickling its
//! body meets [`DeadlineBody`], a deadline for the body as a whole (a per-read timeout would
//! be reset by every byte). Connections beyond the cap wait in the kernel's accept queue;
//! requests beyond the in-flight cap wait for a slot.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::Request;
use axum::middleware::Next;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::sync::{Semaphore, watch};
use tokio::time::{Instant, Sleep};
use tower::ServiceExt as _;

use crate::AppState;

/// How long a client may take over its request head, unless configured otherwise.
pub const DEFAULT_HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a client may take over its whole request body, unless configured otherwise.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a keep-alive connection may sit with no request, unless configured otherwise.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(5);
/// The most connections open at once, unless configured otherwise.
pub const DEFAULT_MAX_CONNECTIONS: usize = 1024;
/// The most requests handled at once, unless configured otherwise.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 256;

/// The limits [`serve`] enforces.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ServerLimits {
    /// From the moment a connection waits for a request head until the head is complete.
    /// Since hyper starts this clock as soon as a connection is idle, an idle connection is
    /// also closed after it.
    pub header_read_timeout: Duration,
    /// From the end of the head until the end of the body; the request then fails with 408
    /// and the connection is closed.
    pub body_read_timeout: Duration,
    /// How long a connection may sit between requests before it is closed.
    pub idle_timeout: Duration,
    /// The most connections open at once; more wait to be accepted.
    pub max_connections: usize,
    /// The most requests handled at once; more wait for a slot.
    pub max_in_flight: usize,
}

impl Default for ServerLimits {
    fn default() -> Self {
        Self {
            header_read_timeout: DEFAULT_HEADER_READ_TIMEOUT,
            body_read_timeout: DEFAULT_BODY_READ_TIMEOUT,
            idle_timeout: DEFAULT_IDLE_TIMEOUT,
            max_connections: DEFAULT_MAX_CONNECTIONS,
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
        }
    }
}

/// Serves [`crate::router`] on `listener` within `limits` until `shutdown` completes, then
/// stops accepting, lets requests in flight finish and closes idle connections.
pub async fn serve<F>(
    listener: tokio::net::TcpListener,
    state: AppState,
    limits: ServerLimits,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    serve_router(listener, crate::router(state), limits, shutdown).await
}

/// [`serve`] for a router the caller built: the API's [`crate::router`] with more routes
/// merged in (the web console), under the same limits and timeouts.
pub async fn serve_router<F>(
    listener: tokio::net::TcpListener,
    app: axum::Router,
    limits: ServerLimits,
    shutdown: F,
) -> std::io::Result<()>
where
    F: Future<Output = ()> + Send + 'static,
{
    let app = with_limits(app, &limits);
    let max_connections = limits.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let connections = Arc::new(Semaphore::new(max_connections));
    let (stop, stopping) = watch::channel(false);
    tokio::pin!(shutdown);
    loop {
        // A slot first, then the accept: connections beyond the cap wait in the backlog.
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = connections.clone().acquire_owned() => match permit {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // Out of file descriptors and the like: wait, then try again.
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        tracing::trace!(%peer, "connection accepted");
        let app = app.clone();
        let stopping = stopping.clone();
        tokio::spawn(async move {
            connection(stream, app, limits, stopping).await;
            drop(permit);
        });
    }
    drop(listener);
    let _ = stop.send(true);
    // Every connection holds a permit until it ends: holding all of them means all ended.
    let all = u32::try_from(max_connections).unwrap_or(u32::MAX);
    let _ = connections.acquire_many(all).await;
    Ok(())
}

/// `app` with the body deadline and the in-flight cap.
fn with_limits(app: Router, limits: &ServerLimits) -> Router {
    let body_timeout = limits.body_read_timeout;
    let slots = Arc::new(Semaphore::new(
        limits.max_in_flight.clamp(1, Semaphore::MAX_PERMITS),
    ));
    app.layer(axum::middleware::from_fn(
        move |request: Request, next: Next| {
            let slots = slots.clone();
            async move {
                // The semaphore is never closed, so a slot always comes.
                let _slot = slots.acquire_owned().await.ok();
                let request = request.map(|body| Body::new(DeadlineBody::new(body, body_timeout)));
                next.run(request).await
            }
        },
    ))
}

/// Serves one connection until it closes, is idle too long, or the server stops.
///
/// The idle deadline is checked lazily: a request only counts itself in and out, and the
/// connection's own timer, when it fires, looks at when the last request ended and sleeps
/// on if that was not long enough ago. Telling the connection's task at every request
/// woke it twice and re-armed its timer for each request answered.
async fn connection(
    stream: tokio::net::TcpStream,
    app: Router,
    limits: ServerLimits,
    mut stopping: watch::Receiver<bool>,
) {
    let busy = Arc::new(Busy::new());
    let service = {
        let busy = busy.clone();
        hyper::service::service_fn(move |request: hyper::Request<Incoming>| {
            let guard = Busy::enter(&busy);
            let app = app.clone();
            async move {
                let response = app.oneshot(request.map(Body::new)).await;
                drop(guard);
                response
            }
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .keep_alive(true)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    let mut closing = false;
    loop {
        // While a request is under way the connection is not idle: look again a whole
        // idle timeout later.
        let deadline = busy.idle_since().unwrap_or_else(Instant::now) + limits.idle_timeout;
        tokio::select! {
            result = conn.as_mut() => {
                if let Err(e) = result {
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            () = tokio::time::sleep_until(deadline), if !closing => {
                if busy.idle_since().is_some_and(|at| at + limits.idle_timeout <= Instant::now()) {
                    // Closes at once when no request is under way, else after the one
                    // that is.
                    conn.as_mut().graceful_shutdown();
                    closing = true;
                }
            }
            _ = stopping.wait_for(|stop| *stop), if !closing => {
                conn.as_mut().graceful_shutdown();
                closing = true;
            }
        }
    }
}

/// Requests under way on one connection, and since when it has had none.
struct Busy {
    /// When the connection opened; `idle_since` counts from here.
    opened: Instant,
    requests: AtomicUsize,
    /// Milliseconds from `opened` to the end of the last request (0: none yet).
    idle_since: AtomicU64,
}

impl Busy {
    fn new() -> Self {
        Self {
            opened: Instant::now(),
            requests: AtomicUsize::new(0),
            idle_since: AtomicU64::new(0),
        }
    }

    fn enter(busy: &Arc<Busy>) -> BusyGuard {
        busy.requests.fetch_add(1, Ordering::SeqCst);
        BusyGuard(busy.clone())
    }

    /// Since when no request has been under way; `None` while one is.
    fn idle_since(&self) -> Option<Instant> {
        if self.requests.load(Ordering::SeqCst) > 0 {
            return None;
        }
        let ms = self.idle_since.load(Ordering::SeqCst);
        Some(self.opened + Duration::from_millis(ms))
    }
}

/// Counts one request as under way until dropped.
struct BusyGuard(Arc<Busy>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        let ms = u64::try_from(self.0.opened.elapsed().as_millis()).unwrap_or(u64::MAX);
        // Stored before the count falls, so a reader that sees no request under way sees
        // this request's end.
        self.0.idle_since.store(ms, Ordering::SeqCst);
        self.0.requests.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The body read took longer than the server allows.
#[derive(Debug, thiserror::Error)]
#[error("the body was not received within {0:?}")]
pub struct BodyTimeout(pub Duration);

/// A request body that fails once its deadline passes, however steadily bytes arrive.
struct DeadlineBody {
    inner: Body,
    deadline: Pin<Box<Sleep>>,
    timeout: Duration,
}

impl DeadlineBody {
    fn new(inner: Body, timeout: Duration) -> Self {
        Self {
            inner,
            deadline: Box::pin(tokio::time::sleep(timeout)),
            timeout,
        }
    }
}

impl HttpBody for DeadlineBody {
    type Data = Bytes;
    type Error = axum::BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        if let Poll::Ready(frame) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        match this.deadline.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyTimeout(this.timeout))))),
            Poll::Pending => Poll::Pending,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// Whether `e` (or one of its causes) is a [`BodyTimeout`].
pub(crate) fn is_body_timeout(e: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cause {
        if c.is::<BodyTimeout>() {
            return true;
        }
        cause = c.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_connection_is_idle_from_its_opening_and_from_the_end_of_each_request() {
        let busy = Arc::new(Busy::new());
        assert_eq!(busy.idle_since(), Some(busy.opened));
        let guard = Busy::enter(&busy);
        assert_eq!(busy.idle_since(), None, "a request is under way");
        tokio::time::sleep(Duration::from_millis(30)).await;
        assert_eq!(busy.idle_since(), None, "however long it takes");
        drop(guard);
        let since = busy.idle_since().expect("idle once the request ended");
        assert!(
            since >= busy.opened + Duration::from_millis(30) && since <= Instant::now(),
            "idle from the end of the request"
        );
    }
}
