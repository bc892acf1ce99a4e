//! Shutdown on SIGTERM/SIGINT: transfers in flight finish within the grace,
//! later ones are cut, no signal is lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

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
