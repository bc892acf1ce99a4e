//! `stream` mode: RFC 862 echo, every byte back until the client half-closes.
//!
//! This is the hot path, so it is written for the kernel: wait for
//! readability with no buffer held (an idle connection costs only its task),
//! borrow a pooled 64 KiB buffer while data flows, read through tokio's
//! `poll_read` so a short read clears readiness (one `read` syscall per
//! message, not two), and write everything back before reading more — the
//! client's unread echo is what throttles it (backpressure, bounded memory).

use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::task::Poll;

use tokio::io::{AsyncRead, AsyncWriteExt, ReadBuf};

use crate::connection::{with_idle_timeout, Connection, PooledBuf};
use crate::handler::Handler;

/// Echoes everything until end of stream, then half-closes our side.
#[derive(Debug, Clone, Default)]
pub struct StreamEcho;

impl Handler for StreamEcho {
    async fn handle(&self, conn: &mut Connection) -> io::Result<()> {
        let idle = conn.idle_timeout();
        let (mut bytes_in, mut bytes_out) = (0u64, 0u64);
        let result = async {
            loop {
                with_idle_timeout(idle, conn.stream().readable()).await?;
                let mut buf = PooledBuf::take();
                loop {
                    // One read attempt; `None` means it would block, so we
                    // give the buffer back and wait for readiness again.
                    let stream = conn.stream();
                    let n = poll_fn(|cx| {
                        let mut rb = ReadBuf::new(&mut buf);
                        match Pin::new(&mut *stream).poll_read(cx, &mut rb) {
                            Poll::Pending => Poll::Ready(Ok(None)),
                            Poll::Ready(Ok(())) => Poll::Ready(Ok(Some(rb.filled().len()))),
                            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                        }
                    })
                    .await?;
                    let Some(n) = n else { break };
                    if n == 0 {
                        drop(buf);
                        conn.shutdown().await?;
                        return Ok(());
                    }
                    bytes_in += n as u64;
                    tracing::trace!(peer = %conn.peer(), data = %String::from_utf8_lossy(&buf[..n]), "received");
                    with_idle_timeout(idle, conn.stream().write_all(&buf[..n])).await?;
                    bytes_out += n as u64;
                    if n < buf.len() {
                        break; // short read: the socket is drained
                    }
                }
            }
        }
        .await;
        conn.count(bytes_in, bytes_out);
        result
    }
}
