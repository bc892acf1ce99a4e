//! Serving: from a [`ServeConfig`] (or listeners and a handler) to running
//! connections, until shutdown.
//!
//! Two entries, one machinery:
//! - [`run`] takes a whole [`ServeConfig`] and owns everything a deployed
//!   server decides: the runtime flavour and sharding (`shard`: one
//!   single-threaded runtime per core, or tokio's work-stealing one), a
//!   handler per listener, the startup order (every listener of every shard
//!   accepts before anyone is told "ready"), and shutdown. It blocks.
//! - [`Server`] is the tutorial's `start_server` for embedders: listeners
//!   plus one [`Handler`], served on the caller's runtime.
//!
//! Both start the same accept loops (`accept`) and connection pipeline
//! (`conn`), and stop the same way: when the shutdown future resolves,
//! stop accepting (dropping listeners removes our Unix socket files), let
//! in-flight connections finish for the grace period, then cut the rest.

mod accept;
mod conn;
mod shard;

use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::config::{ListenerConfig, RuntimeKind, ServeConfig, DEFAULT_GRACE, DEFAULT_MAX_CONNS};
use crate::handler::{Handler, Mode};
use crate::transport::{BindError, BindOptions, Endpoint, Listener};

/// Listening sockets plus the limits to serve them with, on the caller's
/// runtime.
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

/// What happened while serving.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServeSummary {
    /// Connections accepted.
    pub accepted: u64,
    /// Connections still open when the grace period ran out, closed by us.
    pub cut_at_shutdown: usize,
}

/// Why [`run`] could not serve.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The configuration names no endpoint.
    #[error("nothing to serve: the configuration has no listener")]
    NoListeners,
    /// An endpoint could not be bound.
    #[error(transparent)]
    Bind(#[from] BindError),
    /// A runtime could not be built.
    #[error("could not start the async runtime: {0}")]
    Runtime(io::Error),
    /// A shard's thread or its listeners could not start.
    #[error("could not start serving: {0}")]
    Start(io::Error),
    /// The caller's `on_ready` failed (e.g. printing where we listen).
    #[error(transparent)]
    Ready(io::Error),
}

/// State shared by every accept loop and connection of one server, across
/// runtimes when the server is sharded.
struct Lifecycle {
    conns: Semaphore,
    stop_accepting: CancellationToken,
    hard_stop: CancellationToken,
    /// Accept loops; all must end before `connections` is closed.
    acceptors: TaskTracker,
    connections: TaskTracker,
    accepted: AtomicU64,
}

/// What one listener's connections get: the server's lifecycle, the
/// handler, and the listener's own settings.
struct Service<H> {
    life: Arc<Lifecycle>,
    handler: H,
    idle_timeout: Option<Duration>,
}

impl Lifecycle {
    fn new(max_conns: usize) -> Arc<Self> {
        Arc::new(Lifecycle {
            conns: Semaphore::new(max_conns.clamp(1, Semaphore::MAX_PERMITS)),
            stop_accepting: CancellationToken::new(),
            hard_stop: CancellationToken::new(),
            acceptors: TaskTracker::new(),
            connections: TaskTracker::new(),
            accepted: AtomicU64::new(0),
        })
    }

    /// Starts accepting on `listener` on the current runtime.
    fn start<H: Handler>(&self, listener: Listener, service: Arc<Service<H>>) {
        self.acceptors.spawn(accept::accept_loop(listener, service));
    }

    /// Once every listener accepts: tells `on_ready`, serves until the
    /// future it returns resolves, then stops with `grace`. If `on_ready`
    /// fails, stops at once.
    async fn serve_until_ready_and_shutdown<F, Fut>(
        &self,
        endpoints: &[Endpoint],
        on_ready: F,
        grace: Duration,
    ) -> Result<ServeSummary, ServeError>
    where
        F: FnOnce(&[Endpoint]) -> io::Result<Fut>,
        Fut: Future<Output = ()>,
    {
        match on_ready(endpoints) {
            Ok(shutdown) => {
                shutdown.await;
                Ok(self.stop(grace).await)
            }
            Err(e) => {
                self.stop(Duration::ZERO).await;
                Err(ServeError::Ready(e))
            }
        }
    }

    /// Stops accepting, waits up to `grace` for open connections, and
    /// closes the rest.
    async fn stop(&self, grace: Duration) -> ServeSummary {
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

    /// Serves listeners bound elsewhere (see [`Listener::adopt_tcp`]).
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
        self.max_conns = n;
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
        let life = Lifecycle::new(self.max_conns);
        let service = Arc::new(Service {
            life: life.clone(),
            handler,
            idle_timeout: self.idle_timeout,
        });
        for listener in self.listeners {
            life.start(listener, service.clone());
        }
        shutdown.await;
        life.stop(self.grace).await
    }
}

/// Runs the server `config` describes until the future `on_ready` returns
/// resolves, then shuts down gracefully. Blocks the calling thread, which
/// must not be inside a tokio runtime: `run` builds its own.
///
/// `on_ready` is called once, on a runtime, when every listener of every
/// shard is accepting, with the endpoints actually bound (real ports); it
/// returns the shutdown future (typically a signal), or an error that
/// stops the server before it serves anyone.
pub fn run<F, Fut>(config: &ServeConfig, on_ready: F) -> Result<ServeSummary, ServeError>
where
    F: FnOnce(&[Endpoint]) -> io::Result<Fut>,
    Fut: Future<Output = ()>,
{
    if config.listeners.is_empty() {
        return Err(ServeError::NoListeners);
    }
    let threads = config.effective_threads();
    match config.runtime {
        RuntimeKind::PerCore => shard::run_per_core(config, threads, on_ready),
        RuntimeKind::WorkStealing => {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(threads)
                .enable_all()
                .build()
                .map_err(ServeError::Runtime)?;
            rt.block_on(async {
                let life = Lifecycle::new(config.max_conns);
                let bound = bind(config, &life).await?;
                let endpoints = local_endpoints(&bound)?;
                for b in bound {
                    life.start(b.listener, b.service);
                }
                life.serve_until_ready_and_shutdown(&endpoints, on_ready, config.grace)
                    .await
            })
        }
    }
}

/// A bound listener, how it was bound, and what its connections get.
struct Bound {
    listener: Listener,
    opts: BindOptions,
    service: Arc<Service<Mode>>,
}

/// Binds every listener of `config` on the current runtime, each endpoint
/// with its own service (mode, idle timeout).
async fn bind(config: &ServeConfig, life: &Arc<Lifecycle>) -> Result<Vec<Bound>, BindError> {
    let mut bound = Vec::new();
    for listener_config in &config.listeners {
        let ListenerConfig {
            endpoint,
            mode,
            idle_timeout,
            ..
        } = listener_config;
        let opts = listener_config.bind_options(config.runtime);
        let service = Arc::new(Service {
            life: life.clone(),
            handler: mode.clone(),
            idle_timeout: *idle_timeout,
        });
        for listener in Listener::bind(endpoint, &opts).await? {
            bound.push(Bound {
                listener,
                opts: opts.clone(),
                service: service.clone(),
            });
        }
    }
    Ok(bound)
}

fn local_endpoints(bound: &[Bound]) -> Result<Vec<Endpoint>, ServeError> {
    bound
        .iter()
        .map(|b| b.listener.local_endpoint())
        .collect::<io::Result<_>>()
        .map_err(ServeError::Start)
}
