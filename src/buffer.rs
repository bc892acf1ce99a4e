//! Read buffers lent per worker thread.
//!
//! Handlers borrow a large read buffer only while data is actually flowing,
//! so an idle connection holds none. Buffers go back to a small per-thread
//! pool; the number of large buffers alive is capped process-wide, so
//! clients that stop reading their echo (pinning their connection's buffer)
//! cost bounded memory.

use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Size of pooled read buffers. Only connections with data in flight hold
/// one, so size costs no idle memory; 256 KiB takes a 100 KiB message in
/// one read (measured against 64 KiB with `ricochet bench A B`: +20%
/// messages/s at 100 KiB, +8% at 10 KiB, p50 13% lower at 100 KiB).
pub(crate) const POOL_BUFFER_SIZE: usize = 256 * 1024;
/// Size of the buffers lent once [`LARGE_BUFFERS_MAX`] large ones exist.
pub(crate) const SMALL_BUFFER_SIZE: usize = 16 * 1024;
/// Most large buffers alive at once, process-wide (64 MiB). A client that
/// stops reading its echo pins its connection's buffer until it does, so
/// without a cap 10,000 such clients would pin 2.5 GiB; with it they pin at
/// most this many large buffers plus 16 KiB each.
pub(crate) const LARGE_BUFFERS_MAX: usize = 256;
/// Large buffers kept per worker thread; beyond this they are freed.
const POOL_KEEP: usize = 8;

/// Large buffers alive: lent out or kept in a thread's pool.
static LARGE_ALIVE: AtomicUsize = AtomicUsize::new(0);

/// One thread's spare large buffers; they stop counting as alive when the
/// thread exits.
struct Pool(Vec<Box<[u8]>>);

impl Drop for Pool {
    fn drop(&mut self) {
        LARGE_ALIVE.fetch_sub(self.0.len(), Ordering::Relaxed);
    }
}

thread_local! {
    static POOL: RefCell<Pool> = const { RefCell::new(Pool(Vec::new())) };
}

/// A read buffer borrowed from the current thread's pool; it goes back to
/// whichever thread drops it. Large ([`POOL_BUFFER_SIZE`]) while fewer
/// than [`LARGE_BUFFERS_MAX`] exist, small ([`SMALL_BUFFER_SIZE`]) past
/// that: use its length, not a constant.
pub(crate) struct PooledBuf(Option<Box<[u8]>>);

impl PooledBuf {
    /// Takes a spare large buffer, or allocates a large one if the cap
    /// allows, or else a small one. Steady traffic is served from the pool
    /// without touching the shared count.
    pub(crate) fn take() -> Self {
        if let Some(buf) = POOL.with(|p| p.borrow_mut().0.pop()) {
            return PooledBuf(Some(buf));
        }
        let large = LARGE_ALIVE
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < LARGE_BUFFERS_MAX).then_some(n + 1)
            })
            .is_ok();
        let size = if large {
            POOL_BUFFER_SIZE
        } else {
            SMALL_BUFFER_SIZE
        };
        PooledBuf(Some(vec![0; size].into_boxed_slice()))
    }
}

impl std::ops::Deref for PooledBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0.as_deref().expect("present until drop")
    }
}

impl std::ops::DerefMut for PooledBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.0.as_deref_mut().expect("present until drop")
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        let mut buf = self.0.take();
        if !matches!(&buf, Some(b) if b.len() == POOL_BUFFER_SIZE) {
            return; // small buffers are simply freed
        }
        let _ = POOL.try_with(|p| {
            let mut p = p.borrow_mut();
            if p.0.len() < POOL_KEEP {
                p.0.extend(buf.take());
            }
        });
        if buf.is_some() {
            LARGE_ALIVE.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// The large-buffer count is process-wide: these tests take turns.
    static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

    #[test]
    fn large_buffers_are_capped_and_come_back() {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        // Other tests in this process may hold a few buffers too, so count
        // what this test gets rather than assume the starting point.
        let limit = LARGE_BUFFERS_MAX + 2 * POOL_KEEP + 64;
        let mut held = Vec::new();
        while held.len() < limit {
            let buf = PooledBuf::take();
            let small = buf.len() == SMALL_BUFFER_SIZE;
            held.push(buf);
            if small {
                break;
            }
        }
        let large = held.iter().filter(|b| b.len() == POOL_BUFFER_SIZE).count();
        assert_eq!(held.last().map(|b| b.len()), Some(SMALL_BUFFER_SIZE));
        assert!(large <= LARGE_BUFFERS_MAX, "{large} large buffers lent");
        // Past the cap every take is small; freeing large ones lets them
        // be lent again.
        assert_eq!(PooledBuf::take().len(), SMALL_BUFFER_SIZE);
        drop(held);
        assert_eq!(PooledBuf::take().len(), POOL_BUFFER_SIZE);
    }

    /// Once no large buffer can be had (clients that stop reading pin
    /// theirs), connections echo through small ones, and exactly.
    #[test]
    fn echo_stays_exact_on_small_buffers_once_large_ones_run_out() {
        let _turn = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
        use crate::{Endpoint, Server, StreamEcho};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        // Pin large buffers until only small ones are lent (other tests in
        // this process may hold some too).
        let mut held = Vec::new();
        while held.len() <= LARGE_BUFFERS_MAX {
            let buf = PooledBuf::take();
            let small = buf.len() == SMALL_BUFFER_SIZE;
            held.push(buf);
            if small {
                break;
            }
        }
        assert_eq!(held.last().map(|b| b.len()), Some(SMALL_BUFFER_SIZE));

        let dir = tempfile::tempdir().unwrap();
        let unix = format!("unix:{}", dir.path().join("small.sock").display());
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let endpoints: Vec<Endpoint> = ["tcp://127.0.0.1:0", unix.as_str()]
                .iter()
                .map(|e| e.parse().unwrap())
                .collect();
            let server = Server::bind_all(&endpoints, &Default::default())
                .await
                .unwrap();
            let bound = server.local_endpoints().unwrap();
            let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
            let serving = tokio::spawn(server.serve(StreamEcho, async {
                let _ = stopped.await;
            }));
            // Two transfers per transport at once, each many times the
            // small buffer, compared byte for byte.
            let total: usize = 8 << 20;
            let transfers: Vec<_> = bound
                .iter()
                .flat_map(|ep| [ep.clone(), ep.clone()])
                .map(|ep| {
                    tokio::spawn(async move {
                        let socket = ep.connect(Some(Duration::from_secs(10))).await.unwrap();
                        let (mut rd, mut wr) = tokio::io::split(socket);
                        let pattern = |i: usize| (i % 251) as u8;
                        let writer = tokio::spawn(async move {
                            let chunk: Vec<u8> = (0..total).map(pattern).collect();
                            wr.write_all(&chunk).await.unwrap();
                            wr.shutdown().await.unwrap();
                        });
                        let mut echo = Vec::with_capacity(total);
                        rd.read_to_end(&mut echo).await.unwrap();
                        writer.await.unwrap();
                        assert_eq!(echo.len(), total, "{ep}");
                        assert!(
                            echo.iter().enumerate().all(|(i, &b)| b == pattern(i)),
                            "{ep}"
                        );
                    })
                })
                .collect();
            for t in transfers {
                tokio::time::timeout(Duration::from_secs(60), t)
                    .await
                    .expect("transfer within 60 s")
                    .unwrap();
            }
            let _ = stop.send(());
            serving.await.unwrap();
        });
        drop(held);
    }
}
