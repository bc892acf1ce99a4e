//! The `send` side: the tutorial's client, and a binary-safe pipe.
//!
//! [`send_message`] connects, writes a message, half-closes and reads the
//! echo back until it is as long as the message or the server closes.
//! [`pipe`] streams a reader (stdin) to the server and the echo to a writer
//! (stdout) at the same time, optionally checking that every echoed byte
//! matches what was sent. Memory stays bounded: at most
//! [`PIPE_IN_FLIGHT_CHUNKS`] chunks of sent-but-unechoed data are kept for
//! checking, and reading the input pauses while that window is full.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::connection::Connection;
use crate::transport::{ConnectError, Endpoint};

/// Chunk size for [`pipe`].
const CHUNK: usize = 64 * 1024;
/// Sent-but-not-yet-echoed chunks kept for `--check` (4 MiB of 64 KiB).
pub const PIPE_IN_FLIGHT_CHUNKS: usize = 64;

/// Why a send failed.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// Could not connect.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// The server stopped answering while we waited for the echo.
    #[error("timed out after {} waiting for the echo from {endpoint} (received {received} of {expected} bytes)", humantime::format_duration(*.after))]
    Timeout {
        /// Where.
        endpoint: Endpoint,
        /// How long we waited without progress.
        after: Duration,
        /// Echo bytes received.
        received: u64,
        /// Bytes sent.
        expected: u64,
    },
    /// The echo differs from what was sent.
    #[error("echo differs from what was sent at byte {offset}")]
    Mismatch {
        /// Offset of the first differing byte.
        offset: u64,
    },
    /// The server closed before echoing everything.
    #[error("short echo: the server closed after {received} of {expected} bytes")]
    ShortEcho {
        /// Echo bytes received.
        received: u64,
        /// Bytes sent.
        expected: u64,
    },
    /// The server echoed more than was sent.
    #[error("the server sent {extra} bytes more than it was sent")]
    Extra {
        /// Surplus bytes.
        extra: u64,
    },
    /// A socket or local I/O error.
    #[error("{what}: {error}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The system error.
        error: io::Error,
    },
}

fn io_err(what: &'static str) -> impl FnOnce(io::Error) -> SendError {
    move |error| SendError::Io { what, error }
}

/// Connects and wraps the stream in a [`Connection`], asyncio's
/// `open_connection`: `read(n)`, `readline()`, `write_all()`, `drain()`.
pub async fn open_connection(endpoint: &Endpoint) -> Result<Connection, ConnectError> {
    let stream = endpoint.connect(None).await?;
    let peer = stream.peer();
    Ok(Connection::new(stream, peer, None))
}

/// Sends `message` and returns the echo: reading stops once the echo is as
/// long as the message, or at end of stream (a shorter echo is returned as
/// is; compare it to decide). `timeout` bounds the connect and each wait for
/// echo bytes.
pub async fn send_message(
    endpoint: &Endpoint,
    message: &[u8],
    timeout: Option<Duration>,
) -> Result<Vec<u8>, SendError> {
    let mut stream = endpoint.connect(timeout).await?;
    stream
        .write_all(message)
        .await
        .map_err(io_err("sending the message"))?;
    // Half-close: RFC 862 servers echo everything, then close.
    stream.shutdown().await.map_err(io_err("half-closing"))?;
    let mut echo = Vec::with_capacity(message.len());
    let mut buf = vec![0; CHUNK.min(message.len().max(1024))];
    while echo.len() < message.len() {
        let n = timed(timeout, stream.read(&mut buf))
            .await
            .map_err(|e| {
                timeout_or(
                    e,
                    endpoint,
                    timeout,
                    echo.len() as u64,
                    message.len() as u64,
                )
            })?
            .map_err(io_err("reading the echo"))?;
        if n == 0 {
            break;
        }
        echo.extend_from_slice(&buf[..n]);
    }
    Ok(echo)
}

/// What [`pipe`] moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipeSummary {
    /// Bytes read from the input and sent.
    pub sent: u64,
    /// Echo bytes received and written to the output.
    pub received: u64,
}

/// Streams `input` to the server and the echo to `output`, half-closing at
/// the end of input and finishing when the echo is complete (as long as the
/// input, or the server closed). With `check`, every echoed byte is compared
/// with what was sent and a difference is an error.
pub async fn pipe<R, W>(
    endpoint: &Endpoint,
    mut input: R,
    mut output: W,
    check: bool,
    timeout: Option<Duration>,
) -> Result<PipeSummary, SendError>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    let stream = endpoint.connect(timeout).await?;
    let (mut rd, mut wr) = tokio::io::split(stream);
    let sent = Arc::new(AtomicU64::new(0));
    let input_done = Arc::new(tokio::sync::Notify::new());
    let (tx, mut rx) = mpsc::channel::<Vec<u8>>(PIPE_IN_FLIGHT_CHUNKS);

    let upload = {
        let sent = sent.clone();
        let input_done = input_done.clone();
        async move {
            let mut buf = vec![0; CHUNK];
            loop {
                let n = input
                    .read(&mut buf)
                    .await
                    .map_err(io_err("reading input"))?;
                if n == 0 {
                    break;
                }
                if check && tx.send(buf[..n].to_vec()).await.is_err() {
                    break; // the echo side already failed
                }
                wr.write_all(&buf[..n]).await.map_err(io_err("sending"))?;
                sent.fetch_add(n as u64, Ordering::Release);
            }
            wr.shutdown().await.map_err(io_err("half-closing"))?;
            drop(tx);
            input_done.notify_one();
            Ok::<_, SendError>(())
        }
    };

    let download = async {
        let mut buf = vec![0; CHUNK];
        let mut received = 0u64;
        let mut expected: Vec<u8> = Vec::new();
        let mut expected_pos = 0;
        let mut input_finished = false;
        loop {
            let outstanding = sent.load(Ordering::Acquire) > received;
            let read = async {
                // Only time out while we are owed bytes; an idle
                // interactive stdin is not the server's fault.
                if outstanding {
                    timed(timeout, rd.read(&mut buf)).await
                } else {
                    Ok(rd.read(&mut buf).await)
                }
            };
            let n = tokio::select! {
                r = read => r
                    .map_err(|e| timeout_or(e, endpoint, timeout, received, sent.load(Ordering::Acquire)))?
                    .map_err(io_err("reading the echo"))?,
                _ = input_done.notified(), if !input_finished => {
                    input_finished = true;
                    if received >= sent.load(Ordering::Acquire) {
                        break;
                    }
                    continue;
                }
            };
            if n == 0 {
                break;
            }
            let mut chunk = &buf[..n];
            if check {
                while !chunk.is_empty() {
                    if expected_pos == expected.len() {
                        match rx.recv().await {
                            Some(next) => {
                                expected = next;
                                expected_pos = 0;
                            }
                            None => {
                                return Err(SendError::Extra {
                                    extra: chunk.len() as u64,
                                })
                            }
                        }
                    }
                    let m = chunk.len().min(expected.len() - expected_pos);
                    if let Some(i) = (0..m).find(|&i| chunk[i] != expected[expected_pos + i]) {
                        return Err(SendError::Mismatch {
                            offset: received + (n - chunk.len()) as u64 + i as u64,
                        });
                    }
                    expected_pos += m;
                    chunk = &chunk[m..];
                }
            }
            output
                .write_all(&buf[..n])
                .await
                .map_err(io_err("writing output"))?;
            received += n as u64;
            if input_finished && received >= sent.load(Ordering::Acquire) {
                break;
            }
        }
        output.flush().await.map_err(io_err("writing output"))?;
        Ok(received)
    };

    let (up, down) = tokio::join!(upload, download);
    let received = down?;
    up?;
    let sent = sent.load(Ordering::Acquire);
    if check && received < sent {
        return Err(SendError::ShortEcho {
            received,
            expected: sent,
        });
    }
    Ok(PipeSummary { sent, received })
}

async fn timed<F: std::future::Future>(
    limit: Option<Duration>,
    fut: F,
) -> Result<F::Output, tokio::time::error::Elapsed> {
    match limit {
        Some(limit) => tokio::time::timeout(limit, fut).await,
        None => Ok(fut.await),
    }
}

fn timeout_or(
    _: tokio::time::error::Elapsed,
    endpoint: &Endpoint,
    after: Option<Duration>,
    received: u64,
    expected: u64,
) -> SendError {
    SendError::Timeout {
        endpoint: endpoint.clone(),
        after: after.unwrap_or_default(),
        received,
        expected,
    }
}
