//! Per-core serving: one single-threaded runtime per thread, each with its
//! own listeners, no work stealing and no cross-thread wake-ups; the kernel
//! balances connections (TCP siblings bound with `SO_REUSEPORT`) or the
//! shards share one accept queue (Unix sockets, adopted listeners).
//!
//! Startup is all or nothing: every shard builds its runtime and registers
//! its listeners before any shard accepts and before `on_ready` is told, so
//! a failure (EMFILE, say) is reported instead of leaving a listener whose
//! connections nobody accepts, and "ready" means every shard is accepting.

use std::future::Future;
use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::{bind, local_endpoints, Lifecycle, ServeError, ServeSummary, Service};
use crate::config::ServeConfig;
use crate::handler::Mode;
use crate::transport::{DetachedListener, Endpoint, Listener};

/// One shard's listeners, not yet on its runtime.
type ShardSet = Vec<(DetachedListener, Arc<Service<Mode>>)>;

/// [`super::run`] for [`crate::config::RuntimeKind::PerCore`]: the calling
/// thread runs the first shard and the shutdown.
pub(super) fn run_per_core<F, Fut>(
    config: &ServeConfig,
    shards: usize,
    on_ready: F,
) -> Result<ServeSummary, ServeError>
where
    F: FnOnce(&[Endpoint]) -> io::Result<Fut>,
    Fut: Future<Output = ()>,
{
    let rt = current_thread_runtime().map_err(ServeError::Runtime)?;
    let life = Lifecycle::new(config.max_conns);
    let bound = rt.block_on(bind(config, &life))?;
    let endpoints = local_endpoints(&bound)?;
    let mut sets: Vec<ShardSet> = Vec::new();
    for _ in 1..shards {
        let set = bound
            .iter()
            .map(|b| Ok((b.listener.sibling(&b.opts)?, b.service.clone())))
            .collect::<Result<_, ServeError>>()?;
        sets.push(set);
    }
    let own: ShardSet = rt.block_on(async {
        bound
            .into_iter()
            .map(|b| Ok((b.listener.detach()?, b.service)))
            .collect::<io::Result<_>>()
            .map_err(ServeError::Start)
    })?;

    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<io::Result<()>>();
    let mut threads = Vec::new();
    let mut startup: io::Result<()> = Ok(());
    for (i, set) in sets.into_iter().enumerate() {
        let (life, ready) = (life.clone(), ready_tx.clone());
        let spawned = std::thread::Builder::new()
            .name(format!("ricochet-shard-{}", i + 1))
            .spawn(move || {
                let attached = current_thread_runtime().and_then(|rt| {
                    let listeners = rt.block_on(async { attach(set) })?;
                    Ok((rt, listeners))
                });
                let (rt, listeners) = match attached {
                    Ok(ok) => ok,
                    Err(e) => return drop(ready.send(Err(e))),
                };
                let _ = ready.send(Ok(()));
                rt.block_on(async {
                    for (listener, service) in listeners {
                        life.start(listener, service);
                    }
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
    let result = rt.block_on(async {
        let own = startup.and_then(|()| attach(own));
        let own = match own {
            Ok(own) => own,
            Err(e) => {
                // Release the shards that did start, then fail.
                life.stop(Duration::ZERO).await;
                return Err(ServeError::Start(e));
            }
        };
        for (listener, service) in own {
            life.start(listener, service);
        }
        life.serve_until_ready_and_shutdown(&endpoints, on_ready, config.grace)
            .await
    });
    for t in threads {
        if t.join().is_err() && result.is_ok() {
            return Err(ServeError::Start(io::Error::other(
                "a server shard panicked",
            )));
        }
    }
    result
}

/// Registers a shard's listeners with the current runtime.
fn attach(set: ShardSet) -> io::Result<Vec<(Listener, Arc<Service<Mode>>)>> {
    set.into_iter()
        .map(|(d, service)| Ok((d.attach()?, service)))
        .collect()
}

fn current_thread_runtime() -> io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
}
