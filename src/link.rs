//! The byte stream a handler reads and writes: a transport [`Socket`] plus
//! what the connection pipeline layers over it.
//!
//! [`Link`] is where the things every connection needs, whatever its mode,
//! live exactly once:
//! - **byte counting** (each way), which the pipeline's accounting step
//!   reads for logs and, later, metrics;
//! - **the idle timeout**: any wait on the peer fails with `TimedOut` once
//!   nothing has moved for the limit (one lazily re-armed timer, no timer
//!   per read);
//! - **replayed bytes**: bytes a preamble step read past its own data (a
//!   PROXY protocol header, say) are handed back with [`Link::unread`] and
//!   served before the socket, so no layer can lose them.
//!
//! Readiness ([`Link::poll_read_ready`]) lets the stream-mode echo wait for
//! data without holding a buffer, which is why an idle connection costs
//! under 1 KiB. A link with replayed bytes is always ready, so the echo
//! takes a buffer and reads them. A future TLS or WebSocket layer slots in
//! beside the socket here: it reports "ready" whenever its own buffers may
//! hold data, and the same echo code then simply reads — the fast path
//! stays the plain TCP/Unix case, not a way around the layers.

use std::future::Future;
use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

use crate::transport::Socket;

/// A connection's byte stream: socket, replayed bytes, counters, idle timer.
pub struct Link {
    socket: Socket,
    /// Boxed, like the timer: most connections never have either, and
    /// every idle connection would pay for the inline space.
    replay: Option<Box<Replay>>,
    idle: Option<Pin<Box<IdleTimer>>>,
    bytes_in: u64,
    bytes_out: u64,
    /// Reads and writes that moved bytes, for tests that count system calls.
    #[cfg(test)]
    pub(crate) calls: (u64, u64),
}

struct Replay {
    bytes: Vec<u8>,
    pos: usize,
}

impl Link {
    /// A link over `socket`; with `idle_timeout`, waits on the peer fail once
    /// nothing has moved for that long.
    pub fn new(socket: Socket, idle_timeout: Option<Duration>) -> Self {
        Link {
            socket,
            replay: None,
            idle: idle_timeout.map(|limit| Box::pin(IdleTimer::new(limit))),
            bytes_in: 0,
            bytes_out: 0,
            #[cfg(test)]
            calls: (0, 0),
        }
    }

    /// Hands back bytes that were read from the socket but belong to what
    /// follows (e.g. data that arrived in the same segment as a PROXY
    /// header). They are read again before anything else; they were
    /// counted when first read, so they are not counted twice.
    #[allow(dead_code)] // for the preamble step (PROXY protocol, next); tested below
    pub fn unread(&mut self, bytes: Vec<u8>) {
        if bytes.is_empty() {
            return;
        }
        self.bytes_in = self.bytes_in.saturating_sub(bytes.len() as u64);
        match &mut self.replay {
            Some(r) => {
                let mut joined = bytes;
                joined.extend_from_slice(&r.bytes[r.pos..]);
                **r = Replay {
                    bytes: joined,
                    pos: 0,
                };
            }
            None => self.replay = Some(Box::new(Replay { bytes, pos: 0 })),
        }
    }

    fn replay_len(&self) -> usize {
        self.replay.as_ref().map_or(0, |r| r.bytes.len() - r.pos)
    }

    /// Bytes received so far.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// Bytes sent so far.
    pub fn bytes_out(&self) -> u64 {
        self.bytes_out
    }

    /// The idle timeout in force, if any.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle.as_ref().map(|t| t.limit)
    }

    /// Ready when a read may make progress (data, end of stream, an error,
    /// or replayed bytes), without reading; pending otherwise, and then
    /// fails with `TimedOut` once the link has been idle too long. Tokio
    /// clears readiness when a read comes back short, so waiting here and
    /// then reading once costs one syscall.
    pub fn poll_read_ready(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        if self.replay.is_some() {
            return Poll::Ready(Ok(()));
        }
        match self.socket.poll_read_ready(cx) {
            Poll::Pending => self.poll_idle(cx),
            ready => ready,
        }
    }

    /// Waits for data, then reads it into a buffer made only then: the
    /// buffer is never held while the peer is silent. If the readiness was
    /// stale (the read would block), the buffer is dropped and the wait
    /// starts over. Returns the buffer and how much was read (0: end of
    /// stream).
    pub(crate) async fn read_when_ready<B>(
        &mut self,
        mut make: impl FnMut() -> B,
    ) -> io::Result<(B, usize)>
    where
        B: std::ops::DerefMut<Target = [u8]>,
    {
        loop {
            std::future::poll_fn(|cx| self.poll_read_ready(cx)).await?;
            let mut buf = make();
            let read = std::future::poll_fn(|cx| {
                let mut rb = ReadBuf::new(&mut buf);
                match Pin::new(&mut *self).poll_read(cx, &mut rb) {
                    Poll::Ready(r) => Poll::Ready(Some(r.map(|()| rb.filled().len()))),
                    Poll::Pending => Poll::Ready(None),
                }
            })
            .await;
            if let Some(n) = read {
                return Ok((buf, n?));
            }
        }
    }

    fn progress(&mut self) {
        if let Some(idle) = &mut self.idle {
            *idle.as_mut().project().last_progress = Instant::now();
        }
    }

    /// Pending while the idle limit has not passed; an error once it has.
    fn poll_idle<T>(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<T>> {
        match &mut self.idle {
            Some(idle) => idle.as_mut().poll_expired(cx).map(Err),
            None => Poll::Pending,
        }
    }
}

impl std::fmt::Debug for Link {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Link")
            .field("socket", &self.socket)
            .field("replay", &self.replay_len())
            .field("idle_timeout", &self.idle_timeout())
            .field("bytes_in", &self.bytes_in)
            .field("bytes_out", &self.bytes_out)
            .finish()
    }
}

impl AsyncRead for Link {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if let Some(replay) = &mut this.replay {
            let n = buf.remaining().min(replay.bytes.len() - replay.pos);
            buf.put_slice(&replay.bytes[replay.pos..replay.pos + n]);
            replay.pos += n;
            if replay.pos == replay.bytes.len() {
                this.replay = None;
            }
            this.bytes_in += n as u64;
            this.progress();
            return Poll::Ready(Ok(()));
        }
        let before = buf.filled().len();
        match Pin::new(&mut this.socket).poll_read(cx, buf) {
            Poll::Ready(Ok(())) => {
                let n = buf.filled().len() - before;
                if n > 0 {
                    this.bytes_in += n as u64;
                    this.progress();
                    #[cfg(test)]
                    {
                        this.calls.0 += 1;
                    }
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => this.poll_idle(cx),
        }
    }
}

impl Link {
    fn wrote(
        &mut self,
        r: Poll<io::Result<usize>>,
        cx: &mut Context<'_>,
    ) -> Poll<io::Result<usize>> {
        match r {
            Poll::Ready(Ok(n)) => {
                self.bytes_out += n as u64;
                if n > 0 {
                    self.progress();
                    #[cfg(test)]
                    {
                        self.calls.1 += 1;
                    }
                }
                Poll::Ready(Ok(n))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => self.poll_idle(cx),
        }
    }
}

impl AsyncWrite for Link {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.socket).poll_write(cx, buf);
        this.wrote(r, cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let r = Pin::new(&mut this.socket).poll_write_vectored(cx, bufs);
        this.wrote(r, cx)
    }

    fn is_write_vectored(&self) -> bool {
        self.socket.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().socket).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().socket).poll_shutdown(cx)
    }
}

pin_project_lite::pin_project! {
    /// One timer per connection, re-armed lazily when it fires rather than
    /// on every message: progress only records the time. One allocation
    /// with the sleep inside.
    struct IdleTimer {
        limit: Duration,
        last_progress: Instant,
        #[pin]
        sleep: Sleep,
    }
}

impl IdleTimer {
    fn new(limit: Duration) -> Self {
        IdleTimer {
            limit,
            last_progress: Instant::now(),
            sleep: tokio::time::sleep(limit),
        }
    }

    /// Ready with an error once `limit` has passed without progress.
    fn poll_expired(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Error> {
        let mut this = self.project();
        while this.sleep.as_mut().poll(cx).is_ready() {
            let deadline = *this.last_progress + *this.limit;
            if deadline <= Instant::now() {
                return Poll::Ready(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("idle for {}", humantime::format_duration(*this.limit)),
                ));
            }
            this.sleep.as_mut().reset(deadline);
        }
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    async fn pair() -> (Link, tokio::net::UnixStream) {
        let (a, b) = tokio::net::UnixStream::pair().unwrap();
        (Link::new(Socket::Unix(a), None), b)
    }

    #[tokio::test]
    async fn replayed_bytes_come_first_and_are_counted_once() {
        let (mut link, mut peer) = pair().await;
        peer.write_all(b"PROXY ...\r\nhello").await.unwrap();
        let mut head = [0u8; 16];
        let n = link.read(&mut head).await.unwrap();
        assert_eq!(&head[..n], b"PROXY ...\r\nhello");
        // A preamble keeps its 11 bytes and hands back the rest.
        link.unread(head[11..n].to_vec());
        assert_eq!(link.bytes_in(), 11);
        peer.write_all(b" world").await.unwrap();
        peer.shutdown().await.unwrap();
        let mut rest = Vec::new();
        link.read_to_end(&mut rest).await.unwrap();
        assert_eq!(rest, b"hello world");
        assert_eq!(link.bytes_in(), 22);
    }

    #[tokio::test]
    async fn replayed_bytes_make_the_link_ready() {
        let (mut link, _peer) = pair().await;
        link.unread(b"x".to_vec());
        let ready = std::future::poll_fn(|cx| link.poll_read_ready(cx));
        tokio::time::timeout(Duration::from_secs(5), ready)
            .await
            .expect("ready at once")
            .unwrap();
    }

    #[tokio::test(start_paused = true)]
    async fn idle_link_times_out_and_progress_defers_it() {
        let (a, mut peer) = tokio::net::UnixStream::pair().unwrap();
        let mut link = Link::new(Socket::Unix(a), Some(Duration::from_secs(10)));
        tokio::time::advance(Duration::from_secs(6)).await;
        peer.write_all(b"x").await.unwrap();
        let mut one = [0u8; 1];
        link.read_exact(&mut one).await.unwrap();
        // 6 s after that progress the link is still fine...
        tokio::time::advance(Duration::from_secs(6)).await;
        link.write_all(b"y").await.unwrap();
        // ...and a wait with no progress at all fails after the limit.
        let err = link.read(&mut one).await.unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::TimedOut);
        assert_eq!((link.bytes_in(), link.bytes_out()), (1, 1));
    }
}
