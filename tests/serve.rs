//! `ricochet serve` over real sockets: endpoints, the three modes, limits,
//! shutdown, Unix socket files, command-line errors, and the library's
//! `Server` API that the binary is built on.

mod common;

use std::collections::HashSet;
use std::net::ToSocketAddrs;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::*;
use ricochet::{Endpoint, LineEcho, Listener, Mode, OnceEcho, Server, StreamEcho};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{oneshot, Barrier};

// ---------------------------------------------------------------------------
// Endpoints and "listening on" lines

#[tokio::test]
async fn listens_on_ipv4_ipv6_and_unix_and_reports_real_ports() {
    let (_dir, path, unix) = unix_endpoint("echo.sock");
    let endpoints = every_transport(&unix);
    let server = ServerProc::ricochet(&endpoints, &[]);
    assert_eq!(
        server.endpoints.len(),
        endpoints.len(),
        "{:?}",
        server.endpoints
    );

    let v4 = &server.endpoints[0];
    assert!(v4.starts_with("tcp://127.0.0.1:"), "{v4}");
    assert_ne!(port_of(v4), 0, "port 0 must be reported as the real port");
    assert_eq!(server.endpoints[1], unix);
    assert!(path.exists(), "socket file not created");
    if let Some(v6) = server.endpoints.get(2) {
        assert!(v6.starts_with("tcp://[::1]:"), "{v6}");
        assert_ne!(port_of(v6), 0);
    }
    for ep in &server.endpoints {
        assert_eq!(exchange(ep, b"Hello World!").await, b"Hello World!", "{ep}");
    }
}

#[tokio::test]
async fn localhost_binds_every_resolved_address_on_one_port() {
    let resolved: HashSet<_> = ("localhost", 0)
        .to_socket_addrs()
        .expect("resolve localhost")
        .map(|a| a.ip())
        .collect();
    let server = ServerProc::ricochet(&["tcp://localhost:0"], &[]);
    assert_eq!(
        server.endpoints.len(),
        resolved.len(),
        "{:?}",
        server.endpoints
    );
    let ports: HashSet<u16> = server.endpoints.iter().map(|e| port_of(e)).collect();
    assert_eq!(ports.len(), 1, "one name, one port: {:?}", server.endpoints);
    assert!(!ports.contains(&0));
    let bound: HashSet<_> = server
        .endpoints
        .iter()
        .map(|e| {
            let hostport = e.strip_prefix("tcp://").expect("tcp endpoint");
            hostport
                .to_socket_addrs()
                .expect("announced endpoint is an address")
                .next()
                .expect("one address")
                .ip()
        })
        .collect();
    assert_eq!(bound, resolved);
    for ep in &server.endpoints {
        assert_eq!(exchange(ep, b"ping").await, b"ping", "{ep}");
    }
}

#[tokio::test]
async fn bare_host_port_is_tcp_and_bare_path_is_unix() {
    let (_dir, path, _) = unix_endpoint("bare.sock");
    let bare_path = path.to_str().expect("utf-8 temp path");
    let server = ServerProc::ricochet(&["127.0.0.1:0", bare_path], &[]);
    assert!(
        server.endpoints[0].starts_with("tcp://127.0.0.1:"),
        "{:?}",
        server.endpoints
    );
    assert_eq!(server.endpoints[1], format!("unix:{bare_path}"));
    for ep in &server.endpoints {
        assert_eq!(exchange(ep, b"bare").await, b"bare", "{ep}");
    }
}

// ---------------------------------------------------------------------------
// stream mode

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

// ---------------------------------------------------------------------------
// once mode

#[tokio::test]
async fn once_mode_reads_once_up_to_max_read_then_closes() {
    let (_dir, _path, unix) = unix_endpoint("once.sock");
    let default = ServerProc::ricochet(&["tcp://127.0.0.1:0", &unix], &["--mode", "once"]);
    let small = ServerProc::ricochet(
        &["tcp://127.0.0.1:0"],
        &["--mode", "once", "--max-read", "10"],
    );
    let msg = pattern(3000);
    for (ep, max_read) in [
        (&default.endpoints[0], 1024),
        (&default.endpoints[1], 1024),
        (&small.endpoints[0], 10),
    ] {
        // The tutorial's exchange: the client does not half-close; the
        // server answers once and closes by itself.
        let mut conn = must_connect(ep).await;
        conn.write_all(b"Hello World!").await.expect("write");
        assert_eq!(
            read_to_eof(&mut conn, WAIT).await,
            &b"Hello World!"[..max_read.min(12)],
            "{ep}"
        );

        // One write larger than --max-read: exactly one read's worth back.
        let mut conn = must_connect(ep).await;
        conn.write_all(&msg).await.expect("write");
        let echo = read_to_eof(&mut conn, WAIT).await;
        assert_eq!(echo.len(), max_read, "{ep}: --max-read {max_read}");
        assert!(
            echo == msg[..max_read],
            "{ep}: echo is not the first {max_read} bytes"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn once_mode_delay_holds_each_reply_but_clients_are_served_concurrently() {
    const DELAY: Duration = Duration::from_millis(500);
    const CLIENTS: usize = 4;
    let server = ServerProc::ricochet(
        &["tcp://127.0.0.1:0"],
        &["--mode", "once", "--delay", "500ms"],
    );
    let ep = server.endpoint().to_owned();
    let start = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..CLIENTS {
        let ep = ep.clone();
        tasks.push(tokio::spawn(async move {
            let mut conn = must_connect(&ep).await;
            let msg = format!("client {i}");
            let sent = Instant::now();
            conn.write_all(msg.as_bytes()).await.expect("write");
            let echo = read_to_eof(&mut conn, WAIT).await;
            assert_eq!(echo, msg.as_bytes());
            sent.elapsed()
        }));
    }
    for t in tasks {
        let took = bounded("client", t).await.expect("client task");
        assert!(
            took >= DELAY,
            "reply came after {took:?}, before --delay {DELAY:?}"
        );
    }
    let total = start.elapsed();
    assert!(
        total < DELAY * (CLIENTS as u32 - 1),
        "{CLIENTS} clients took {total:?}: served one after another, not concurrently"
    );
}

// ---------------------------------------------------------------------------
// line mode

#[tokio::test]
async fn line_mode_echoes_each_line_as_it_arrives() {
    let (_dir, _path, unix) = unix_endpoint("line.sock");
    let endpoints = every_transport(&unix);
    let server = ServerProc::ricochet(&endpoints, &["--mode", "line"]);
    for ep in &server.endpoints {
        let mut conn = must_connect(ep).await;
        for chunk in [&b"one\n"[..], b"two\nthree\n", b"crlf\r\n", b"\n"] {
            conn.write_all(chunk).await.expect("write");
            let mut echo = vec![0; chunk.len()];
            bounded(&format!("line echo from {ep}"), conn.read_exact(&mut echo))
                .await
                .expect("read");
            assert_eq!(echo, chunk, "{ep}");
        }
        // A line split across writes is echoed once complete.
        conn.write_all(b"spl").await.expect("write");
        conn.write_all(b"it\n").await.expect("write");
        let mut echo = [0; 6];
        bounded("split line", conn.read_exact(&mut echo))
            .await
            .expect("read");
        assert_eq!(&echo, b"split\n", "{ep}");
        // A last line without newline is echoed at EOF, then EOF.
        conn.write_all(b"no newline").await.expect("write");
        conn.shutdown().await.expect("half-close");
        assert_eq!(read_to_eof(&mut conn, WAIT).await, b"no newline", "{ep}");
    }
}

#[tokio::test]
async fn line_mode_over_long_line_gets_error_line_and_close() {
    let (_dir, _path, unix) = unix_endpoint("long.sock");
    let server = ServerProc::ricochet(
        &["tcp://127.0.0.1:0", &unix],
        &["--mode", "line", "--max-line", "16"],
    );
    for ep in &server.endpoints {
        let mut conn = must_connect(ep).await;
        let exactly = format!("{}\n", "a".repeat(16));
        conn.write_all(exactly.as_bytes()).await.expect("write");
        let mut echo = vec![0; exactly.len()];
        bounded("16-byte line", conn.read_exact(&mut echo))
            .await
            .expect("read");
        assert_eq!(
            echo,
            exactly.as_bytes(),
            "{ep}: a line of exactly --max-line bytes is fine"
        );

        conn.write_all(format!("{}\n", "b".repeat(17)).as_bytes())
            .await
            .expect("write");
        let rest = read_to_eof(&mut conn, WAIT).await;
        let rest = String::from_utf8(rest).expect("error line is text");
        assert!(
            rest.starts_with("error:"),
            "{ep}: expected an error line, got {rest:?}"
        );
        assert!(
            rest.ends_with('\n') && rest.lines().count() == 1,
            "{ep}: {rest:?}"
        );
        assert!(
            !rest.contains("bbb"),
            "{ep}: the over-long line was echoed: {rest:?}"
        );
    }
}

#[tokio::test]
async fn line_mode_default_limit_is_64_kib() {
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &["--mode", "line"]);
    let ep = server.endpoint();
    let mut ok_line = vec![b'x'; 65536];
    ok_line.push(b'\n');
    let mut conn = must_connect(ep).await;
    conn.write_all(&ok_line).await.expect("write");
    let mut echo = vec![0; ok_line.len()];
    bounded("64 KiB line", conn.read_exact(&mut echo))
        .await
        .expect("read");
    assert!(echo == ok_line, "65536-byte line not echoed intact");

    conn.write_all(&vec![b'y'; 70_000]).await.expect("write");
    let rest = read_to_eof(&mut conn, WAIT).await;
    assert!(
        rest.starts_with(b"error:"),
        "expected an error line, got {:?}",
        String::from_utf8_lossy(&rest[..rest.len().min(80)])
    );
}

// ---------------------------------------------------------------------------
// Limits

/// `--max-conns 2`: a third client is held (connected, unserved) until one
/// of the two closes; then `--max-conns 1`: successive clients, each
/// connecting after the previous one closed, are all served promptly.
async fn check_max_conns(runtime_flags: &[&str]) {
    let flags = [&["--max-conns", "2"][..], runtime_flags].concat();
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &flags);
    let ep = server.endpoint();
    let mut served = Vec::new();
    for name in ["a", "b"] {
        let mut conn = must_connect(ep).await;
        conn.write_all(name.as_bytes()).await.expect("write");
        let mut echo = [0; 1];
        let first_two = tokio::time::timeout(Duration::from_secs(3), conn.read_exact(&mut echo));
        first_two
            .await
            .unwrap_or_else(|_| panic!("client {name:?} not served, under the limit of 2"))
            .expect("read");
        assert_eq!(&echo, name.as_bytes());
        served.push(conn);
    }

    // The third connects (the kernel's backlog takes it) but is not served.
    let mut third = must_connect(ep).await;
    third.write_all(b"c").await.expect("write");
    let mut echo = [0; 1];
    let waited = tokio::time::timeout(Duration::from_millis(500), third.read(&mut echo)).await;
    assert!(
        waited.is_err(),
        "third client was served beyond --max-conns 2: {waited:?}"
    );

    // Closing one of the two frees a slot; the waiting client is served.
    drop(served.remove(0));
    tokio::time::timeout(Duration::from_secs(3), third.read_exact(&mut echo))
        .await
        .expect("the waiting client was not served after a slot freed")
        .expect("read");
    assert_eq!(&echo, b"c");

    // The other slot holder was never disturbed.
    let b = &mut served[0];
    b.write_all(b"still here").await.expect("write");
    let mut echo = [0; 10];
    bounded("second client", b.read_exact(&mut echo))
        .await
        .expect("read");
    assert_eq!(&echo, b"still here");
    drop(served);
    drop(third);

    // One slot: every client that comes after the previous one left is
    // served at once (each would wait forever if a free slot could sit on
    // an idle accept while the client queues elsewhere).
    let flags = [&["--max-conns", "1"][..], runtime_flags].concat();
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &flags);
    for i in 0..8 {
        let msg = format!("client {i}");
        let echo = tokio::time::timeout(
            Duration::from_secs(3),
            exchange(server.endpoint(), msg.as_bytes()),
        )
        .await
        .unwrap_or_else(|_| {
            panic!("--max-conns 1: client {i} not served although no one else is connected")
        });
        assert_eq!(echo, msg.as_bytes());
    }
}

#[tokio::test]
async fn max_conns_keeps_extra_clients_waiting_until_a_slot_frees() {
    check_max_conns(&[]).await;
}

#[tokio::test]
async fn max_conns_keeps_extra_clients_waiting_until_a_slot_frees_work_stealing() {
    check_max_conns(&["--runtime", "work-stealing"]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_timeout_closes_idle_connections_but_not_active_ones() {
    const IDLE: Duration = Duration::from_millis(500);
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &["--idle-timeout", "500ms"]);
    let ep = server.endpoint().to_owned();

    let idle = {
        let ep = ep.clone();
        tokio::spawn(async move {
            let start = Instant::now();
            let mut conn = must_connect(&ep).await;
            let rest = read_to_eof(&mut conn, WAIT).await;
            assert!(rest.is_empty());
            start.elapsed()
        })
    };
    let active = tokio::spawn(async move {
        let mut conn = must_connect(&ep).await;
        // Three times the idle timeout, never idle for more than 150 ms.
        for i in 0..10 {
            let msg = format!("tick {i}");
            conn.write_all(msg.as_bytes()).await.expect("write");
            let mut echo = vec![0; msg.len()];
            bounded("tick echo", conn.read_exact(&mut echo))
                .await
                .unwrap_or_else(|e| panic!("active connection closed at tick {i}: {e}"));
            assert_eq!(echo, msg.as_bytes());
            tokio::time::sleep(Duration::from_millis(150)).await;
        }
        conn.shutdown().await.expect("half-close");
        read_to_eof(&mut conn, WAIT).await
    });

    let idle_for = bounded("idle client", idle).await.expect("idle task");
    assert!(
        idle_for >= IDLE,
        "closed after {idle_for:?}, before the idle timeout"
    );
    assert!(idle_for < IDLE * 6, "closed only after {idle_for:?}");
    let rest = bounded("active client", active).await.expect("active task");
    assert!(rest.is_empty());
}

// ---------------------------------------------------------------------------
// Shutdown

/// A 64 MB transfer is paused mid-way, the server gets the signal, stops
/// accepting; then the transfer resumes and must complete untruncated
/// before the server exits 0.
async fn check_graceful_shutdown(
    signal: &str,
    listen: &str,
    socket_file: Option<&std::path::Path>,
) {
    const TOTAL: u64 = 64 << 20;
    const PAUSE_AT: u64 = 8 << 20;
    let mut server = ServerProc::ricochet(&[listen], &["--grace", "60s"]);
    let ep = server.endpoint().to_owned();
    let progress = Arc::new(Progress::default());
    let (resume, gate) = oneshot::channel();
    let transfer = tokio::spawn(pattern_roundtrip_gated(
        must_connect(&ep).await,
        TOTAL,
        progress.clone(),
        Some((PAUSE_AT, gate)),
    ));
    eventually("first 8 MiB echoed", || progress.received() >= PAUSE_AT).await;

    server.signal(signal);
    until_refused(&ep).await;
    if let Some(path) = socket_file {
        assert!(
            !path.exists(),
            "socket file still there after the server stopped accepting"
        );
    }
    assert!(
        server.proc.try_status().is_none(),
        "server exited with a transfer in flight; stderr:\n{}",
        server.stderr()
    );

    resume.send(()).expect("transfer still running");
    let done = bounded("transfer after the signal", transfer)
        .await
        .expect("transfer task");
    assert_eq!(done, Ok(TOTAL), "transfer in flight at SIG{signal} was cut");
    let status = server.expect_exit();
    assert!(
        status.success(),
        "exit {status:?}; stderr:\n{}",
        server.stderr()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_lets_a_64mb_transfer_in_flight_finish_then_exits_0() {
    check_graceful_shutdown("TERM", "tcp://127.0.0.1:0", None).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigint_over_unix_finishes_transfer_removes_socket_file_exits_0() {
    let (_dir, path, unix) = unix_endpoint("sigint.sock");
    check_graceful_shutdown("INT", &unix, Some(&path)).await;
    assert!(!path.exists());
}

#[tokio::test]
async fn connections_still_open_after_grace_are_cut() {
    const GRACE: Duration = Duration::from_millis(300);
    let mut server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &["--grace", "300ms"]);
    let mut conn = must_connect(server.endpoint()).await;
    conn.write_all(b"hold").await.expect("write");
    let mut echo = [0; 4];
    bounded("echo", conn.read_exact(&mut echo))
        .await
        .expect("read");

    let signalled = Instant::now();
    let status = server.stop("TERM");
    let took = signalled.elapsed();
    assert!(
        status.success(),
        "exit {status:?}; stderr:\n{}",
        server.stderr()
    );
    assert!(
        took >= GRACE,
        "exited after {took:?}, without waiting --grace"
    );
    let mut buf = [0; 16];
    let after = bounded("read after the cut", conn.read(&mut buf)).await;
    assert!(
        matches!(after, Ok(0) | Err(_)),
        "connection not closed at the end of grace: {after:?}"
    );
}

#[tokio::test]
async fn idle_server_exits_0_promptly_on_sigterm_and_sigint() {
    for sig in ["TERM", "INT"] {
        let (_dir, path, unix) = unix_endpoint("quit.sock");
        let mut server = ServerProc::ricochet(&["tcp://127.0.0.1:0", &unix], &[]);
        let status = server.stop(sig);
        assert!(
            status.success(),
            "SIG{sig}: exit {status:?}; stderr:\n{}",
            server.stderr()
        );
        assert!(!path.exists(), "SIG{sig}: socket file left behind");
    }
}

/// A signal sent as soon as "listening on" is printed must shut the server
/// down gracefully: a supervisor (or a test) knows no better moment.
fn check_signal_right_after_listening(runtime_flags: &[&str]) {
    for round in 0..10 {
        for sig in ["TERM", "INT"] {
            let mut server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], runtime_flags);
            // Exactly one signal, no retry.
            server.proc.signal(sig);
            match server.proc.wait_exit(Duration::from_secs(3)) {
                Some(status) => assert!(
                    status.success(),
                    "round {round}, SIG{sig}: exit {status:?}; stderr:\n{}",
                    server.stderr()
                ),
                None => panic!(
                    "round {round}: SIG{sig} sent right after 'listening on' was lost, \
                     the server is still running; stderr:\n{}",
                    server.stderr()
                ),
            }
        }
    }
}

#[test]
fn a_signal_right_after_listening_is_not_lost() {
    check_signal_right_after_listening(&[]);
}

#[test]
fn a_signal_right_after_listening_is_not_lost_work_stealing() {
    check_signal_right_after_listening(&["--runtime", "work-stealing"]);
}

// ---------------------------------------------------------------------------
// Unix socket files

#[test]
fn unix_refuses_a_regular_file_and_leaves_it_alone() {
    let (_dir, path, unix) = unix_endpoint("precious.txt");
    std::fs::write(&path, "precious").expect("write file");
    let out = ricochet().args(["serve", &unix]).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_one_error_line(
        &out.stderr,
        &["not a socket", path.to_str().expect("utf-8")],
    );
    assert_eq!(
        std::fs::read_to_string(&path).expect("file still there"),
        "precious"
    );
}

#[tokio::test]
async fn unix_replaces_a_stale_socket_file() {
    let (_dir, path, unix) = unix_endpoint("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
    assert!(path.exists(), "std leaves the socket file behind");
    let mut server = ServerProc::ricochet(&[&unix], &[]);
    assert_eq!(exchange(&unix, b"fresh").await, b"fresh");
    assert!(server.stop("TERM").success());
    assert!(!path.exists());
}

#[tokio::test]
async fn unix_refuses_a_path_where_another_ricochet_is_live() {
    let (_dir, path, unix) = unix_endpoint("live.sock");
    let first = ServerProc::ricochet(&[&unix], &[]);
    let out = ricochet().args(["serve", &unix]).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_one_error_line(&out.stderr, &["another server is live"]);
    assert!(
        path.exists(),
        "the refused server removed the live server's socket"
    );
    assert_eq!(
        exchange(first.endpoint(), b"still mine").await,
        b"still mine"
    );
}

#[test]
fn unix_refuses_a_foreign_live_socket_and_leaves_it_working() {
    let (_dir, path, unix) = unix_endpoint("foreign.sock");
    let foreign = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    let out = ricochet().args(["serve", &unix]).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_one_error_line(&out.stderr, &["another server is live"]);
    assert!(path.exists());
    std::os::unix::net::UnixStream::connect(&path).expect("foreign socket still reachable");
    drop(foreign);
}

#[tokio::test]
async fn unix_shutdown_does_not_remove_a_file_that_replaced_its_socket() {
    let (_dir, path, unix) = unix_endpoint("replaced.sock");
    let mut server = ServerProc::ricochet(&[&unix], &[]);
    std::fs::remove_file(&path).expect("remove ricochet's socket file");
    let foreign = std::os::unix::net::UnixListener::bind(&path).expect("bind foreign");
    assert!(server.stop("TERM").success());
    assert!(
        path.exists(),
        "ricochet removed a socket file it did not create"
    );
    std::os::unix::net::UnixStream::connect(&path).expect("foreign socket still reachable");
    drop(foreign);
}

/// Many Unix listeners bound at once, then a client on every one at the
/// same time: each must be served, and the idle server must not burn CPU.
async fn check_unix_listeners_accept_right_after_start(runtime_flags: &[&str]) {
    const LISTENERS: usize = 400;
    let dir = tempfile::tempdir().expect("temp dir");
    let endpoints: Vec<String> = (0..LISTENERS)
        .map(|i| format!("unix:{}", dir.path().join(format!("{i}.sock")).display()))
        .collect();
    let refs: Vec<&str> = endpoints.iter().map(String::as_str).collect();
    let server = ServerProc::ricochet(&refs, runtime_flags);

    let cpu_before = server.proc.cpu_ticks();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let busy = server.proc.cpu_ticks() - cpu_before;

    let mut clients = tokio::task::JoinSet::new();
    for ep in endpoints {
        clients.spawn(async move {
            let echo = tokio::time::timeout(Duration::from_secs(3), exchange(&ep, b"hi")).await;
            (echo.as_deref() != Ok(&b"hi"[..])).then_some(ep)
        });
    }
    let mut unserved = Vec::new();
    while let Some(r) = clients.join_next().await {
        unserved.extend(r.expect("client task"));
    }
    assert!(
        unserved.is_empty(),
        "{} of {LISTENERS} Unix listeners did not serve their first client, e.g. {:?}",
        unserved.len(),
        &unserved[..unserved.len().min(3)]
    );
    assert!(
        busy <= 10,
        "an idle server used {busy} ticks of CPU in 300 ms: an accept loop is spinning"
    );
}

#[tokio::test]
async fn unix_listeners_accept_right_after_start() {
    check_unix_listeners_accept_right_after_start(&[]).await;
}

#[tokio::test]
async fn unix_listeners_accept_right_after_start_work_stealing() {
    check_unix_listeners_accept_right_after_start(&["--runtime", "work-stealing"]).await;
}

#[test]
fn a_second_server_on_a_busy_tcp_port_is_refused() {
    let first = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &[]);
    let mut second = ricochet();
    second.args(["serve", first.endpoint()]);
    // Bounded so that the bug shows as a failure, not as a 15 s hang.
    let out = second
        .timeout(Duration::from_secs(3))
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "second server on {} was not refused; stdout: {}",
        first.endpoint(),
        String::from_utf8_lossy(&out.stdout)
    );
    assert_one_error_line(&out.stderr, &["address already in use"]);
}

#[test]
fn a_second_server_on_a_busy_tcp_port_is_refused_work_stealing() {
    let first = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &["--runtime", "work-stealing"]);
    let out = ricochet()
        .args(["serve", "--runtime", "work-stealing", first.endpoint()])
        .timeout(Duration::from_secs(3))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_one_error_line(&out.stderr, &["address already in use"]);
}

#[test]
fn unix_mode_sets_socket_file_permissions() {
    for (flag, want) in [("600", 0o600), ("0640", 0o640)] {
        let (_dir, path, unix) = unix_endpoint("mode.sock");
        let _server = ServerProc::ricochet(&[&unix], &["--unix-mode", flag]);
        let meta = std::fs::metadata(&path).expect("socket file");
        assert!(meta.file_type().is_socket());
        assert_eq!(
            meta.permissions().mode() & 0o7777,
            want,
            "--unix-mode {flag}"
        );
    }
}

// ---------------------------------------------------------------------------
// Command-line errors

#[test]
fn bad_endpoints_are_usage_errors_saying_what_was_expected() {
    for (endpoint, needles) in [
        (
            "http://127.0.0.1:1",
            &["unsupported scheme 'http'", "tcp://HOST:PORT"][..],
        ),
        ("localhost", &["missing port", "HOST:PORT"]),
        ("127.0.0.1:99999", &["invalid port '99999'", "0 to 65535"]),
        ("127.0.0.1:echo", &["invalid port 'echo'"]),
        ("::1:80", &["brackets", "[::1]"]),
        ("[::1:80", &["unclosed '['"]),
        ("tcp://:80", &["empty host"]),
        ("unix:", &["missing path", "unix:/PATH"]),
        ("", &["empty endpoint"]),
    ] {
        let out = ricochet().args(["serve", endpoint]).output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "serve {endpoint:?}: {stderr}");
        for n in needles {
            assert!(
                stderr.contains(n),
                "serve {endpoint:?}: stderr lacks {n:?}:\n{stderr}"
            );
        }
    }
}

#[test]
fn bad_flags_are_usage_errors_with_clear_messages() {
    for (args, needles) in [
        (
            &["serve", "--mode", "echo"][..],
            &["'echo'", "stream", "once", "line"][..],
        ),
        (&["serve", "--max-conns", "0"], &["at least 1"]),
        (&["serve", "--max-conns", "many"], &["'many'"]),
        (&["serve", "--unix-mode", "999"], &["octal"]),
        (
            &["serve", "--idle-timeout", "soon"],
            &["invalid duration 'soon'"],
        ),
        (
            &["serve", "--grace", "forever"],
            &["invalid duration 'forever'"],
        ),
        (&["serve", "--delay", "x"], &["invalid duration 'x'"]),
        (&["serve", "--max-read", "0"], &["--max-read"]),
        (&["serve", "--max-line", "0"], &["--max-line"]),
        (&["serve", "--threads", "0"], &["--threads"]),
        (&["serve", "--no-such-flag"], &["--no-such-flag"]),
        (
            &["send", "--timeout", "soon", "hi"],
            &["invalid duration 'soon'"],
        ),
        (
            &["send", "tcp://127.0.0.1:1", "a", "b"],
            &["unexpected value 'b'"],
        ),
        (&["frobnicate"], &["frobnicate"]),
    ] {
        let out = ricochet().args(args).output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        for n in needles {
            assert!(
                stderr.contains(n),
                "{args:?}: stderr lacks {n:?}:\n{stderr}"
            );
        }
        assert!(out.stdout.is_empty(), "{args:?}: printed to stdout");
    }
}

#[test]
fn bind_failures_exit_1_with_one_clear_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let in_use = format!("tcp://{}", taken.local_addr().expect("addr"));
    let (_dir, path, _) = unix_endpoint("x.sock");
    let no_dir = format!("unix:{}", path.join("missing-dir/echo.sock").display());
    for (endpoint, needles) in [
        (
            in_use.as_str(),
            &["cannot listen on", "address already in use"][..],
        ),
        // TEST-NET-1: valid, but no local interface has it.
        ("tcp://192.0.2.1:0", &["cannot listen on tcp://192.0.2.1:0"]),
        (
            "tcp://nosuch.invalid:0",
            &["could not resolve 'nosuch.invalid'"],
        ),
        (no_dir.as_str(), &["cannot listen on"]),
    ] {
        let out = ricochet().args(["serve", endpoint]).output().expect("run");
        assert_eq!(out.status.code(), Some(1), "serve {endpoint}: {out:?}");
        assert_one_error_line(&out.stderr, needles);
    }
    // One failing endpoint among good ones fails the whole command.
    let out = ricochet()
        .args(["serve", "tcp://127.0.0.1:0", &in_use])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stdout.is_empty(),
        "announced listeners before failing: {out:?}"
    );
}

// ---------------------------------------------------------------------------
// The library API the binary is built on

async fn serve_in_process(mode: Mode, input: &[u8]) -> (Vec<u8>, ricochet::server::ServeSummary) {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = std_listener.local_addr().expect("addr");
    let server = Server::from_listeners(vec![Listener::adopt_tcp(std_listener).expect("adopt")]);
    assert_eq!(
        server.local_endpoints().expect("endpoints"),
        vec![Endpoint::from(addr)]
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(mode, async {
        let _ = stopped.await;
    }));
    let echo = exchange(&format!("tcp://{addr}"), input).await;
    stop.send(()).expect("server running");
    let summary = bounded("serve() to return", task)
        .await
        .expect("serve task");
    (echo, summary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_serves_every_mode_on_an_adopted_std_listener() {
    let big = pattern(1 << 20);
    let (echo, summary) = serve_in_process(Mode::Stream(StreamEcho), &big).await;
    assert!(echo == big, "stream: echo differs");
    assert_eq!((summary.accepted, summary.cut_at_shutdown), (1, 0));

    let once = Mode::Once(OnceEcho {
        max_read: 5,
        delay: None,
    });
    let (echo, summary) = serve_in_process(once, b"Hello World!").await;
    assert_eq!(echo, b"Hello");
    assert_eq!((summary.accepted, summary.cut_at_shutdown), (1, 0));

    let line = Mode::Line(LineEcho { max_line: 8 });
    let (echo, _) = serve_in_process(line, b"a\nbb\nccc").await;
    assert_eq!(echo, b"a\nbb\nccc");
    let line = Mode::Line(LineEcho { max_line: 8 });
    let (echo, _) = serve_in_process(line, b"ok\n0123456789\n").await;
    assert!(
        echo.starts_with(b"ok\nerror:"),
        "{:?}",
        String::from_utf8_lossy(&echo)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_shutdown_waits_for_grace_then_cuts_open_connections() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = std_listener.local_addr().expect("addr");
    let server = Server::from_listeners(vec![Listener::adopt_tcp(std_listener).expect("adopt")])
        .grace(Duration::from_millis(200));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(Mode::Stream(StreamEcho), async {
        let _ = stopped.await;
    }));
    let mut conn = must_connect(&format!("tcp://{addr}")).await;
    conn.write_all(b"x").await.expect("write");
    let mut echo = [0; 1];
    bounded("echo", conn.read_exact(&mut echo))
        .await
        .expect("read");

    let start = Instant::now();
    stop.send(()).expect("server running");
    let summary = bounded("serve() to return", task)
        .await
        .expect("serve task");
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "did not wait for grace"
    );
    assert_eq!(summary.accepted, 1);
    assert_eq!(summary.cut_at_shutdown, 1);
    let after = bounded("read after the cut", conn.read(&mut echo)).await;
    assert!(matches!(after, Ok(0) | Err(_)), "still open: {after:?}");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "listener still accepting after serve() returned"
    );
}

#[tokio::test]
async fn library_adopted_unix_listener_serves_and_leaves_its_file() {
    let (_dir, path, unix) = unix_endpoint("adopted.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    let server = Server::from_listeners(vec![Listener::adopt_unix(listener).expect("adopt")]);
    assert_eq!(
        server.local_endpoints().expect("endpoints"),
        vec![Endpoint::unix(&path)]
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(Mode::Stream(StreamEcho), async {
        let _ = stopped.await;
    }));
    assert_eq!(exchange(&unix, b"adopted").await, b"adopted");
    stop.send(()).expect("server running");
    bounded("serve() to return", task)
        .await
        .expect("serve task");
    assert!(path.exists(), "removed a socket file bound by someone else");
}

#[tokio::test]
async fn library_bind_reports_real_endpoints() {
    let (_dir, path, unix) = unix_endpoint("bound.sock");
    let endpoints: Vec<Endpoint> = ["tcp://127.0.0.1:0", unix.as_str()]
        .iter()
        .map(|s| s.parse().expect("endpoint"))
        .collect();
    let server = Server::bind_all(&endpoints, &ricochet::BindOptions::default())
        .await
        .expect("bind");
    let local = server.local_endpoints().expect("endpoints");
    assert_eq!(local.len(), 2);
    assert!(matches!(&local[0], Endpoint::Tcp { host, port } if host == "127.0.0.1" && *port != 0));
    assert_eq!(local[1], Endpoint::unix(&path));
    drop(server);
    assert!(
        !path.exists(),
        "dropping a bound server leaves its socket file"
    );
}
