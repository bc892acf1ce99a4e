//! `ricochet send` against real servers: the tutorial's message exchange,
//! the binary-safe stdin pipe, `--check`, and one documented exit code and
//! one clear stderr line for every way it can fail.

mod common;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::*;

/// A one-connection TCP server in a thread: reads until the client
/// half-closes, then answers with `reply(received)` and closes. Its answer
/// comes only after EOF, so a client that never half-closes times out.
fn answer_after_eof(reply: fn(Vec<u8>) -> Vec<u8>) -> (String, JoinHandle<Vec<u8>>) {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("tcp://{}", listener.local_addr().expect("addr"));
    let handle = std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().expect("accept");
        conn.set_read_timeout(Some(WAIT)).expect("timeout");
        let mut received = Vec::new();
        conn.read_to_end(&mut received).expect("read to EOF");
        conn.write_all(&reply(received.clone())).expect("reply");
        conn.shutdown(Shutdown::Write).expect("close");
        received
    });
    (endpoint, handle)
}

fn stdout_of(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ---------------------------------------------------------------------------
// The tutorial's exchange

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

// ---------------------------------------------------------------------------
// The stdin pipe

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

// ---------------------------------------------------------------------------
// --check

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

// ---------------------------------------------------------------------------
// Failures: exit codes and messages

#[test]
fn refused_exits_3() {
    let free_port = {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind");
        l.local_addr().expect("addr").port()
    };
    let (_dir, path, missing) = unix_endpoint("nobody.sock");
    let stale_path = path.with_file_name("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale_path).expect("bind"));
    let stale = format!("unix:{}", stale_path.display());
    let tcp = format!("tcp://127.0.0.1:{free_port}");
    for ep in [tcp.as_str(), missing.as_str(), stale.as_str()] {
        for args in [&["send", ep, "hello"][..], &["send", ep, "-"]] {
            let out = ricochet()
                .args(args)
                .write_stdin("x")
                .output()
                .expect("run");
            assert_eq!(out.status.code(), Some(3), "{args:?}: {out:?}");
            assert_one_error_line(&out.stderr, &["refused", ep]);
            assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        }
    }
}

#[test]
fn unknown_host_exits_4() {
    for args in [
        &["send", "tcp://nosuch.invalid:7", "hello"][..],
        &["send", "nosuch.invalid:7", "-"],
    ] {
        let out = ricochet()
            .args(args)
            .write_stdin("x")
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(4), "{args:?}: {out:?}");
        assert_one_error_line(&out.stderr, &["could not resolve", "nosuch.invalid"]);
    }
}

#[test]
fn silent_server_exits_5_after_the_timeout() {
    // Listeners that are never accepted from: the kernel completes the
    // handshake and takes the bytes, and nothing ever answers.
    let tcp = TcpListener::bind("127.0.0.1:0").expect("bind");
    let tcp_ep = format!("tcp://{}", tcp.local_addr().expect("addr"));
    let (_dir, path, unix_ep) = unix_endpoint("silent.sock");
    let _unix = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    for ep in [tcp_ep.as_str(), unix_ep.as_str()] {
        for args in [
            &["send", ep, "hello", "--timeout", "300ms"][..],
            &["send", ep, "-", "--timeout", "300ms"],
        ] {
            let start = Instant::now();
            let out = ricochet()
                .args(args)
                .write_stdin("hello")
                .output()
                .expect("run");
            let took = start.elapsed();
            assert_eq!(out.status.code(), Some(5), "{args:?}: {out:?}");
            assert_one_error_line(&out.stderr, &["timed out", "300ms"]);
            assert!(
                took >= Duration::from_millis(300),
                "{args:?}: gave up after {took:?}"
            );
            assert!(took < Duration::from_secs(5), "{args:?}: took {took:?}");
        }
    }
    // A server that accepts, then stalls mid-echo: also a timeout.
    let stall = TcpListener::bind("127.0.0.1:0").expect("bind");
    let stall_ep = format!("tcp://{}", stall.local_addr().expect("addr"));
    let (release, held) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || {
        let (mut conn, _) = stall.accept().expect("accept");
        let mut buf = [0; 5];
        conn.read_exact(&mut buf).expect("read");
        conn.write_all(&buf[..2]).expect("partial echo");
        // Hold the connection open, silent, until the client has given up.
        let _ = held.recv_timeout(WAIT);
        drop(conn);
    });
    let out = ricochet()
        .args(["send", &stall_ep, "hello", "--timeout", "300ms"])
        .output()
        .expect("run");
    release.send(()).expect("server thread");
    server.join().expect("server");
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert_one_error_line(&out.stderr, &["timed out", "2 of 5"]);
}

#[test]
fn bad_endpoint_fails_with_one_clear_line() {
    for (ep, needles) in [
        (
            "http://127.0.0.1:1",
            &["unsupported scheme 'http'", "tcp://HOST:PORT"][..],
        ),
        ("localhost:99999", &["invalid port '99999'"]),
        ("unix:", &["missing path"]),
    ] {
        let out = ricochet()
            .args(["send", ep, "hello"])
            .output()
            .expect("run");
        assert!(!out.status.success(), "send {ep:?}: {out:?}");
        assert_one_error_line(&out.stderr, needles);
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn bad_endpoint_is_a_usage_error_exit_2() {
    let out = ricochet()
        .args(["send", "http://127.0.0.1:1", "hello"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
}

// ---------------------------------------------------------------------------
// The library's client API

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_send_message_and_pipe() {
    use ricochet::{
        client::{pipe, send_message},
        echo::EchoError,
    };
    use ricochet::{Endpoint, Listener, Mode, Server, StreamEcho};

    let std_listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = Endpoint::from(std_listener.local_addr().expect("addr"));
    let server = Server::from_listeners(vec![Listener::adopt_tcp(std_listener).expect("adopt")]);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(Mode::Stream(StreamEcho), async {
        let _ = stopped.await;
    }));
    let timeout = Some(Duration::from_secs(5));

    let echo = send_message(&endpoint, b"Hello World!", timeout)
        .await
        .expect("send");
    assert_eq!(echo, b"Hello World!");

    let input = pattern(3 << 20);
    let mut output = Vec::new();
    let summary = pipe(&endpoint, &input[..], &mut output, true, timeout)
        .await
        .expect("pipe");
    assert_eq!(
        (summary.sent, summary.received),
        (input.len() as u64, input.len() as u64)
    );
    assert!(output == input, "piped echo differs");

    stop.send(()).expect("server running");
    bounded("serve() to return", task)
        .await
        .expect("serve task");

    // Nobody there any more.
    let err = send_message(&endpoint, b"x", timeout).await.unwrap_err();
    assert!(
        matches!(
            err,
            EchoError::Connect(ricochet::transport::ConnectError::Refused { .. })
        ),
        "{err:?}"
    );
}

#[test]
fn concurrent_sends_all_succeed() {
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &["--mode", "once"]);
    let ep = server.endpoint().to_owned();
    let senders: Vec<_> = (0..20)
        .map(|i| {
            let ep = ep.clone();
            std::thread::spawn(move || {
                let msg = format!("message {i}");
                let out = ricochet()
                    .args(["send", &ep, &msg, "--check"])
                    .output()
                    .expect("run");
                (i, out)
            })
        })
        .collect();
    for s in senders {
        let (i, out) = s.join().expect("sender");
        assert_eq!(out.status.code(), Some(0), "sender {i}: {out:?}");
        assert_eq!(
            stdout_of(&out),
            format!("sent: message {i}\nreceived: message {i}\n")
        );
    }
    drop(TcpStream::connect(ep.trim_start_matches("tcp://")).expect("server still up"));
}
