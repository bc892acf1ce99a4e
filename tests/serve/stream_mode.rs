//! Stream mode: echo until half-close, large transfers with backpressure and
//! bounded memory, many concurrent clients.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Barrier;

/// Several messages on one connection, each echoed before the next is
/// sent (so echo does not wait for EOF), then half-close and EOF.
async fn check_stream_echo(endpoint: &str) {
    let mut conn = must_connect(endpoint).await;
    let big = pattern(100_000);
    let all_bytes: Vec<u8> = (0..=255).collect();
    for msg in [&b"Hello World!"[..], &all_bytes, b"\r\n\n", &big] {
        conn.write_all(msg).await.expect("write");
        let mut echo = vec![0; msg.len()];
        bounded(&format!("echo from {endpoint}"), conn.read_exact(&mut echo))
            .await
            .expect("read echo");
        assert!(
            echo == msg,
            "{endpoint}: echo differs for a {}-byte message",
            msg.len()
        );
    }
    conn.shutdown().await.expect("half-close");
    let rest = read_to_eof(&mut conn, WAIT).await;
    assert!(
        rest.is_empty(),
        "{endpoint}: {} unexpected bytes before EOF",
        rest.len()
    );
}

#[tokio::test]
async fn stream_mode_echoes_until_half_close_over_tcp_and_unix() {
    let (_dir, _path, unix) = unix_endpoint("stream.sock");
    let endpoints = every_transport(&unix);
    let server = ServerProc::ricochet(&endpoints, &["--mode", "stream"]);
    for ep in &server.endpoints {
        check_stream_echo(ep).await;
    }
}

#[tokio::test]
async fn stream_mode_client_that_half_closes_early_gets_complete_echo_then_eof() {
    let (_dir, _path, unix) = unix_endpoint("early.sock");
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0", &unix], &[]);
    // Small enough to fit in socket buffers, so the whole message and the
    // FIN are sent before a single echo byte is read.
    let msg = pattern(100_000);
    for ep in &server.endpoints {
        let mut conn = must_connect(ep).await;
        bounded("write", conn.write_all(&msg)).await.expect("write");
        conn.shutdown().await.expect("half-close");
        let echo = read_to_eof(&mut conn, WAIT).await;
        assert_eq!(echo.len(), msg.len(), "{ep}");
        assert!(echo == msg, "{ep}: echo differs");
    }
}

/// A client writing 100 MB before reading: the server must stop reading
/// when the client stops reading (the writer stalls well short of 100 MB)
/// and must not buffer the difference; once the client reads, everything
/// comes back byte for byte.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_mode_100mb_has_backpressure_and_bounded_memory() {
    const TOTAL: u64 = 100 << 20;
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &[]);
    let rss_before = server.proc.proc_status_kib("VmRSS");
    let conn = must_connect(server.endpoint()).await;
    let (mut rd, mut wr) = tokio::io::split(conn);

    let written = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let writer = {
        let written = written.clone();
        tokio::spawn(async move {
            let mut buf = vec![0; 256 * 1024];
            let mut off = 0u64;
            while off < TOTAL {
                let n = buf.len().min((TOTAL - off) as usize);
                fill_pattern(off, &mut buf[..n]);
                wr.write_all(&buf[..n]).await.expect("write");
                off += n as u64;
                written.store(off, std::sync::atomic::Ordering::Relaxed);
            }
            wr.shutdown().await.expect("half-close");
            wr
        })
    };

    // Phase 1: nobody reads. The writer must stall (no progress for 300 ms)
    // long before 100 MB.
    let load = || written.load(std::sync::atomic::Ordering::Relaxed);
    let deadline = Instant::now() + WAIT;
    let (mut last, mut since) = (load(), Instant::now());
    let stalled_at = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = load();
        assert!(
            now < TOTAL,
            "the client wrote all 100 MB without reading: the server buffered the echo"
        );
        if now != last {
            (last, since) = (now, Instant::now());
        } else if since.elapsed() >= Duration::from_millis(300) {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "writer neither stalled nor finished"
        );
    };
    let rss_stalled = server.proc.proc_status_kib("VmRSS");
    eprintln!(
        "writer stalled after {} KiB; server RSS {rss_before} -> {rss_stalled} KiB",
        stalled_at >> 10
    );
    assert!(
        stalled_at < TOTAL / 2,
        "stalled only after {stalled_at} bytes"
    );

    // Phase 2: read and verify everything.
    let reader = async {
        let mut buf = vec![0; 256 * 1024];
        let mut want = vec![0; 256 * 1024];
        let mut off = 0u64;
        loop {
            let n = rd.read(&mut buf).await.expect("read echo");
            if n == 0 {
                break off;
            }
            fill_pattern(off, &mut want[..n]);
            assert!(buf[..n] == want[..n], "echo differs near byte {off}");
            off += n as u64;
        }
    };
    let received = bounded("100 MB echo", reader).await;
    assert_eq!(received, TOTAL, "echo truncated");
    let _wr = bounded("writer", writer).await.expect("writer task");

    let hwm = server.proc.proc_status_kib("VmHWM");
    eprintln!("server peak RSS {hwm} KiB (before {rss_before} KiB)");
    assert!(
        hwm.saturating_sub(rss_before) < 32 * 1024,
        "server RSS grew by {} KiB while echoing 100 MB",
        hwm - rss_before
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_mode_64mb_byte_for_byte_over_unix_and_ipv6() {
    let (_dir, _path, unix) = unix_endpoint("large.sock");
    let mut endpoints = vec![unix.as_str()];
    if ipv6_available() {
        endpoints.push("tcp://[::1]:0");
    }
    let server = ServerProc::ricochet(&endpoints, &[]);
    for ep in &server.endpoints {
        let progress = Arc::new(Progress::default());
        let got = bounded(
            &format!("64 MB through {ep}"),
            pattern_roundtrip(must_connect(ep).await, 64 << 20, progress),
        )
        .await;
        assert_eq!(got, Ok(64 << 20), "{ep}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hundred_concurrent_clients_all_get_their_own_echo() {
    const PER_TRANSPORT: usize = 150;
    const SIZE: usize = 8 * 1024;
    let (_dir, _path, unix) = unix_endpoint("many.sock");
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0", &unix], &[]);
    let n = PER_TRANSPORT * server.endpoints.len();
    // All clients connect, get their echo, and only then (all connections
    // still open, so the server holds every one at once) half-close.
    let connected = Arc::new(Barrier::new(n));
    let echoed = Arc::new(Barrier::new(n));
    let mut tasks = Vec::new();
    for (t, ep) in server.endpoints.iter().enumerate() {
        for i in 0..PER_TRANSPORT {
            let id = t * PER_TRANSPORT + i;
            let ep = ep.clone();
            let (connected, echoed) = (connected.clone(), echoed.clone());
            tasks.push(tokio::spawn(async move {
                let mut msg = vec![0; SIZE];
                fill_pattern((id * SIZE) as u64, &mut msg);
                let mut conn = connect(&ep)
                    .await
                    .map_err(|e| format!("{id}: connect: {e}"))?;
                connected.wait().await;
                conn.write_all(&msg)
                    .await
                    .map_err(|e| format!("{id}: write: {e}"))?;
                let mut echo = vec![0; SIZE];
                conn.read_exact(&mut echo)
                    .await
                    .map_err(|e| format!("{id}: read: {e}"))?;
                if echo != msg {
                    return Err(format!("client {id} got someone else's bytes"));
                }
                echoed.wait().await;
                conn.shutdown()
                    .await
                    .map_err(|e| format!("{id}: half-close: {e}"))?;
                let mut rest = Vec::new();
                conn.read_to_end(&mut rest)
                    .await
                    .map_err(|e| format!("{id}: read to EOF: {e}"))?;
                if !rest.is_empty() {
                    return Err(format!("client {id}: {} extra bytes", rest.len()));
                }
                Ok::<_, String>(())
            }));
        }
    }
    let results = bounded("300 clients", async {
        let mut results = Vec::new();
        for t in tasks {
            results.push(t.await.expect("client task panicked"));
        }
        results
    })
    .await;
    let failures: Vec<_> = results.into_iter().filter_map(Result::err).collect();
    assert!(
        failures.is_empty(),
        "{} of {n} clients failed: {failures:?}",
        failures.len()
    );
}
