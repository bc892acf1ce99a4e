//! `--max-conns` across several listeners: the limit is shared, and no
//! listener may starve another of the last free slot.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use common::ServerProc;

fn echo_within<S: Read + Write>(s: &mut S, msg: &[u8]) -> bool {
    if s.write_all(msg).is_err() {
        return false;
    }
    let mut buf = vec![0u8; msg.len()];
    s.read_exact(&mut buf).is_ok() && buf == msg
}

#[test]
fn last_slot_is_not_hoarded_by_an_idle_listener() {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("echo.sock");
    for runtime in ["per-core", "work-stealing"] {
        let _ = std::fs::remove_file(&sock);
        let server = ServerProc::ricochet(
            &["tcp://127.0.0.1:0", &format!("unix:{}", sock.display())],
            &[
                "-q",
                "--max-conns",
                "2",
                "--threads",
                "2",
                "--runtime",
                runtime,
            ],
        );
        let tcp = server.endpoints[0]
            .strip_prefix("tcp://")
            .unwrap()
            .to_owned();
        let line = &server.endpoints[1];
        assert!(line.starts_with("unix:"), "{line}");

        let short = Some(Duration::from_millis(500));
        let long = Some(Duration::from_secs(10));
        let mut a = TcpStream::connect(&tcp).unwrap();
        a.set_read_timeout(long).unwrap();
        assert!(
            echo_within(&mut a, b"a"),
            "{runtime}: first TCP client not served"
        );

        // One slot left, and the TCP side is idle: a Unix client must get it.
        let mut b = UnixStream::connect(&sock).unwrap();
        b.set_read_timeout(long).unwrap();
        assert!(
            echo_within(&mut b, b"b"),
            "{runtime}: the last slot went unused"
        );

        // Full: a third client waits...
        let mut c = TcpStream::connect(&tcp).unwrap();
        c.set_read_timeout(short).unwrap();
        assert!(
            !echo_within(&mut c, b"c"),
            "{runtime}: served beyond --max-conns"
        );
        // ...until a slot frees; its request is already queued.
        drop(a);
        c.set_read_timeout(long).unwrap();
        let mut buf = [0u8; 1];
        c.read_exact(&mut buf)
            .unwrap_or_else(|e| panic!("{runtime}: not served after a slot freed: {e}"));
        assert_eq!(&buf, b"c");
        drop(server);
    }
}
