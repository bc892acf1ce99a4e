//! Line mode: each line echoed as it arrives, the over-long-line error and the
//! default limit.

use crate::common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

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

/// An idle line-mode connection holds no line buffer: 500 of them, with the
/// largest line limit, cost well under 8 MiB (they cost 268 KB each when the
/// buffer was sized to the limit up front).
#[tokio::test]
async fn idle_line_mode_connections_hold_no_buffer() {
    let server = ServerProc::ricochet(
        &["tcp://127.0.0.1:0"],
        &["--mode", "line", "--max-line", "67108864", "-q"],
    );
    let ep = &server.endpoints[0];
    // Warm up the allocator and runtime with one exchange first.
    let mut conns = vec![must_connect(ep).await];
    exchange_line(&mut conns[0]).await;
    let before = server.proc.proc_status_kib("VmRSS");
    for _ in 0..500 {
        let mut conn = must_connect(ep).await;
        exchange_line(&mut conn).await;
        conns.push(conn);
    }
    let grown = server.proc.proc_status_kib("VmRSS").saturating_sub(before);
    assert!(
        grown < 8 * 1024,
        "500 idle line connections grew RSS by {grown} KiB"
    );
}

async fn exchange_line(conn: &mut Box<dyn Io>) {
    conn.write_all(b"hi\n").await.expect("write");
    let mut echo = [0u8; 3];
    bounded("line echo", conn.read_exact(&mut echo))
        .await
        .expect("read");
    assert_eq!(&echo, b"hi\n");
}
