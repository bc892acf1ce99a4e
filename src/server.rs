//! The accept loop: limits, lifecycle and shutdown, for any transport.
//!
//! [`Server`] owns listening sockets and runs a [`Handler`] for every
//! connection in its own task, like `asyncio.start_server`. It does what
//! a deployed server must and the tutorial leaves out:
//! - a connection limit: at the limit each accept loop stops after one
//!   more `accept()`, so excess clients wait in the kernel backlog instead
//!   of costing memory here;
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
use crate::handler::Handler;
use crate::transport::Endpoint;
use crate::transport::{BindError, BindOptions, Listener};

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

/// State shared by every accept loop and connection of one server, across
/// runtimes when the server is sharded.
struct Lifecycle<H> {
    handler: H,
    idle_timeout: Option<Duration>,
    conns: Arc<Semaphore>,
    stop_accepting: CancellationToken,
    hard_stop: CancellationToken,
    /// Accept loops; all must end before `connections` is closed.
    acceptors: TaskTracker,
    connections: TaskTracker,
    accepted: AtomicU64,
}

impl<H: Handler> Lifecycle<H> {
    fn new(handler: H, max_conns: usize, idle_timeout: Option<Duration>) -> Arc<Self> {
        Arc::new(Lifecycle {
            handler,
            idle_timeout,
            conns: Arc::new(Semaphore::new(max_conns)),
            stop_accepting: CancellationToken::new(),
            hard_stop: CancellationToken::new(),
            acceptors: TaskTracker::new(),
            connections: TaskTracker::new(),
            accepted: AtomicU64::new(0),
        })
    }

    /// Starts accept loops for `listeners` on the current runtime.
    fn start(self: &Arc<Self>, listeners: Vec<Listener>) {
        for listener in listeners {
            self.acceptors.spawn(accept_loop(listener, self.clone()));
        }
    }

    /// Waits for `shutdown`, then stops accepting, waits up to `grace` for
    /// open connections, and closes the rest.
    async fn run_until(&self, shutdown: impl Future<Output = ()>, grace: Duration) -> ServeSummary {
        shutdown.await;
        tracing::info!("shutting down: no longer accepting connections");
        self.stop_accepting.cancel();
        // The loops drop their listeners (and socket files) as they end.
        self.acceptors.close();
        self.acceptors.wait().await;
        self.connections.close();
        if !self.connections.is_empty() {
            tracing::info!(
                open = self.connections.len(),
                grace = %humantime::format_duration(grace),
                "waiting for open connections to finish"
            );
        }
        let mut cut_at_shutdown = 0;
        if tokio::time::timeout(grace, self.connections.wait())
            .await
            .is_err()
        {
            cut_at_shutdown = self.connections.len();
            tracing::warn!(
                open = cut_at_shutdown,
                "grace period over: closing remaining connections"
            );
            self.hard_stop.cancel();
            self.connections.wait().await;
        }
        ServeSummary {
            accepted: self.accepted.load(Ordering::Relaxed),
            cut_at_shutdown,
        }
    }
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

    /// At most `n` connections served at once (at least 1); more wait in the
    /// backlog, except one per listener, accepted and waiting for a slot.
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

    /// Serves on the current runtime until `shutdown` resolves, then shuts
    /// down gracefully.
    pub async fn serve<H: Handler>(
        self,
        handler: H,
        shutdown: impl Future<Output = ()>,
    ) -> ServeSummary {
        let life = Lifecycle::new(handler, self.max_conns, self.idle_timeout);
        life.start(self.listeners);
        life.run_until(shutdown, self.grace).await
    }

    /// Serves with one single-threaded runtime per shard, each on its own OS
    /// thread with its own listeners (see [`Listener::sibling`]): no work
    /// stealing, no cross-thread wake-ups, the kernel balancing connections.
    /// TCP listeners must have been bound with [`BindOptions::reuse_port`].
    /// Call it outside any runtime, while the runtime the listeners were
    /// bound on is still alive. Blocks the calling thread, which runs the
    /// first shard; `shutdown` is built and awaited there.
    pub fn serve_sharded<H, F, Fut>(
        self,
        shards: usize,
        opts: &BindOptions,
        handler: H,
        shutdown: F,
    ) -> io::Result<ServeSummary>
    where
        H: Handler,
        F: FnOnce() -> Fut,
        Fut: Future<Output = ()>,
    {
        let life = Lifecycle::new(handler, self.max_conns, self.idle_timeout);
        let mut siblings = Vec::new();
        for _ in 1..shards.max(1) {
            let set = self
                .listeners
                .iter()
                .map(|l| l.sibling(opts))
                .collect::<Result<Vec<_>, _>>()
                .map_err(io::Error::other)?;
            siblings.push(set);
        }
        let own = self
            .listeners
            .into_iter()
            .map(Listener::detach)
            .collect::<io::Result<Vec<_>>>()?;
        // Every shard builds its runtime and registers its listeners before
        // any shard accepts, so a failure (EMFILE, say) is reported now
        // rather than leaving a listener whose connections nobody accepts.
        let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
        let mut threads = Vec::new();
        let mut startup: io::Result<()> = Ok(());
        for (i, set) in siblings.into_iter().enumerate() {
            let (life, ready) = (life.clone(), ready_tx.clone());
            let spawned = std::thread::Builder::new()
                .name(format!("ricochet-shard-{}", i + 1))
                .spawn(move || {
                    let attached = current_thread_runtime().and_then(|rt| {
                        let listeners = rt.block_on(async {
                            set.into_iter()
                                .map(|d| d.attach())
                                .collect::<io::Result<Vec<_>>>()
                        })?;
                        Ok((rt, listeners))
                    });
                    let (rt, listeners) = match attached {
                        Ok(ok) => ok,
                        Err(e) => return drop(ready.send(Err(e))),
                    };
                    let _ = ready.send(Ok(()));
                    rt.block_on(async {
                        life.start(listeners);
                        // Keep driving this shard's connections until the
                        // whole server is done.
                        life.acceptors.wait().await;
                        life.connections.wait().await;
                    });
                });
            match spawned {
                Ok(t) => threads.push(t),
                Err(e) => {
                    startup = Err(e);
                    break;
                }
            }
        }
        drop(ready_tx);
        for _ in 0..threads.len() {
            let r = ready_rx
                .recv()
                .unwrap_or_else(|_| Err(io::Error::other("a server shard died while starting")));
            startup = startup.and(r);
        }
        let rt = current_thread_runtime();
        let rt = match (startup, rt) {
            (Ok(()), Ok(rt)) => rt,
            (Err(e), _) | (_, Err(e)) => {
                // Release the shards that did start, then fail.
                life.stop_accepting.cancel();
                life.acceptors.close();
                life.connections.close();
                for t in threads {
                    let _ = t.join();
                }
                return Err(e);
            }
        };
        let summary = rt.block_on(async {
            let listeners = own
                .into_iter()
                .map(|d| d.attach())
                .collect::<io::Result<Vec<_>>>();
            let listeners = match listeners {
                Ok(l) => l,
                Err(e) => {
                    life.run_until(async {}, Duration::ZERO).await;
                    return Err(e);
                }
            };
            life.start(listeners);
            Ok(life.run_until(shutdown(), self.grace).await)
        });
        for t in threads {
            t.join()
                .map_err(|_| io::Error::other("a server shard panicked"))?;
        }
        summary
    }
}

fn current_thread_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}

async fn accept_loop<H: Handler>(listener: Listener, life: Arc<Lifecycle<H>>) {
    let mut backoff = MIN_BACKOFF;
    loop {
        let stream = tokio::select! {
            biased;
            _ = life.stop_accepting.cancelled() => return,
            r = listener.accept() => r,
        };
        let (stream, peer) = match stream {
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
                tokio::select! {
                    _ = life.stop_accepting.cancelled() => return,
                    _ = tokio::time::sleep(backoff) => {}
                }
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
        };
        // At the limit this loop stops here, holding one accepted client
        // and accepting no more: the rest queue in the kernel's backlog, not
        // in our memory. (Taking the permit before accept() would be tidier
        // with one listener, but with several — shards, or TCP plus Unix —
        // an idle listener could sit on the last permit while clients queue
        // on another.)
        tokio::select! {
            biased;
            _ = life.stop_accepting.cancelled() => return,
            p = life.conns.acquire() => p.expect("semaphore is never closed").forget(),
        };
        life.accepted.fetch_add(1, Ordering::Relaxed);
        let conn = Connection::new(stream, peer, life.idle_timeout);
        life.connections
            .spawn(serve_connection(conn, Slot(life.clone())));
    }
}

/// One taken `--max-conns` slot, given back on drop, plus the server's
/// shared state: one pointer per connection task for both.
struct Slot<H>(Arc<Lifecycle<H>>);

impl<H> Drop for Slot<H> {
    fn drop(&mut self) {
        self.0.conns.add_permits(1);
    }
}

/// A connection's task. Everything it holds lives for as long as the
/// connection does, idle or not, so it is kept lean: the connection, one
/// pointer, and the handler's future. (A plain `async fn` would store its
/// arguments twice — rust-lang/rust#62958 — so the block below captures
/// them once and works on them in place.)
#[allow(clippy::manual_async_fn)] // deliberately not `async fn`: see above
fn serve_connection<H: Handler>(
    mut conn: Connection,
    slot: Slot<H>,
) -> impl Future<Output = ()> + Send {
    async move {
        let life = &slot.0;
        tracing::info!(peer = %conn.peer(), "open");
        let result = UnlessCancelled::new(life.handler.handle(&mut conn), &life.hard_stop)
            .await
            .unwrap_or_else(|| Err(io::Error::other("closed at shutdown")));
        log_closed(&conn, result);
    }
}

fn log_closed(conn: &Connection, result: io::Result<()>) {
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
        cancelled: tokio_util::sync::WaitForCancellationFuture<'a>,
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

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        use std::task::Poll;
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

fn is_per_connection(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::PermissionDenied
    ) || e.raw_os_error() == Some(71) // EPROTO
}
