//! `--check`: exit 6 when the echo differs from what was sent, comes back
//! short, or has bytes beyond what was sent (even ones sent after the echo);
//! and exit 6 for an empty or short echo without `--check` too.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::thread::JoinHandle;
use std::time::Duration;

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

/// A one-connection TCP server that echoes everything up to the client's
/// half-close, then, `pause` later, sends `late` and closes.
fn echo_then_late_bytes(late: &'static [u8], pause: Duration) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("tcp://{}", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        conn.set_read_timeout(Some(WAIT)).expect("timeout");
        let mut received = Vec::new();
        conn.read_to_end(&mut received).expect("read to EOF");
        conn.write_all(&received).expect("echo");
        std::thread::sleep(pause);
        // The client may have gone already (that is the bug this catches).
        let _ = conn.write_all(late);
        let _ = conn.shutdown(Shutdown::Write);
    });
    (endpoint, handle)
}

#[test]
fn check_exits_6_on_bytes_sent_after_the_echo() {
    // Issue 10 item 8: the echo is right, then EXTRA arrives 300 ms later.
    let pause = Duration::from_millis(300);
    let (ep, server) = echo_then_late_bytes(b"EXTRA", pause);
    let out = ricochet()
        .args(["send", &ep, "hello", "--check"])
        .output()
        .expect("run");
    server.join().expect("server");
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert_one_error_line(&out.stderr, &["5 bytes more"]);
    assert_eq!(stdout_of(&out), "sent: hello\nreceived: helloEXTRA\n");

    let (ep, server) = echo_then_late_bytes(b"EXTRA", pause);
    let out = ricochet()
        .args(["send", &ep, "-", "--check"])
        .write_stdin("hello")
        .output()
        .expect("run");
    server.join().expect("server");
    assert_eq!(out.status.code(), Some(6), "{out:?}");
    assert_one_error_line(&out.stderr, &["5 bytes more"]);
    assert_eq!(stdout_of(&out), "hello");

    // A server that echoes and closes passes, and so does one that stays
    // open and silent after a complete echo (until --timeout).
    let (ep, server) = echo_then_late_bytes(b"", Duration::ZERO);
    let out = ricochet()
        .args(["send", &ep, "-", "--check"])
        .write_stdin("hello")
        .output()
        .expect("run");
    server.join().expect("server");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let open = TcpListener::bind("127.0.0.1:0").expect("bind");
    let open_ep = format!("tcp://{}", open.local_addr().expect("addr"));
    let (release, held) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = open.accept().expect("accept");
        let mut buf = [0; 5];
        conn.read_exact(&mut buf).expect("read");
        conn.write_all(&buf).expect("echo");
        let _ = held.recv_timeout(WAIT);
    });
    let out = ricochet()
        .args(["send", &open_ep, "hello", "--check", "--timeout", "300ms"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stderr.is_empty(), "{out:?}");
    release.send(()).expect("server thread");
    server.join().expect("server");
}

#[test]
fn an_empty_or_short_echo_exits_6_even_without_check() {
    for (reply, needles) in [
        (
            (|_| Vec::new()) as fn(Vec<u8>) -> Vec<u8>,
            &["empty echo", "any of the 5 bytes"][..],
        ),
        (|data| data[..2].to_vec(), &["short echo", "2 of 5"]),
    ] {
        let (ep, server) = answer_after_eof(reply);
        let out = ricochet()
            .args(["send", &ep, "hello"])
            .output()
            .expect("run");
        server.join().expect("server");
        assert_eq!(out.status.code(), Some(6), "{out:?}");
        assert_one_error_line(&out.stderr, needles);
        assert!(stdout_of(&out).starts_with("sent: hello\nreceived: "));

        let (ep, server) = answer_after_eof(reply);
        let out = ricochet()
            .args(["send", &ep, "-"])
            .write_stdin("hello")
            .output()
            .expect("run");
        server.join().expect("server");
        assert_eq!(out.status.code(), Some(6), "pipe: {out:?}");
        assert_one_error_line(&out.stderr, needles);
    }
}
