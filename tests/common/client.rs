//! Client side over real sockets: connect to an endpoint string with plain
//! tokio sockets (not ricochet's client code), the RFC 862 exchange, and
//! bounded waits for EOF, for a condition, or for a listener to go away.

use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};

use super::WAIT;

/// A client stream of either transport.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Connects to an endpoint as printed by "listening on": `tcp://H:P` or
/// `unix:/PATH`. Uses plain tokio sockets, not ricochet's client code.
pub async fn connect(endpoint: &str) -> std::io::Result<Box<dyn Io>> {
    let fut = async {
        if let Some(path) = endpoint.strip_prefix("unix:") {
            Ok(Box::new(UnixStream::connect(path).await?) as Box<dyn Io>)
        } else {
            let hostport = endpoint.strip_prefix("tcp://").unwrap_or(endpoint);
            Ok(Box::new(TcpStream::connect(hostport).await?) as Box<dyn Io>)
        }
    };
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("connecting to {endpoint} took longer than {WAIT:?}"))
}

/// Connects, or panics with the endpoint in the message.
pub async fn must_connect(endpoint: &str) -> Box<dyn Io> {
    connect(endpoint)
        .await
        .unwrap_or_else(|e| panic!("connect {endpoint}: {e}"))
}

/// Runs `fut` under [`WAIT`], panicking with `what` if it takes longer.
pub async fn bounded<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: no result within {WAIT:?}"))
}

/// The RFC 862 exchange: write `payload` while reading, half-close, read
/// to EOF. Returns everything received.
pub async fn exchange(endpoint: &str, payload: &[u8]) -> Vec<u8> {
    let stream = must_connect(endpoint).await;
    let (mut rd, mut wr) = tokio::io::split(stream);
    let send = async {
        wr.write_all(payload).await.expect("write payload");
        wr.shutdown().await.expect("half-close");
    };
    let recv = async {
        let mut echo = Vec::with_capacity(payload.len());
        rd.read_to_end(&mut echo).await.expect("read echo");
        echo
    };
    let ((), echo) = bounded(&format!("exchange with {endpoint}"), async {
        tokio::join!(send, recv)
    })
    .await;
    echo
}

/// Reads until EOF, failing if it takes longer than `limit`.
pub async fn read_to_eof(rd: &mut (impl AsyncRead + Unpin), limit: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(limit, rd.read_to_end(&mut out))
        .await
        .unwrap_or_else(|_| panic!("no EOF within {limit:?} (got {} bytes)", out.len()))
        .expect("read to EOF");
    out
}

/// Polls `cond` every 10 ms until it holds, for at most [`WAIT`]. For
/// conditions with no event to wait on (a listener closing, a file going).
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "{what}: still not true after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (polling, bounded) until nothing accepts connections at
/// `endpoint` any more.
pub async fn until_refused(endpoint: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        match connect(endpoint).await {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound
                ) =>
            {
                return
            }
            other => {
                drop(other);
                assert!(
                    Instant::now() < deadline,
                    "{endpoint} still accepts connections after {WAIT:?}"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
}
