//! One client connection as a handler sees it: the tutorial's stream API.
//!
//! [`Connection`] offers `read(n)`, `readline()`, `write_all()` and `drain()`
//! over a `Link` (the socket plus the pipeline's layers, which also count
//! bytes and enforce the idle timeout). It holds no buffer of its own until
//! `readline` needs one, so idle connections stay small.

use std::io;
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::buffer::{PooledBuf, POOL_BUFFER_SIZE};
use crate::link::Link;
use crate::transport::{Peer, Socket};

/// Why a `readline` did not return a line.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    /// The line grew past the limit without a newline.
    #[error("line longer than {limit} bytes")]
    TooLong {
        /// The limit in force.
        limit: usize,
    },
    /// The connection failed or timed out.
    #[error(transparent)]
    Io(#[from] io::Error),
}

/// A client connection, handed to a [`crate::Handler`].
#[derive(Debug)]
pub struct Connection {
    link: Link,
    peer: Peer,
    opened: Instant,
    /// Bytes read ahead by `readline` and not yet returned.
    pending: Vec<u8>,
}

impl Connection {
    /// Wraps a connected socket. `idle_timeout` bounds every wait for the
    /// peer.
    pub fn new(socket: Socket, peer: Peer, idle_timeout: Option<Duration>) -> Self {
        Connection::over(Link::new(socket, idle_timeout), peer)
    }

    /// Wraps a link the pipeline has already layered.
    pub(crate) fn over(link: Link, peer: Peer) -> Self {
        Connection {
            link,
            peer,
            opened: Instant::now(),
            pending: Vec::new(),
        }
    }

    /// The remote side.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// Bytes received so far.
    pub fn bytes_in(&self) -> u64 {
        self.link.bytes_in()
    }

    /// Bytes sent so far.
    pub fn bytes_out(&self) -> u64 {
        self.link.bytes_out()
    }

    /// Time since the connection was accepted.
    pub fn age(&self) -> Duration {
        self.opened.elapsed()
    }

    /// The byte stream under this API, for handlers in this crate that move
    /// bytes themselves (the stream-mode echo). Counting and the idle
    /// timeout apply to it all the same.
    pub(crate) fn link(&mut self) -> &mut Link {
        &mut self.link
    }

    /// The link and the peer at once (the peer for log lines).
    pub(crate) fn link_and_peer(&mut self) -> (&mut Link, &Peer) {
        (&mut self.link, &self.peer)
    }

    /// Waits until a read can make progress (data, end of stream or an
    /// error), holding no buffer meanwhile: a handler that waits here
    /// before taking a buffer keeps idle connections small.
    pub async fn readable(&mut self) -> io::Result<()> {
        if !self.pending.is_empty() {
            return Ok(());
        }
        std::future::poll_fn(|cx| self.link.poll_read_ready(cx)).await
    }

    /// Reads at most `max` bytes, like asyncio's `read(n)`: whatever has
    /// arrived, at least one byte, or an empty vector at end of stream. The
    /// buffer is allocated once data is there, not while waiting.
    pub async fn read(&mut self, max: usize) -> io::Result<Vec<u8>> {
        if !self.pending.is_empty() {
            let n = max.min(self.pending.len());
            return Ok(self.pending.drain(..n).collect());
        }
        let (mut buf, n) = self.link.read_when_ready(|| vec![0; max]).await?;
        buf.truncate(n);
        Ok(buf)
    }

    /// Reads one line including its `\n`, like asyncio's `readline()`. At end
    /// of stream it returns what is left (possibly empty, meaning EOF). A line
    /// longer than `max_line` is an error, and at most `max_line` bytes are
    /// ever buffered.
    pub async fn readline(&mut self, max_line: usize) -> Result<Vec<u8>, LineError> {
        let mut scanned = 0;
        loop {
            if let Some(i) = memchr(&self.pending[scanned..]) {
                let end = scanned + i + 1;
                let rest = self.pending.split_off(end);
                return Ok(std::mem::replace(&mut self.pending, rest));
            }
            scanned = self.pending.len();
            if scanned > max_line {
                return Err(LineError::TooLong { limit: max_line });
            }
            // Read no further than one byte past the limit.
            let room = (max_line + 1 - scanned).min(POOL_BUFFER_SIZE);
            let start = self.pending.len();
            self.pending.resize(start + room, 0);
            let read = self.link.read(&mut self.pending[start..]).await;
            let n = *read.as_ref().unwrap_or(&0);
            self.pending.truncate(start + n);
            if read? == 0 {
                return Ok(std::mem::take(&mut self.pending));
            }
        }
    }

    /// Writes all of `data` (queued in the kernel; see [`Connection::drain`]).
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        self.link.write_all(data).await
    }

    /// Waits until written data has left our buffers, like asyncio's
    /// `drain()`. Socket writes go straight to the kernel, so this is cheap.
    pub async fn drain(&mut self) -> io::Result<()> {
        self.link.flush().await
    }

    /// Half-closes: tells the peer we will send nothing more, while still
    /// reading what it sends.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        match self.link.shutdown().await {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }

    /// Half-closes, then reads and discards what the peer still sends, for
    /// at most `max_bytes` or `max_wait`, so that closing does not turn into
    /// a TCP reset that could destroy the reply we just sent.
    pub async fn close_gently(&mut self, max_bytes: u64, max_wait: Duration) -> io::Result<()> {
        self.shutdown().await?;
        let mut buf = PooledBuf::take();
        let mut left = max_bytes;
        let drain = async {
            while left > 0 {
                match self.link.read(&mut buf).await? {
                    0 => break,
                    n => left = left.saturating_sub(n as u64),
                }
            }
            io::Result::Ok(())
        };
        match tokio::time::timeout(max_wait, drain).await {
            // Running out of time (ours, or the idle limit) ends the linger.
            Ok(Err(e)) if e.kind() == io::ErrorKind::TimedOut => Ok(()),
            Ok(r) => r,
            Err(_) => Ok(()),
        }
    }
}

fn memchr(haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == b'\n')
}
