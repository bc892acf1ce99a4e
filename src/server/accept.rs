//! The accept loop: take connections off one listener and admit them.
//!
//! - `accept()` failures such as EMFILE under load back off exponentially
//!   (1 ms to 1 s) instead of killing the server or spinning; failures that
//!   concern one client only (it reset before we accepted) are skipped.
//! - Admission: at the `--max-conns` limit the loop stops after one more
//!   `accept()`, holding that client until a slot frees, so the rest queue
//!   in the kernel's backlog, not in our memory. This is where access rules
//!   will refuse a peer before any of its bytes is read.

use std::io;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use super::conn::{serve_connection, Slot};
use super::Service;
use crate::connection::Connection;
use crate::handler::Handler;
use crate::link::Link;
use crate::transport::Listener;

const MIN_BACKOFF: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// Accepts on `listener` until the server stops accepting; every admitted
/// connection runs in its own task on the current runtime.
pub(super) async fn accept_loop<H: Handler>(listener: Listener, service: Arc<Service<H>>) {
    let life = &service.life;
    let mut backoff = MIN_BACKOFF;
    loop {
        let accepted = tokio::select! {
            biased;
            _ = life.stop_accepting.cancelled() => return,
            r = listener.accept() => r,
        };
        let (socket, peer) = match accepted {
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
        let Some(slot) = admit(&service).await else {
            return;
        };
        life.accepted.fetch_add(1, Ordering::Relaxed);
        let conn = Connection::over(Link::new(socket, service.idle_timeout), peer);
        life.connections.spawn(serve_connection(conn, slot));
    }
}

/// Waits for a free `--max-conns` slot; `None` if the server stops
/// accepting meanwhile. (Taking the slot before `accept()` would be tidier
/// with one listener, but with several — shards, or TCP plus Unix — an idle
/// listener could sit on the last slot while clients queue on another.)
async fn admit<H>(service: &Arc<Service<H>>) -> Option<Slot<H>> {
    let life = &service.life;
    tokio::select! {
        biased;
        _ = life.stop_accepting.cancelled() => None,
        p = life.conns.acquire() => {
            p.expect("semaphore is never closed").forget();
            Some(Slot(service.clone()))
        }
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
