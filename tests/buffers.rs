//! The cap on large read buffers: once `LARGE_BUFFERS_MAX` of them are
//! pinned (as by clients that stop reading their echo), connections get
//! small buffers, and the echo must stay exact. Its own test binary, so the
//! process-wide count is this test's alone.

mod common;

use std::sync::Arc;

use common::{bounded, must_connect, pattern_roundtrip, unix_endpoint};
use ricochet::connection::{PooledBuf, LARGE_BUFFERS_MAX, POOL_BUFFER_SIZE, SMALL_BUFFER_SIZE};
use ricochet::{Endpoint, Server, StreamEcho};
use tokio::sync::oneshot;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echo_stays_exact_on_small_buffers_once_large_ones_run_out() {
    // Pin every large buffer the process may have.
    let held: Vec<PooledBuf> = (0..LARGE_BUFFERS_MAX).map(|_| PooledBuf::take()).collect();
    assert!(held.iter().all(|b| b.len() == POOL_BUFFER_SIZE));
    assert_eq!(PooledBuf::take().len(), SMALL_BUFFER_SIZE);

    let (_dir, _path, unix) = unix_endpoint("small.sock");
    let endpoints: Vec<Endpoint> = ["tcp://127.0.0.1:0", unix.as_str()]
        .iter()
        .map(|e| e.parse().unwrap())
        .collect();
    let server = Server::bind_all(&endpoints, &Default::default())
        .await
        .unwrap();
    let bound = server.local_endpoints().unwrap();
    let (stop, stopped) = oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(StreamEcho, async {
        let _ = stopped.await;
    }));

    // Several transfers at once, each many times the small buffer.
    let transfers: Vec<_> = bound
        .iter()
        .flat_map(|ep| [ep.to_string(), ep.to_string()])
        .map(|ep| {
            tokio::spawn(async move {
                let total = 8 << 20;
                let got = bounded(
                    &format!("8 MiB through {ep} on small buffers"),
                    pattern_roundtrip(must_connect(&ep).await, total, Arc::default()),
                )
                .await;
                assert_eq!(got, Ok(total), "{ep}");
            })
        })
        .collect();
    for t in transfers {
        t.await.unwrap();
    }

    // Giving the large buffers back makes them available again.
    drop(held);
    assert_eq!(PooledBuf::take().len(), POOL_BUFFER_SIZE);
    let _ = stop.send(());
    bounded("server stop", serving).await.unwrap();
}
