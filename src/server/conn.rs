//! One connection's life, the same for every mode and transport.
//!
//! The pipeline, in order:
//! 1. **admit** ([`super::accept`]): a `--max-conns` slot is taken before
//!    the connection gets a task; access rules will be checked there too,
//!    before any byte is read.
//! 2. **layers** ([`Connection`] over a [`crate::link::Link`]): today the
//!    plain socket with byte counting and the idle timeout. A preamble step
//!    (PROXY header: read it, then `Link::unread` what came after it) and a
//!    security layer (TLS, WebSocket: wrap the socket) slot in here, at the
//!    top of [`serve_connection`], before the handler runs.
//! 3. **handler**: the mode, which never learns what carried the bytes.
//! 4. **accounting** ([`Closed`]): bytes each way, duration and why the
//!    connection ended — one log line now, what metrics will read later.

use std::fmt;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use tokio_util::sync::{CancellationToken, WaitForCancellationFuture};

use super::Service;
use crate::connection::Connection;
use crate::handler::Handler;

/// One taken `--max-conns` slot, given back on drop, plus the listener's
/// service: one pointer per connection task for both.
pub(super) struct Slot<H>(pub(super) Arc<Service<H>>);

impl<H> Drop for Slot<H> {
    fn drop(&mut self) {
        self.0.life.conns.add_permits(1);
    }
}

/// A connection's task. Everything it holds lives for as long as the
/// connection does, idle or not, so it is kept lean: the connection, one
/// pointer, and the handler's future. (A plain `async fn` would store its
/// arguments twice — rust-lang/rust#62958 — so the block below captures
/// them once and works on them in place.)
#[allow(clippy::manual_async_fn)] // deliberately not `async fn`: see above
pub(super) fn serve_connection<H: Handler>(
    mut conn: Connection,
    slot: Slot<H>,
) -> impl Future<Output = ()> + Send {
    async move {
        let service = &slot.0;
        tracing::info!(peer = %conn.peer(), "open");
        let outcome =
            UnlessCancelled::new(service.handler.handle(&mut conn), &service.life.hard_stop).await;
        Closed::new(&conn, outcome).log();
    }
}

/// The accounting of one finished connection.
#[derive(Debug)]
pub(crate) struct Closed<'a> {
    conn: &'a Connection,
    reason: CloseReason,
}

/// Why a connection ended.
#[derive(Debug)]
pub(crate) enum CloseReason {
    /// The handler finished (the client closed, or the mode was done).
    Done,
    /// Nothing moved for the idle timeout.
    IdleTimeout,
    /// Still open when the shutdown grace period ran out.
    Shutdown,
    /// A socket error, or a client the mode refused (e.g. a line too long).
    Error(io::Error),
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CloseReason::Done => f.write_str("done"),
            CloseReason::IdleTimeout => f.write_str("idle timeout"),
            CloseReason::Shutdown => f.write_str("closed at shutdown"),
            CloseReason::Error(e) => write!(f, "error: {e}"),
        }
    }
}

impl<'a> Closed<'a> {
    fn new(conn: &'a Connection, outcome: Option<io::Result<()>>) -> Self {
        let reason = match outcome {
            None => CloseReason::Shutdown,
            Some(Ok(())) => CloseReason::Done,
            Some(Err(e)) if e.kind() == io::ErrorKind::TimedOut => CloseReason::IdleTimeout,
            Some(Err(e)) => CloseReason::Error(e),
        };
        Closed { conn, reason }
    }

    fn log(&self) {
        let conn = self.conn;
        tracing::info!(
            peer = %conn.peer(), bytes_in = conn.bytes_in(), bytes_out = conn.bytes_out(),
            duration = ?conn.age(), reason = %self.reason, "closed"
        );
    }
}

pin_project_lite::pin_project! {
    /// Runs `fut` unless `token` is cancelled first: `select!` without its
    /// per-wake-up cost. The token's future is polled once, which registers
    /// this task's waker with the token; after that a flag check per poll
    /// stands in for re-polling it (a tokio task's waker stays valid for the
    /// task's life). On the echo hot path that is one atomic load per
    /// message instead of a trip through the token's notifier.
    struct UnlessCancelled<'a, F> {
        #[pin]
        fut: F,
        #[pin]
        cancelled: WaitForCancellationFuture<'a>,
        token: &'a CancellationToken,
        registered: bool,
    }
}

impl<'a, F: Future> UnlessCancelled<'a, F> {
    fn new(fut: F, token: &'a CancellationToken) -> Self {
        UnlessCancelled {
            fut,
            cancelled: token.cancelled(),
            token,
            registered: false,
        }
    }
}

impl<F: Future> Future for UnlessCancelled<'_, F> {
    type Output = Option<F::Output>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if !*this.registered {
            *this.registered = true;
            if this.cancelled.poll(cx).is_ready() {
                return Poll::Ready(None);
            }
        } else if this.token.is_cancelled() {
            return Poll::Ready(None);
        }
        this.fut.poll(cx).map(Some)
    }
}
