//! One accepted or connected byte stream, whatever transport carries it.
//!
//! [`Socket`] is the type handlers see. It implements tokio's `AsyncRead`
//! and `AsyncWrite`, plus readiness ([`Socket::readable`]) so a handler can
//! wait for data *without holding a buffer*: that is how an idle connection
//! costs almost no memory. New stream transports (TLS) are new variants here;
//! handlers do not change.

use std::fmt;
use std::io::{self, IoSlice};
use std::net::{Shutdown, SocketAddr};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpStream, UnixStream};

/// A connected stream socket.
#[derive(Debug)]
pub enum Socket {
    /// A TCP connection.
    Tcp(TcpStream),
    /// A Unix stream socket connection.
    Unix(UnixStream),
}

/// Who is on the other end of a connection, for logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// A TCP peer address.
    Tcp(SocketAddr),
    /// A Unix peer; usually unnamed, so we report the socket we serve.
    Unix(Option<std::sync::Arc<std::path::Path>>),
}

impl fmt::Display for Peer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Peer::Tcp(addr) => write!(f, "{addr}"),
            Peer::Unix(Some(path)) => write!(f, "unix:{}", path.display()),
            Peer::Unix(None) => write!(f, "unix:(unnamed)"),
        }
    }
}

impl Socket {
    /// Waits until the stream is readable (data, EOF or error) without
    /// reading. Tokio clears the readiness again when a read comes back
    /// short, so `readable().await` followed by one `read` costs one syscall.
    pub async fn readable(&self) -> io::Result<()> {
        match self {
            Socket::Tcp(s) => s.readable().await,
            Socket::Unix(s) => s.readable().await,
        }
    }

    /// Poll form of [`Socket::readable`].
    pub fn poll_read_ready(&self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self {
            Socket::Tcp(s) => s.poll_read_ready(cx),
            Socket::Unix(s) => s.poll_read_ready(cx),
        }
    }

    /// The remote side.
    pub fn peer(&self) -> Peer {
        match self {
            Socket::Tcp(s) => s.peer_addr().map(Peer::Tcp).unwrap_or(Peer::Unix(None)),
            Socket::Unix(s) => Peer::Unix(
                s.peer_addr()
                    .ok()
                    .and_then(|a| a.as_pathname().map(Into::into)),
            ),
        }
    }

    /// Closes our side abruptly: with unread data pending, TCP sends a reset.
    /// Used when a client misbehaves and politeness would cost buffering.
    pub fn shutdown_both(&self) -> io::Result<()> {
        let r = match self {
            Socket::Tcp(s) => socket2::SockRef::from(s).shutdown(Shutdown::Both),
            Socket::Unix(s) => socket2::SockRef::from(s).shutdown(Shutdown::Both),
        };
        match r {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }
}

macro_rules! delegate {
    ($self:ident, $s:ident => $e:expr) => {
        match $self.get_mut() {
            Socket::Tcp($s) => $e,
            Socket::Unix($s) => $e,
        }
    };
}

impl AsyncRead for Socket {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_read(cx, buf))
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write(cx, buf))
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        delegate!(self, s => Pin::new(s).poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_flush(cx))
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        delegate!(self, s => Pin::new(s).poll_shutdown(cx))
    }
}
