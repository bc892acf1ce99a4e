//! Failures: one documented exit code and one clear stderr line for refused,
//! unknown host, silence and bad endpoints.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use crate::common::*;

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
    let missing_file = format!("no such socket file: {}", path.display());
    for (ep, needles) in [
        (tcp.as_str(), &["refused", tcp.as_str()][..]),
        (stale.as_str(), &["refused", stale.as_str()]),
        (
            missing.as_str(),
            &[
                missing_file.as_str(),
                "is the server running? is the path right?",
            ],
        ),
    ] {
        for args in [&["send", ep, "hello"][..], &["send", ep, "-"]] {
            let out = ricochet()
                .args(args)
                .write_stdin("x")
                .output()
                .expect("run");
            assert_eq!(out.status.code(), Some(3), "{args:?}: {out:?}");
            assert_one_error_line(&out.stderr, needles);
            assert!(
                !String::from_utf8_lossy(&out.stderr).contains("refused") || ep != missing,
                "a missing socket file is not 'refused': {out:?}"
            );
            assert!(out.stdout.is_empty(), "{args:?}: {out:?}");
        }
    }
}

#[test]
fn an_over_long_unix_path_is_a_usage_error_not_refused() {
    let long = format!("unix:/tmp/{}.sock", "x".repeat(120));
    for args in [&["send", long.as_str(), "hello"][..], &["send", &long, "-"]] {
        let out = ricochet()
            .args(args)
            .write_stdin("x")
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(2), "{out:?}");
        assert_one_error_line(&out.stderr, &["too long", "at most 107"]);
        assert!(
            !String::from_utf8_lossy(&out.stderr).contains("refused"),
            "{out:?}"
        );
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
