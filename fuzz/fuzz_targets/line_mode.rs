//! `LineEcho` against the reference model of line mode (shared with the
//! property tests), over a real Unix socket pair, with the input written in
//! fuzz-chosen chunks and a fuzz-chosen `max_line` of 1..=64.
#![no_main]

#[path = "../../tests/properties/line_model.rs"]
mod line_model;

use std::sync::OnceLock;
use std::time::Duration;

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ricochet::transport::Peer;
use ricochet::{Connection, Handler, LineEcho, Socket};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixStream;
use tokio::runtime::Runtime;

/// One exchange takes microseconds; this only turns a hang into a crash.
const LIMIT: Duration = Duration::from_secs(10);

#[derive(Debug, Arbitrary)]
struct Input {
    /// `max_line` is 1 + this % 64, so the limit is hit often.
    max_line: u8,
    /// Chunk sizes, used in turn (each 1 + size).
    chunks: Vec<u8>,
    data: Vec<u8>,
}

fn runtime() -> &'static Runtime {
    static RUNTIME: OnceLock<Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        // libFuzzer's main does not ignore SIGPIPE as Rust's does, and the
        // client may write after the server closed on an over-long line.
        // SAFETY: setting a signal disposition to SIG_IGN is async-signal-safe
        // and done before any other thread uses the socket.
        unsafe { libc::signal(libc::SIGPIPE, libc::SIG_IGN) };
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime")
    })
}

async fn exchange(data: &[u8], chunks: &[usize], max_line: usize) -> Vec<u8> {
    let (server_side, client) = UnixStream::pair().expect("socket pair");
    let server = tokio::spawn(async move {
        let mut conn = Connection::new(Socket::Unix(server_side), Peer::Unix(None), None);
        // An over-long line is an `Err`; the echo is what is checked.
        let _ = LineEcho { max_line }.handle(&mut conn).await;
    });
    let (mut rd, mut wr) = client.into_split();
    let send = async {
        let mut rest = data;
        for &size in chunks.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at(size.min(rest.len()));
            // The server may have closed already (over-long line).
            if wr.write_all(chunk).await.is_err() {
                return;
            }
            rest = tail;
            // Let the handler read this chunk before the next one arrives.
            tokio::task::yield_now().await;
        }
        let _ = wr.shutdown().await;
    };
    let recv = async {
        let mut echo = Vec::new();
        // A reset after the error line is fine; what arrived is compared.
        let _ = rd.read_to_end(&mut echo).await;
        echo
    };
    let ((), echo) = tokio::join!(send, recv);
    server.await.expect("handler panicked");
    echo
}

fuzz_target!(|input: Input| {
    let max_line = 1 + usize::from(input.max_line) % 64;
    let mut chunks: Vec<usize> = input.chunks.iter().map(|&c| 1 + usize::from(c)).collect();
    if chunks.is_empty() {
        chunks.push(usize::MAX);
    }
    let echo = runtime().block_on(async {
        tokio::time::timeout(LIMIT, exchange(&input.data, &chunks, max_line))
            .await
            .unwrap_or_else(|_| panic!("no EOF within {LIMIT:?}: line mode hangs"))
    });
    let expected = line_model::expected_echo(&input.data, max_line);
    assert!(
        echo == expected,
        "max_line {max_line}, chunks {chunks:?}\n input: {:?}\n  echo: {:?}\nexpect: {:?}",
        String::from_utf8_lossy(&input.data),
        String::from_utf8_lossy(&echo),
        String::from_utf8_lossy(&expected),
    );
});
