//! `stream` mode: RFC 862 echo, every byte back until the client half-closes.
//!
//! This is the hot path, so it is a hand-written future rather than an
//! `async fn`, for two reasons:
//! - Memory: an idle connection waits for readability holding *no* buffer;
//!   a 256 KiB buffer is borrowed from the thread's pool only while data
//!   flows. The future itself is a few dozen bytes, where the equivalent
//!   `async` block with per-await timeouts weighed over 600.
//! - Syscalls: reads go through tokio's `poll_read`, which clears readiness
//!   on a short read, so each message costs one `read` and one `write` — no
//!   extra `read` that returns `EAGAIN`.
//!
//! Everything read is written back before the next read, so a client that
//! does not read its echo is not read from either: the kernel's socket
//! buffers push back on it and our memory stays bounded (backpressure).
//! The idle timeout is one timer per connection, re-armed lazily when it
//! fires rather than on every message.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::connection::{Connection, PooledBuf, POOL_BUFFER_SIZE};
use crate::handler::Handler;
use crate::transport::Socket;

const _: () = assert!(POOL_BUFFER_SIZE <= u32::MAX as usize, "Echo counts in u32");

/// Echoes everything until end of stream, then half-closes our side.
#[derive(Debug, Clone, Default)]
pub struct StreamEcho;

impl Handler for StreamEcho {
    async fn handle(&self, conn: &mut Connection) -> io::Result<()> {
        let idle = conn
            .idle_timeout()
            .map(|limit| Box::new(IdleTimer::new(limit)));
        let mut echo = Echo {
            stream: conn.stream(),
            buf: None,
            filled: 0,
            written: 0,
            echoed: 0,
            idle,
        };
        let result = (&mut echo).await;
        // Bytes read = bytes echoed + bytes still owed (non-zero on error).
        let (echoed, owed) = (echo.echoed, u64::from(echo.filled - echo.written));
        drop(echo);
        conn.count(echoed + owed, echoed);
        result?;
        conn.shutdown().await
    }
}

/// The echo loop as a state machine: `buf[written..filled]` is owed to the
/// client; with nothing owed and no buffer, we are idle.
struct Echo<'a> {
    stream: &'a mut Socket,
    buf: Option<PooledBuf>,
    filled: u32,
    written: u32,
    echoed: u64,
    /// Boxed: most servers run without an idle timeout, and every idle
    /// connection would pay for the inline space.
    idle: Option<Box<IdleTimer>>,
}

struct IdleTimer {
    limit: Duration,
    last_progress: Instant,
    sleep: Pin<Box<Sleep>>,
}

impl IdleTimer {
    fn new(limit: Duration) -> Self {
        IdleTimer {
            limit,
            last_progress: Instant::now(),
            sleep: Box::pin(tokio::time::sleep(limit)),
        }
    }

    /// Ready with an error once `limit` has passed without progress.
    fn poll_expired(&mut self, cx: &mut Context<'_>) -> Poll<io::Error> {
        while self.sleep.as_mut().poll(cx).is_ready() {
            let deadline = self.last_progress + self.limit;
            if deadline <= Instant::now() {
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("idle for {}", humantime::format_duration(self.limit)),
                ));
            }
            self.sleep.as_mut().reset(deadline);
        }
        Poll::Pending
    }
}

impl Echo<'_> {
    fn progress(&mut self) {
        if let Some(idle) = &mut self.idle {
            idle.last_progress = Instant::now();
        }
    }

    fn pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match &mut self.idle {
            Some(idle) => idle.poll_expired(cx).map(Err),
            None => Poll::Pending,
        }
    }
}

impl Future for Echo<'_> {
    type Output = io::Result<()>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        loop {
            if this.written < this.filled {
                let buf = this.buf.as_deref().expect("bytes owed imply a buffer");
                let owed = &buf[this.written as usize..this.filled as usize];
                match Pin::new(&mut *this.stream).poll_write(cx, owed) {
                    Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                    Poll::Ready(Ok(n)) => {
                        this.written += n as u32; // n <= POOL_BUFFER_SIZE
                        this.echoed += n as u64;
                        this.progress();
                        continue;
                    }
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return this.pending(cx),
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
                match this.stream.poll_read_ready(cx) {
                    Poll::Ready(Ok(())) => {}
                    Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                    Poll::Pending => return this.pending(cx),
                }
            }
            let buf = this.buf.get_or_insert_with(PooledBuf::take);
            let mut rb = ReadBuf::new(buf);
            match Pin::new(&mut *this.stream).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => {
                    let n = rb.filled().len();
                    if n == 0 {
                        this.buf = None;
                        return Poll::Ready(Ok(()));
                    }
                    tracing::debug!(data = %String::from_utf8_lossy(&buf[..n]), "received");
                    this.filled = n as u32; // n <= buf.len() <= POOL_BUFFER_SIZE
                    this.progress();
                }
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => {
                    this.buf = None;
                    return this.pending(cx);
                }
            }
        }
    }
}
