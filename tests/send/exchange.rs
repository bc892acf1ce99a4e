//! The tutorial's exchange: `ricochet send ENDPOINT MESSAGE` prints what it
//! sent and received, over TCP and Unix, and waits for a slow echo.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::stdout_of;

#[test]
fn send_message_prints_sent_and_received_over_tcp_and_unix() {
    let (_dir, _path, unix) = unix_endpoint("send.sock");
    let endpoints = every_transport(&unix);
    let stream = ServerProc::ricochet(&endpoints, &[]);
    let once = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &["--mode", "once"]);
    let line = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &["--mode", "line"]);
    let all = stream
        .endpoints
        .iter()
        .chain(&once.endpoints)
        .chain(&line.endpoints);
    for ep in all {
        for check in [false, true] {
            let mut cmd = ricochet();
            cmd.args(["send", ep, "Hello World!"]);
            if check {
                cmd.arg("--check");
            }
            let out = cmd.output().expect("run");
            assert_eq!(out.status.code(), Some(0), "send to {ep}: {out:?}");
            assert_eq!(
                stdout_of(&out),
                "sent: Hello World!\nreceived: Hello World!\n",
                "send to {ep}"
            );
            assert!(out.stderr.is_empty(), "send to {ep}: {out:?}");
        }
    }
}

#[test]
fn send_message_waits_for_a_slow_echo() {
    let server = ServerProc::ricochet(
        &["tcp://127.0.0.1:0"],
        &["--mode", "once", "--delay", "300ms"],
    );
    let start = Instant::now();
    let out = ricochet()
        .args(["send", server.endpoint(), "Coucou!", "--check"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout_of(&out), "sent: Coucou!\nreceived: Coucou!\n");
    assert!(start.elapsed() >= Duration::from_millis(300));
}
