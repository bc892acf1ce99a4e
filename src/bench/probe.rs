//! Before any load: is the target reachable, and is it an echo server?
//!
//! One connection, one or two verified exchanges of the configured message.
//! A target that refuses fails fast with the endpoint's connect error; one
//! that answers with other bytes, or not at all within `--timeout`, is
//! named as not an echo server instead of being measured (or waited on
//! forever). The probe also learns the address the load threads will use,
//! so names are resolved once.

use std::fmt;
use std::io;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::bench::{BenchError, Workload};
use crate::transport::Endpoint;
use crate::transport::Socket;

use super::target::Address;

/// Why a target does not look like an echo server.
#[derive(Debug, thiserror::Error)]
pub enum NotEcho {
    /// Nothing came back.
    #[error("no reply to a {sent}-byte message within {}", humantime::format_duration(*.after))]
    Silent {
        /// Bytes sent.
        sent: usize,
        /// How long we waited.
        after: Duration,
    },
    /// Part of the echo came back, then nothing.
    #[error("the reply stopped after {received} of {expected} bytes (waited {})", humantime::format_duration(*.after))]
    Stalled {
        /// Bytes echoed.
        received: usize,
        /// Bytes sent.
        expected: usize,
        /// How long we waited.
        after: Duration,
    },
    /// The server closed the connection before echoing everything.
    #[error("it closed the connection after replying {received} of {expected} bytes")]
    Closed {
        /// Bytes echoed.
        received: usize,
        /// Bytes sent.
        expected: usize,
    },
    /// The reply differs from the message.
    #[error("the reply differs from what was sent at byte {offset}: sent {sent}, got {got}")]
    Differs {
        /// First differing byte.
        offset: usize,
        /// What was sent from there on (shortened).
        sent: Snippet,
        /// What came back from there on (shortened).
        got: Snippet,
    },
    /// More came back than was sent.
    #[error("it replied {extra} bytes more than it was sent")]
    Extra {
        /// Surplus bytes.
        extra: usize,
    },
    /// The connection failed during the exchange.
    #[error("the connection failed during the exchange: {0}")]
    Io(io::Error),
}

/// A few bytes of a message, quoted for an error message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet(String);

impl Snippet {
    const MAX: usize = 40;

    fn of(bytes: &[u8]) -> Self {
        let shown = &bytes[..bytes.len().min(Self::MAX)];
        let mut s = format!("{:?}", String::from_utf8_lossy(shown));
        if bytes.len() > Self::MAX {
            s.push('…');
        }
        Snippet(s)
    }
}

impl fmt::Display for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Checks `endpoint` with `message` and returns the address to load.
pub(crate) async fn probe(
    endpoint: &Endpoint,
    message: &[u8],
    workload: Workload,
    timeout: Duration,
) -> Result<Address, BenchError> {
    let mut stream = endpoint.connect(Some(timeout)).await?;
    let address = match (&stream, endpoint) {
        (Socket::Tcp(s), _) => Address::Tcp(s.peer_addr().map_err(|error| BenchError::Probe {
            endpoint: endpoint.clone(),
            error,
        })?),
        (Socket::Unix(_), Endpoint::Unix(path)) => Address::Unix(path.clone()),
        (Socket::Unix(_), Endpoint::Tcp { .. }) => {
            unreachable!("a TCP endpoint gives a TCP stream")
        }
    };
    let not_echo = |reason| BenchError::NotEcho {
        endpoint: endpoint.clone(),
        reason,
    };
    match workload {
        Workload::ConnectOnly => {}
        Workload::OneShot => exchange(&mut stream, message, timeout)
            .await
            .map_err(not_echo)?,
        Workload::Echo => {
            exchange(&mut stream, message, timeout)
                .await
                .map_err(not_echo)?;
            // A second message tells a persistent echo server from one that
            // answers once and hangs up (the tutorial's server).
            match exchange(&mut stream, message, timeout).await {
                Ok(()) => {}
                Err(NotEcho::Closed { received: 0, .. }) => {
                    return Err(BenchError::OneMessageServer {
                        endpoint: endpoint.clone(),
                    })
                }
                Err(NotEcho::Io(e)) if is_reset(&e) => {
                    return Err(BenchError::OneMessageServer {
                        endpoint: endpoint.clone(),
                    })
                }
                Err(reason) => return Err(not_echo(reason)),
            }
        }
    }
    Ok(address)
}

fn is_reset(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::ConnectionReset
            | io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionAborted
    )
}

/// Sends `message` and reads its echo, writing and reading at once so a
/// large message cannot deadlock against a server that echoes as it reads.
async fn exchange(stream: &mut Socket, message: &[u8], timeout: Duration) -> Result<(), NotEcho> {
    let (mut rd, mut wr) = tokio::io::split(stream);
    let write = async { wr.write_all(message).await.map_err(NotEcho::Io) };
    let read = async {
        let mut buf = vec![0u8; message.len().clamp(4096, 256 * 1024)];
        let mut got = 0;
        while got < message.len() {
            let n = match tokio::time::timeout(timeout, rd.read(&mut buf)).await {
                Err(_) if got == 0 => {
                    return Err(NotEcho::Silent {
                        sent: message.len(),
                        after: timeout,
                    })
                }
                Err(_) => {
                    return Err(NotEcho::Stalled {
                        received: got,
                        expected: message.len(),
                        after: timeout,
                    })
                }
                Ok(Err(e)) => return Err(NotEcho::Io(e)),
                Ok(Ok(0)) => {
                    return Err(NotEcho::Closed {
                        received: got,
                        expected: message.len(),
                    })
                }
                Ok(Ok(n)) => n,
            };
            let chunk = &buf[..n];
            let want = &message[got..];
            if let Some(i) = chunk.iter().zip(want).position(|(a, b)| a != b) {
                return Err(NotEcho::Differs {
                    offset: got + i,
                    sent: Snippet::of(&want[i..]),
                    got: Snippet::of(&chunk[i..]),
                });
            }
            if n > want.len() {
                return Err(NotEcho::Extra {
                    extra: n - want.len(),
                });
            }
            got += n;
        }
        Ok(())
    };
    tokio::try_join!(write, read).map(|_| ())
}
