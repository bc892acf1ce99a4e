//! `ricochet send` against real servers: the tutorial's message exchange,
//! the binary-safe stdin pipe, `--check`, which argument is which, the
//! environment, and one documented exit code and one clear stderr line for
//! every way it can fail.

#[path = "../common/mod.rs"]
mod common;

mod arguments;
mod check;
mod environment;
mod exchange;
mod failures;
mod library;
mod pipe;

use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener};
use std::thread::JoinHandle;

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
