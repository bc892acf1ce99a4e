//! The stdin pipe: `ricochet send ENDPOINT -` is binary-safe and half-closes at
//! the end of stdin.

use std::time::{Duration, Instant};

use crate::common::*;
use crate::{answer_after_eof, stdout_of};

#[test]
fn send_dash_pipes_64mb_of_stdin_binary_safe_with_check() {
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &[]);
    let input = pattern(64 << 20);
    let out = ricochet()
        .args(["send", server.endpoint(), "-", "--check"])
        .write_stdin(input.clone())
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), input.len(), "echo length");
    if let Some(i) = (0..input.len()).find(|&i| out.stdout[i] != input[i]) {
        panic!("stdout differs from stdin at byte {i}");
    }
}

#[test]
fn send_dash_is_binary_safe_over_unix() {
    let (_dir, _path, unix) = unix_endpoint("pipe.sock");
    let server = ServerProc::ricochet(&[&unix], &[]);
    // Every byte value, invalid UTF-8, NULs, CR/LF, no trailing newline.
    let mut input: Vec<u8> = (0..=255).collect();
    input.extend_from_slice(b"\xff\xfe\x00\r\n\x80 tail without newline");
    for args in [
        &["send", server.endpoint(), "-"][..],
        &["send", server.endpoint(), "-", "--check"],
    ] {
        let out = ricochet()
            .args(args)
            .write_stdin(input.clone())
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert_eq!(out.stdout, input, "{args:?}");
        assert!(out.stderr.is_empty(), "{args:?}: {out:?}");
    }
    // Empty stdin: nothing sent, nothing received, success.
    let out = ricochet()
        .args(["send", server.endpoint(), "-", "--check"])
        .write_stdin(Vec::new())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn send_dash_half_closes_at_end_of_stdin() {
    // This server answers only after EOF: without the half-close, send
    // would wait for the echo until its timeout.
    let (ep, server) = answer_after_eof(|received| received);
    let start = Instant::now();
    let out = ricochet()
        .args(["send", &ep, "-", "--timeout", "10s"])
        .write_stdin("no newline at the end")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout_of(&out), "no newline at the end");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "waited for the timeout"
    );
    assert_eq!(server.join().expect("server"), b"no newline at the end");
}
