//! `--check`: exit 6 when the echo differs from what was sent or comes back
//! short.

use crate::common::*;
use crate::{answer_after_eof, stdout_of};

#[test]
fn check_exits_6_when_the_echo_differs() {
    fn corrupt(mut data: Vec<u8>) -> Vec<u8> {
        if let Some(b) = data.get_mut(3) {
            *b ^= 0x20;
        }
        data
    }
    // Message form.
    let (ep, server) = answer_after_eof(corrupt);
    let out = ricochet()
        .args(["send", &ep, "hello world", "--check"])
        .output()
        .expect("run");
    server.join().expect("server");
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert_one_error_line(&out.stderr, &["differs", "byte 3"]);
    assert!(stdout_of(&out).contains("received: helLo world"), "{out:?}");

    // Pipe form.
    let (ep, server) = answer_after_eof(corrupt);
    let out = ricochet()
        .args(["send", &ep, "-", "--check"])
        .write_stdin("hello world")
        .output()
        .expect("run");
    server.join().expect("server");
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert_one_error_line(&out.stderr, &["differs", "byte 3"]);

    // Without --check a different echo is printed, not judged.
    let (ep, server) = answer_after_eof(corrupt);
    let out = ricochet()
        .args(["send", &ep, "hello world"])
        .output()
        .expect("run");
    server.join().expect("server");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        stdout_of(&out),
        "sent: hello world\nreceived: helLo world\n"
    );
}

#[test]
fn check_exits_6_on_a_short_echo() {
    let server = ServerProc::ricochet(
        &["tcp://127.0.0.1:0"],
        &["--mode", "once", "--max-read", "4"],
    );
    let out = ricochet()
        .args(["send", server.endpoint(), "hello world", "--check"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert_one_error_line(&out.stderr, &["short echo", "4 of 11"]);
    assert_eq!(stdout_of(&out), "sent: hello world\nreceived: hell\n");

    let out = ricochet()
        .args(["send", server.endpoint(), "-", "--check"])
        .write_stdin("hello world")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert_one_error_line(&out.stderr, &["short echo", "4 of 11"]);

    let (ep, server) = answer_after_eof(|mut data| {
        data.extend_from_slice(b"!!");
        data
    });
    let out = ricochet()
        .args(["send", &ep, "-", "--check"])
        .write_stdin("hello")
        .output()
        .expect("run");
    server.join().expect("server");
    assert_eq!(
        out.status.code(),
        Some(6),
        "an echo longer than sent: {out:?}"
    );
    assert_one_error_line(&out.stderr, &["2 bytes more"]);
}
