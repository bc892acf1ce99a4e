//! The accept loop: limits, lifecycle and shutdown, for any transport.
//!
//! [`Server`] owns listening sockets and runs a [`Handler`] for every
//! connection in its own task, like `asyncio.start_server`. It does what
//! a deployed server must and the tutorial leaves out:
//! - a connection limit taken *before* `accept()`, so excess clients wait in
//!   the kernel backlog instead of costing memory here;
//! - `accept()` failures (EMFILE under load) back off exponentially instead
//!   of killing the server or spinning;
//! - graceful shutdown: when the shutdown future resolves, stop accepting
//!   (and remove our Unix socket files), let in-flight connections finish
//!   for the grace period, then close the rest.

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::connection::Connection;
use crate::endpoint::Endpoint;
use crate::handler::Handler;
use crate::listener::{BindError, BindOptions, Listener};

/// Default connection limit.
pub const DEFAULT_MAX_CONNS: usize = 10_000;
/// Default time in-flight connections get to finish at shutdown.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

const MIN_BACKOFF: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Listening sockets plus the limits to serve them with.
///
/// ```no_run
/// use ricochet::{Endpoint, Mode, Server, StreamEcho};
///
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// let endpoint: Endpoint = "tcp://localhost:1234".parse()?;
/// let server = Server::bind(&endpoint).await?;
/// server
///     .serve(Mode::Stream(StreamEcho), async {
///         let _ = tokio::signal::ctrl_c().await;
///     })
///     .await;
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct Server {
    listeners: Vec<Listener>,
    max_conns: usize,
    idle_timeout: Option<Duration>,
    grace: Duration,
}

/// What happened during [`Server::serve`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeSummary {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections still open when the grace period ran out, closed by us.
    pub cut_at_shutdown: usize,
}

struct Shared<H> {
    handler: H,
    idle_timeout: Option<Duration>,
    conns: Arc<Semaphore>,
    stop_accepting: CancellationToken,
    hard_stop: CancellationToken,
    tracker: TaskTracker,
    accepted: AtomicU64,
}

impl Server {
    /// Binds one endpoint with default options.
    pub async fn bind(endpoint: &Endpoint) -> Result<Self, BindError> {
        Self::bind_all(std::slice::from_ref(endpoint), &BindOptions::default()).await
    }

    /// Binds several endpoints; all are served by one [`Server::serve`].
    pub async fn bind_all(endpoints: &[Endpoint], opts: &BindOptions) -> Result<Self, BindError> {
        let mut listeners = Vec::new();
        for endpoint in endpoints {
            listeners.extend(Listener::bind(endpoint, opts).await?);
        }
        Ok(Self::from_listeners(listeners))
    }

    /// Serves listeners bound elsewhere (tests bind port 0 this way).
    pub fn from_listeners(listeners: impl IntoIterator<Item = Listener>) -> Self {
        Server {
            listeners: listeners.into_iter().collect(),
            max_conns: DEFAULT_MAX_CONNS,
            idle_timeout: None,
            grace: DEFAULT_GRACE,
        }
    }

    /// Where the server listens, with real ports.
    pub fn local_endpoints(&self) -> io::Result<Vec<Endpoint>> {
        self.listeners
            .iter()
            .map(Listener::local_endpoint)
            .collect()
    }

    /// At most `n` connections at once (at least 1); more wait in the backlog.
    pub fn max_conns(mut self, n: usize) -> Self {
        self.max_conns = n.clamp(1, Semaphore::MAX_PERMITS);
        self
    }

    /// Close connections on which nothing moves for `limit`.
    pub fn idle_timeout(mut self, limit: Option<Duration>) -> Self {
        self.idle_timeout = limit;
        self
    }

    /// How long in-flight connections may run after shutdown begins.
    pub fn grace(mut self, grace: Duration) -> Self {
        self.grace = grace;
        self
    }

    /// Serves until `shutdown` resolves, then shuts down gracefully.
    pub async fn serve<H: Handler>(
        self,
        handler: H,
        shutdown: impl Future<Output = ()>,
    ) -> ServeSummary {
        let shared = Arc::new(Shared {
            handler,
            idle_timeout: self.idle_timeout,
            conns: Arc::new(Semaphore::new(self.max_conns)),
            stop_accepting: CancellationToken::new(),
            hard_stop: CancellationToken::new(),
            tracker: TaskTracker::new(),
            accepted: AtomicU64::new(0),
        });
        let accept_loops: Vec<_> = self
            .listeners
            .into_iter()
            .map(|l| tokio::spawn(accept_loop(l, shared.clone())))
            .collect();

        shutdown.await;
        tracing::info!("shutting down: no longer accepting connections");
        shared.stop_accepting.cancel();
        for task in accept_loops {
            // The loops drop their listeners (and socket files) as they end.
            let _ = task.await;
        }
        shared.tracker.close();
        let mut cut_at_shutdown = 0;
        if !shared.tracker.is_empty() {
            tracing::info!(
                open = shared.tracker.len(),
                grace = %humantime::format_duration(self.grace),
                "waiting for open connections to finish"
            );
        }
        if tokio::time::timeout(self.grace, shared.tracker.wait())
            .await
            .is_err()
        {
            cut_at_shutdown = shared.tracker.len();
            tracing::warn!(
                open = cut_at_shutdown,
                "grace period over: closing remaining connections"
            );
            shared.hard_stop.cancel();
            shared.tracker.wait().await;
        }
        ServeSummary {
            accepted: shared.accepted.load(Ordering::Relaxed),
            cut_at_shutdown,
        }
    }
}

async fn accept_loop<H: Handler>(listener: Listener, shared: Arc<Shared<H>>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        // Permit first: at the limit we stop calling accept(), and new
        // clients queue in the kernel rather than in our memory.
        let permit = tokio::select! {
            biased;
            _ = shared.stop_accepting.cancelled() => return,
            p = shared.conns.clone().acquire_owned() => p.expect("semaphore is never closed"),
        };
        let stream = tokio::select! {
            biased;
            _ = shared.stop_accepting.cancelled() => return,
            r = listener.accept() => r,
        };
        let stream = match stream {
            Ok(s) => {
                backoff = MIN_BACKOFF;
                s
            }
            // The client gave up between SYN and accept: not our problem.
            Err(e) if is_per_connection(&e) => {
                tracing::debug!(error = %e, "accept: connection failed before it was accepted");
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?backoff, "accept failed; backing off");
                drop(permit);
                tokio::select! {
                    _ = shared.stop_accepting.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        shared.accepted.fetch_add(1, Ordering::Relaxed);
        let peer = listener.peer_of(&stream);
        let task_shared = shared.clone();
        shared.tracker.spawn(async move {
            let shared = task_shared;
            let _permit = permit;
            let mut conn = Connection::new(stream, peer, shared.idle_timeout);
            tracing::info!(peer = %conn.peer(), "open");
            let result = tokio::select! {
                biased;
                r = shared.handler.handle(&mut conn) => r,
                _ = shared.hard_stop.cancelled() => Err(io::Error::other("closed at shutdown")),
            };
            let duration = conn.age();
            match result {
                Ok(()) => tracing::info!(
                    peer = %conn.peer(), bytes_in = conn.bytes_in(), bytes_out = conn.bytes_out(),
                    ?duration, "closed"
                ),
                Err(error) => tracing::info!(
                    peer = %conn.peer(), bytes_in = conn.bytes_in(), bytes_out = conn.bytes_out(),
                    ?duration, %error, "closed"
                ),
            }
        });
    }
}

fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::PermissionDenied
    ) || e.raw_os_error() == Some(71) // EPROTO
}
