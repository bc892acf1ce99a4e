//! `stream` mode: RFC 862 echo, every byte back until the client half-closes.
//!
//! This is the hot path, so it is a hand-written future rather than an
//! `async fn`, for two reasons:
//! - Memory: an idle connection waits for readability holding *no* buffer;
//!   a 256 KiB buffer is borrowed from the thread's pool only while data
//!   flows. The future itself is a few dozen bytes, where the equivalent
//!   `async` block weighed over 600.
//! - Syscalls: reads go through tokio's `poll_read`, which clears readiness
//!   on a short read, so each message costs one `read` and one `write` — no
//!   extra `read` that returns `EAGAIN`.
//!
//! Everything read is written back before the next read, so a client that
//! does not read its echo is not read from either: the kernel's socket
//! buffers push back on it and our memory stays bounded (backpressure).
//! Byte counts and the idle timeout come from the [`Link`] like in every
//! other mode; this file only moves bytes.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use crate::buffer::{PooledBuf, POOL_BUFFER_SIZE};
use crate::connection::Connection;
use crate::handler::{Escaped, Handler};
use crate::link::Link;
use crate::transport::Peer;

const _: () = assert!(POOL_BUFFER_SIZE <= u32::MAX as usize, "Echo counts in u32");

/// Echoes everything until end of stream, then half-closes our side.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct StreamEcho;

impl Handler for StreamEcho {
    async fn handle(&self, conn: &mut Connection) -> io::Result<()> {
        let (link, peer) = conn.link_and_peer();
        Echo {
            link,
            peer,
            buf: None,
            filled: 0,
            written: 0,
        }
        .await?;
        conn.shutdown().await
    }
}

/// The echo loop as a state machine: `buf[written..filled]` is owed to the
/// client; with nothing owed and no buffer, we are idle.
struct Echo<'a> {
    link: &'a mut Link,
    peer: &'a Peer,
    buf: Option<PooledBuf>,
    filled: u32,
    written: u32,
}

impl Future for Echo<'_> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.written < this.filled {
                let buf = this.buf.as_deref().expect("bytes owed imply a buffer");
                let owed = &buf[this.written as usize..this.filled as usize];
                match Pin::new(&mut *this.link).poll_write(cx, owed) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => {
                        this.written += n as u32; // n <= POOL_BUFFER_SIZE
                        continue;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            // Everything owed is written. A full read means more may be
            // waiting: keep the buffer and read again. Otherwise the socket
            // was drained: give the buffer back before waiting.
            if this
                .buf
                .as_ref()
                .is_some_and(|b| (this.filled as usize) < b.len())
            {
                this.buf = None;
            }
            this.filled = 0;
            this.written = 0;
            if this.buf.is_none() {
                match this.link.poll_read_ready(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return Poll::Pending,
                }
            }
            let buf = this.buf.get_or_insert_with(PooledBuf::take);
            let mut rb = ReadBuf::new(buf);
            match Pin::new(&mut *this.link).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    if n == 0 {
                        this.buf = None;
                        return Poll::Ready(Ok(()));
                    }
                    tracing::debug!(peer = %this.peer, data = %Escaped(&buf[..n]), "received");
                    this.filled = n as u32; // n <= buf.len() <= POOL_BUFFER_SIZE
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    this.buf = None;
                    return Poll::Pending;
                }
            }
        }
    }
}
