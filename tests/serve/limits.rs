//! `--max-conns` and `--idle-timeout` on the served process.

use std::time::{Duration, Instant};

use crate::common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// The default `--max-conns` follows the open-file limit, which the server
/// first raises to its hard maximum: with nofile 20,000 it must hold 10,000
/// idle clients and still serve more (the old fixed default, 10,000, held
/// the 10,001st in the backlog).
#[tokio::test]
async fn default_max_conns_follows_the_raised_open_file_limit() {
    let server = ServeCmd::new(&["tcp://127.0.0.1:0"])
        .fd_limits(1000, 20_000)
        .spawn();
    let limits = std::fs::read_to_string(format!("/proc/{}/limits", server.proc.pid()))
        .expect("read /proc/PID/limits");
    let open_files = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .expect("open files line");
    let soft: Vec<&str> = open_files.split_whitespace().collect();
    assert_eq!(soft[3], "20000", "soft limit not raised: {open_files}");
    assert_eq!(exchange(server.endpoint(), b"ping").await, b"ping");
    let log = server.stderr();
    assert!(log.contains("max_conns=18976"), "{log}");
}

/// A deployed server closes silent connections by default (5 minutes), and
/// `--idle-timeout never` or `0` turns that off.
#[test]
fn idle_timeout_defaults_to_five_minutes_and_can_be_disabled() {
    for (flags, expected) in [
        (&[][..], "idle_timeout=5m"),
        (&["--idle-timeout", "never"][..], "idle_timeout=never"),
        (&["--idle-timeout", "0"][..], "idle_timeout=never"),
    ] {
        let server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], flags);
        let log = server.stderr();
        assert!(log.contains(expected), "{flags:?}: {log}");
    }
}

/// Accepted TCP connections have keepalive on, so peers that vanished
/// without a FIN are found and their slots freed: the kernel shows a
/// keepalive timer (timer kind 2 in /proc/net/tcp) on the server's side of
/// an idle connection.
#[tokio::test]
async fn accepted_tcp_connections_have_keepalive() {
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &[]);
    let port = port_of(server.endpoint());
    let conn = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .expect("connect");
    let client_port = conn.local_addr().expect("addr").port();
    let entry = format!("{:04X}", port);
    let peer = format!("{:04X}", client_port);
    let mut found = None;
    eventually("server side of the connection in /proc/net/tcp", || {
        let table = std::fs::read_to_string("/proc/net/tcp").expect("/proc/net/tcp");
        found = table.lines().skip(1).find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let ours = f[1].ends_with(&format!(":{entry}")) && f[2].ends_with(&format!(":{peer}"));
            // Field 5 is "tr:when": the timer kind, then its expiry.
            (ours && f[3] == "01").then(|| f[5].to_owned())
        });
        found.is_some()
    })
    .await;
    let found = found.expect("found");
    assert!(found.starts_with("02:"), "no keepalive timer: {found}");
}
