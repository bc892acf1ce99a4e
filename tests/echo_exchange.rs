//! The one echo exchange (`ricochet::echo`) against servers that echo
//! faithfully, corrupt, cut short, pad, or stall; and `bench::run`, which
//! blocks, refusing to run inside an async runtime.

mod common;

use std::time::{Duration, Instant};

use common::ThreadServer;
use ricochet::bench::{self, progress::Silent, BenchConfig, BenchError};
use ricochet::echo::{self, EchoError};
use ricochet::Endpoint;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A server that reads `n` bytes, answers `reply(bytes)`, then keeps the
/// connection open and silent for a second before closing.
fn answer(n: usize, reply: fn(Vec<u8>) -> Vec<u8>) -> ThreadServer {
    ThreadServer::tcp(move |mut conn| async move {
        let mut got = vec![0; n];
        conn.read_exact(&mut got).await.expect("read");
        conn.write_all(&reply(got)).await.expect("reply");
        tokio::time::sleep(Duration::from_secs(1)).await;
    })
}

/// A server that reads to the client's half-close, then runs `then`.
fn after_eof<F, Fut>(then: F) -> ThreadServer
where
    F: Fn(tokio::net::TcpStream, Vec<u8>) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    ThreadServer::tcp(move |mut conn| async move {
        let mut got = Vec::new();
        conn.read_to_end(&mut got)
            .await
            .expect("read to the half-close");
        then(conn, got).await;
    })
}

async fn exchange(endpoint: &Endpoint, message: &[u8], timeout: u64) -> Result<(), EchoError> {
    let timeout = Some(Duration::from_millis(timeout));
    let mut stream = endpoint.connect(timeout).await?;
    echo::exchange(&mut stream, message, timeout).await
}

#[tokio::test]
async fn a_faithful_echo_passes() {
    let server = answer(11, |b| b);
    exchange(&server.endpoint, b"hello world", 2000)
        .await
        .expect("faithful echo");
}

#[tokio::test]
async fn a_wrong_byte_is_named_at_once_with_what_differs() {
    let server = answer(11, |mut b| {
        b[6] = b'W';
        b
    });
    let start = Instant::now();
    let err = exchange(&server.endpoint, b"hello world", 60_000)
        .await
        .unwrap_err();
    assert!(
        start.elapsed() < Duration::from_secs(30),
        "waited for the timeout"
    );
    assert!(
        matches!(err, EchoError::Mismatch { offset: 6, .. }),
        "{err:?}"
    );
    assert_eq!(
        err.to_string(),
        r#"the echo differs from what was sent at byte 6: sent "world", got "World""#
    );
    assert_eq!(err.failure(), ricochet::failure::Failure::Mismatch);
}

#[tokio::test]
async fn surplus_bytes_are_an_error() {
    let server = answer(5, |mut b| {
        b.extend_from_slice(b"!!");
        b
    });
    let err = exchange(&server.endpoint, b"hello", 2000)
        .await
        .unwrap_err();
    assert!(matches!(err, EchoError::Extra { extra: 2 }), "{err:?}");
}

#[tokio::test]
async fn a_stalled_echo_times_out_with_what_arrived() {
    let server = answer(5, |b| b[..2].to_vec());
    let start = Instant::now();
    let err = exchange(&server.endpoint, b"hello", 200).await.unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(
            err,
            EchoError::Timeout {
                received: 2,
                expected: 5,
                ..
            }
        ),
        "{err:?}"
    );
    // A Timeout (not the Short echo the server's close at 1 s would give)
    // shows the watchdog fired first.
    assert!(took >= Duration::from_millis(200), "{took:?}");
    assert_eq!(err.failure(), ricochet::failure::Failure::Timeout);
}

#[tokio::test]
async fn collect_returns_a_short_echo_for_the_caller_to_judge() {
    let server = after_eof(|mut conn, got| async move {
        conn.write_all(&got[..4]).await.expect("reply");
    });
    let echo = ricochet::client::send_message(
        &server.endpoint,
        b"hello world",
        None,
        echo::AfterEcho::Stop,
    )
    .await
    .expect("collect");
    assert_eq!(echo, b"hell");
    assert!(matches!(
        echo::compare(b"hello world", &echo),
        Err(EchoError::Short {
            received: 4,
            expected: 11
        })
    ));
}

#[tokio::test]
async fn bench_run_inside_a_runtime_is_an_error_not_a_panic() {
    let config = BenchConfig {
        targets: vec![Endpoint::tcp("127.0.0.1", 9)],
        ..BenchConfig::default()
    };
    let err = bench::run(&config, &mut Silent).unwrap_err();
    assert!(matches!(err, BenchError::InsideRuntime), "{err:?}");
    assert!(err.to_string().contains("spawn_blocking"), "{err}");
}

#[tokio::test]
async fn pipe_times_out_on_a_silent_server_while_the_input_stays_open() {
    use tokio::io::AsyncWriteExt;
    // Accepts and never answers.
    let server = ThreadServer::tcp(|conn| async move {
        tokio::time::sleep(Duration::from_secs(30)).await;
        drop(conn);
    });
    let endpoint = server.endpoint.clone();
    // An interactive stdin: one line typed, then nothing, never EOF.
    let (mut keyboard, input) = tokio::io::duplex(64);
    keyboard.write_all(b"hello").await.expect("type");
    let start = Instant::now();
    let timeout = Some(Duration::from_millis(300));
    let err = ricochet::client::pipe(&endpoint, input, tokio::io::sink(), true, timeout)
        .await
        .unwrap_err();
    let took = start.elapsed();
    assert!(
        matches!(
            err,
            EchoError::Timeout {
                received: 0,
                expected: 5,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(took >= Duration::from_millis(300), "{took:?}");
    drop((keyboard, server));
}

#[tokio::test]
async fn collect_until_close_sees_late_bytes_and_stops_at_the_first() {
    // Echoes, then, later, sends surplus bytes without end and never
    // closes: the collector must see them, and must not wait for a close
    // that never comes nor keep what follows.
    let server = after_eof(|mut conn, got| async move {
        conn.write_all(&got).await.expect("echo");
        tokio::time::sleep(Duration::from_millis(300)).await;
        while conn.write_all(&[b'!'; 4096]).await.is_ok() {}
    });
    let echo = ricochet::client::send_message(
        &server.endpoint,
        b"hello",
        Some(Duration::from_secs(10)),
        echo::AfterEcho::UntilClose,
    )
    .await
    .expect("collect");
    assert!(
        echo.starts_with(b"hello!"),
        "{:?}",
        String::from_utf8_lossy(&echo)
    );
    assert!(echo.len() <= 5 + 256 * 1024, "kept {} bytes", echo.len());
    assert!(matches!(
        echo::compare(b"hello", &echo),
        Err(EchoError::Extra { .. })
    ));
}
