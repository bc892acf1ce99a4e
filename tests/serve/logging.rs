//! What `serve -v` logs: every received payload with its peer, escaped so
//! that NULs, newlines and escape sequences cannot break or forge log lines.

use crate::common::*;
use tokio::io::AsyncWriteExt;

#[tokio::test]
async fn verbose_logs_escape_payloads_and_name_the_peer_in_every_mode() {
    for mode in ["stream", "once", "line"] {
        let server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &["--mode", mode, "-v"]);
        let mut conn = must_connect(&server.endpoints[0]).await;
        conn.write_all(b"a\0b\x1b[2J\\c\n").await.expect("write");
        conn.shutdown().await.expect("half-close");
        let echo = read_to_eof(&mut conn, WAIT).await;
        assert_eq!(echo, b"a\0b\x1b[2J\\c\n", "{mode}");
        let mut server = server;
        server.stop("TERM");
        let log = server.stderr();
        assert!(
            !log.contains('\0') && !log.contains('\x1b'),
            "{mode}: raw bytes in {log:?}"
        );
        let received: Vec<&str> = log.lines().filter(|l| l.contains(" data=")).collect();
        assert!(
            !received.is_empty(),
            "{mode}: no 'received' line in {log:?}"
        );
        for line in received {
            assert!(
                line.contains("peer=127.0.0.1:"),
                "{mode}: no peer in {line:?}"
            );
            assert!(
                line.contains(r"a\x00b\x1b[2J\\c\n"),
                "{mode}: not escaped: {line:?}"
            );
        }
    }
}
