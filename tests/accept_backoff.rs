//! Running out of file descriptors must neither kill nor spin the server.
//!
//! `ricochet serve` runs under `ulimit -n 32`, so `accept()` fails with
//! EMFILE once a couple of dozen clients are connected. The server must keep
//! its connected clients working, back off instead of retrying in a tight
//! loop (counted through its warning lines), and serve the clients waiting in
//! the backlog as soon as descriptors free up.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::ServeCmd;

/// Upper bound on clients; far above what `ulimit -n 32` lets the server hold.
const MAX_CLIENTS: usize = 64;
/// Clients left waiting in the backlog once the limit is hit.
const WAITING: usize = 5;

fn echo_ok(s: &mut TcpStream, timeout: Duration) -> bool {
    s.set_read_timeout(Some(timeout)).unwrap();
    if s.write_all(b"ping\n").is_err() {
        return false;
    }
    let mut buf = [0u8; 5];
    s.read_exact(&mut buf).is_ok() && &buf == b"ping\n"
}

#[test]
fn emfile_backs_off_and_recovers() {
    let mut server = ServeCmd::new(&["tcp://127.0.0.1:0"])
        .flags(&["--grace", "0", "--max-conns", "10000"])
        .fd_limit(32)
        .spawn();
    let addr = server
        .endpoint()
        .strip_prefix("tcp://")
        .unwrap_or_else(|| panic!("unexpected endpoint {:?}", server.endpoints))
        .to_owned();

    // More clients than descriptors: the first ones are served, the rest
    // wait in the backlog while accept() reports EMFILE.
    let mut served = Vec::new();
    let mut waiting = Vec::new();
    for _ in 0..MAX_CLIENTS {
        if waiting.len() == WAITING {
            break;
        }
        let mut s = TcpStream::connect(&addr).expect("connect lands in the backlog");
        if !waiting.is_empty() {
            // Served clients hold their descriptors: once one client waits,
            // all later ones do too. Send the request and move on.
            s.write_all(b"ping\n").unwrap();
            waiting.push(s);
        } else if echo_ok(&mut s, Duration::from_millis(300)) {
            served.push(s);
        } else {
            waiting.push(s);
        }
    }
    assert!(!served.is_empty(), "no client was served at all");
    assert!(
        !waiting.is_empty(),
        "the fd limit was never reached; the test proves nothing"
    );

    // Starved for a while: the served clients keep working.
    for s in served.iter_mut() {
        assert!(
            echo_ok(s, Duration::from_secs(5)),
            "a connected client stopped being served"
        );
    }

    // Free the descriptors (more than there are waiting clients): every
    // waiting client gets served (each request
    // was already sent; only its echo is outstanding).
    drop(served);
    let deadline = Instant::now() + Duration::from_secs(20);
    for s in waiting.iter_mut() {
        let left = deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        s.set_read_timeout(Some(left)).unwrap();
        let mut buf = [0u8; 5];
        s.read_exact(&mut buf)
            .expect("waiting client served after descriptors freed");
        assert_eq!(&buf, b"ping\n");
    }
    assert!(
        server.proc.try_status().is_none(),
        "server died under EMFILE"
    );
    drop(waiting);

    server.proc.kill();
    let stderr = server.stderr();
    let failures = stderr.matches("accept failed").count();
    assert!(failures >= 1, "EMFILE was never reported:\n{stderr}");
    // A spinning loop would log thousands of failures over these seconds;
    // exponential backoff (1 ms doubling to 1 s) logs a few dozen at most.
    assert!(
        failures < 200,
        "accept retried {failures} times: not backing off"
    );
}
