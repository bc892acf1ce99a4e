//! Connecting: from an [`Endpoint`] (or an address already resolved) to a
//! connected [`Socket`]. `send`, the bench probe and the bench load threads
//! all connect through here, so socket options (`TCP_NODELAY`) and error
//! classification are decided once. Future client transports (TLS, WebSocket)
//! wrap what these functions return.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::{TcpSocket, TcpStream, UnixStream};

use super::unix::MAX_PATH as MAX_UNIX_PATH;
use super::{Endpoint, Socket};
use crate::failure::Failure;

/// Why a connection attempt failed, sorted the way a user acts on it.
#[derive(Debug, thiserror::Error)]
pub enum ConnectError {
    /// The host name did not resolve to any address.
    #[error("could not resolve '{host}': {error}")]
    Resolve {
        /// The host name.
        host: String,
        /// The resolver's error.
        error: io::Error,
    },
    /// Nobody listens there (TCP RST, or a Unix socket file nobody serves).
    #[error("connection to {endpoint} refused: {error} (is an echo server running there?)")]
    Refused {
        /// Where we tried.
        endpoint: Endpoint,
        /// The system error.
        error: io::Error,
    },
    /// A Unix endpoint whose socket file does not exist.
    #[error("no such socket file: {} (is the server running? is the path right?)", .path.display())]
    NoSocketFile {
        /// The path tried.
        path: PathBuf,
    },
    /// A Unix socket path longer than the system accepts.
    #[error("cannot connect to {endpoint}: the path is too long for a Unix socket ({len} bytes, at most {max}; use a shorter path)")]
    PathTooLong {
        /// Where we tried.
        endpoint: Endpoint,
        /// The path's length in bytes.
        len: usize,
        /// The longest path accepted, in bytes.
        max: usize,
    },
    /// The attempt did not finish in time.
    #[error("connecting to {endpoint} timed out after {}", humantime::format_duration(*.after))]
    Timeout {
        /// Where we tried.
        endpoint: Endpoint,
        /// How long we waited.
        after: Duration,
    },
    /// Any other system error.
    #[error("could not connect to {endpoint}: {error}")]
    Io {
        /// Where we tried.
        endpoint: Endpoint,
        /// The system error.
        error: io::Error,
    },
}

impl ConnectError {
    /// What this failure means to a script: refused, unknown host, timeout
    /// (any other system error, and a missing socket file, count as
    /// refused: nothing is reachable there); a path too long to be a Unix
    /// socket is a usage error.
    pub fn failure(&self) -> Failure {
        match self {
            ConnectError::Resolve { .. } => Failure::UnknownHost,
            ConnectError::PathTooLong { .. } => Failure::Usage,
            ConnectError::Refused { .. }
            | ConnectError::NoSocketFile { .. }
            | ConnectError::Io { .. } => Failure::Refused,
            ConnectError::Timeout { .. } => Failure::Timeout,
        }
    }
}

impl Endpoint {
    /// Connects, trying each resolved address in turn, with `TCP_NODELAY`
    /// set (echo traffic is latency-bound). `timeout` bounds the whole
    /// attempt, resolution included.
    pub async fn connect(&self, timeout: Option<Duration>) -> Result<Socket, ConnectError> {
        let attempt = self.connect_untimed();
        match timeout {
            None => attempt.await,
            Some(after) => tokio::time::timeout(after, attempt)
                .await
                .unwrap_or_else(|_| {
                    Err(ConnectError::Timeout {
                        endpoint: self.clone(),
                        after,
                    })
                }),
        }
    }

    async fn connect_untimed(&self) -> Result<Socket, ConnectError> {
        match self {
            Endpoint::Unix(path) => {
                let len = path.as_os_str().len();
                if len > MAX_UNIX_PATH {
                    return Err(ConnectError::PathTooLong {
                        endpoint: self.clone(),
                        len,
                        max: MAX_UNIX_PATH,
                    });
                }
                connect_unix(path).await.map_err(|e| match e.kind() {
                    io::ErrorKind::NotFound => ConnectError::NoSocketFile { path: path.clone() },
                    _ => self.classify(e),
                })
            }
            Endpoint::Tcp { .. } => {
                let mut last = None;
                for addr in self.resolve().await? {
                    match connect_tcp(addr, None).await {
                        Ok(s) => return Ok(s),
                        Err(e) => last = Some(e),
                    }
                }
                Err(self.classify(last.expect("resolve returns at least one address")))
            }
        }
    }

    fn classify(&self, error: io::Error) -> ConnectError {
        let endpoint = self.clone();
        match error.kind() {
            io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound => {
                ConnectError::Refused { endpoint, error }
            }
            io::ErrorKind::TimedOut => ConnectError::Timeout {
                endpoint,
                after: Duration::ZERO,
            },
            _ => ConnectError::Io { endpoint, error },
        }
    }
}

/// Connects to one TCP address with `TCP_NODELAY` set (echo traffic is
/// latency-bound), optionally from a chosen local address (the bench spreads
/// connections over several loopback sources).
pub async fn connect_tcp(addr: SocketAddr, source: Option<IpAddr>) -> io::Result<Socket> {
    let stream = match source {
        None => TcpStream::connect(addr).await?,
        Some(source) => {
            let socket = if addr.is_ipv4() {
                TcpSocket::new_v4()?
            } else {
                TcpSocket::new_v6()?
            };
            // Lets bind() pick a port whose last connection is still in
            // TIME_WAIT; connect() then checks the full four-tuple.
            socket.set_reuseaddr(true)?;
            socket.bind(SocketAddr::new(source, 0))?;
            socket.connect(addr).await?
        }
    };
    stream.set_nodelay(true)?;
    Ok(Socket::Tcp(stream))
}

/// Connects to a Unix stream socket.
pub async fn connect_unix(path: &Path) -> io::Result<Socket> {
    UnixStream::connect(path).await.map(Socket::Unix)
}
