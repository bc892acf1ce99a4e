//! Once mode: one read up to `--max-read`, then close; `--delay` per reply
//! without serialising clients.

use std::time::{Duration, Instant};

use crate::common::*;
use tokio::io::AsyncWriteExt;

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
