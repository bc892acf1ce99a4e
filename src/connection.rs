//! One client connection as a handler sees it: the tutorial's stream API.
//!
//! [`Connection`] offers `read(n)`, `readline()`, `write_all()` and `drain()`
//! over any [`Socket`], applies the server's idle timeout to every wait, and
//! counts bytes for the close log line. It holds no buffer of its own until
//! `readline` needs one, so idle connections stay small. The module also owns
//! the per-thread buffer pool that lets busy handlers borrow a large read
//! buffer only while data is actually flowing.

use std::cell::RefCell;
use std::future::Future;
use std::io;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::transport::{Peer, Socket};

/// Size of pooled read buffers. Only connections with data in flight hold
/// one, so size costs no idle memory; 256 KiB takes a 100 KiB message in
/// one read (measured against 64 KiB with `ricochet bench A B`: +20%
/// messages/s at 100 KiB, +8% at 10 KiB, p50 13% lower at 100 KiB).
pub const POOL_BUFFER_SIZE: usize = 256 * 1024;
/// Size of the buffers lent once [`LARGE_BUFFERS_MAX`] large ones exist.
pub const SMALL_BUFFER_SIZE: usize = 16 * 1024;
/// Most large buffers alive at once, process-wide (64 MiB). A client that
/// stops reading its echo pins its connection's buffer until it does, so
/// without a cap 10,000 such clients would pin 2.5 GiB; with it they pin at
/// most this many large buffers plus 16 KiB each.
pub const LARGE_BUFFERS_MAX: usize = 256;
/// Large buffers kept per worker thread; beyond this they are freed.
const POOL_KEEP: usize = 8;

/// Large buffers alive: lent out or kept in a thread's pool.
static LARGE_ALIVE: AtomicUsize = AtomicUsize::new(0);

/// One thread's spare large buffers; they stop counting as alive when the
/// thread exits.
struct Pool(Vec<Box<[u8]>>);

impl Drop for Pool {
    fn drop(&mut self) {
        LARGE_ALIVE.fetch_sub(self.0.len(), Ordering::Relaxed);
    }
}

thread_local! {
    static POOL: RefCell<Pool> = const { RefCell::new(Pool(Vec::new())) };
}

/// A read buffer borrowed from the current thread's pool; it goes back to
/// whichever thread drops it. Large ([`POOL_BUFFER_SIZE`]) while fewer
/// than [`LARGE_BUFFERS_MAX`] exist, small ([`SMALL_BUFFER_SIZE`]) past
/// that: use its length, not a constant.
pub struct PooledBuf(Option<Box<[u8]>>);

impl PooledBuf {
    /// Takes a spare large buffer, or allocates a large one if the cap
    /// allows, or else a small one. Steady traffic is served from the pool
    /// without touching the shared count.
    pub fn take() -> Self {
        if let Some(buf) = POOL.with(|p| p.borrow_mut().0.pop()) {
            return PooledBuf(Some(buf));
        }
        let large = LARGE_ALIVE
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| {
                (n < LARGE_BUFFERS_MAX).then_some(n + 1)
            })
            .is_ok();
        let size = if large {
            POOL_BUFFER_SIZE
        } else {
            SMALL_BUFFER_SIZE
        };
        PooledBuf(Some(vec![0; size].into_boxed_slice()))
    }
}

impl std::ops::Deref for PooledBuf {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        self.0.as_deref().expect("present until drop")
    }
}

impl std::ops::DerefMut for PooledBuf {
    fn deref_mut(&mut self) -> &mut [u8] {
        self.0.as_deref_mut().expect("present until drop")
    }
}

impl Drop for PooledBuf {
    fn drop(&mut self) {
        let mut buf = self.0.take();
        if !matches!(&buf, Some(b) if b.len() == POOL_BUFFER_SIZE) {
            return; // small buffers are simply freed
        }
        let _ = POOL.try_with(|p| {
            let mut p = p.borrow_mut();
            if p.0.len() < POOL_KEEP {
                p.0.extend(buf.take());
            }
        });
        if buf.is_some() {
            LARGE_ALIVE.fetch_sub(1, Ordering::Relaxed);
        }
    }
}

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
pub struct Connection {
    stream: Socket,
    peer: Peer,
    idle_timeout: Option<Duration>,
    opened: Instant,
    bytes_in: u64,
    bytes_out: u64,
    /// Bytes read ahead by `readline` and not yet returned.
    pending: Vec<u8>,
}

impl Connection {
    /// Wraps a stream. `idle_timeout` bounds every wait for the peer.
    pub fn new(stream: Socket, peer: Peer, idle_timeout: Option<Duration>) -> Self {
        Connection {
            stream,
            peer,
            idle_timeout,
            opened: Instant::now(),
            bytes_in: 0,
            bytes_out: 0,
            pending: Vec::new(),
        }
    }

    /// The remote side.
    pub fn peer(&self) -> &Peer {
        &self.peer
    }

    /// The server's idle timeout, if any.
    pub fn idle_timeout(&self) -> Option<Duration> {
        self.idle_timeout
    }

    /// Bytes received so far.
    pub fn bytes_in(&self) -> u64 {
        self.bytes_in
    }

    /// Bytes sent so far.
    pub fn bytes_out(&self) -> u64 {
        self.bytes_out
    }

    /// Time since the connection was accepted.
    pub fn age(&self) -> Duration {
        self.opened.elapsed()
    }

    /// The underlying stream, for handlers that move bytes themselves.
    /// Bytes moved this way are not counted; call [`Connection::count`].
    pub fn stream(&mut self) -> &mut Socket {
        &mut self.stream
    }

    /// Adds to the byte counters (for handlers using [`Connection::stream`]).
    pub fn count(&mut self, bytes_in: u64, bytes_out: u64) {
        self.bytes_in += bytes_in;
        self.bytes_out += bytes_out;
    }

    /// Runs `fut` under the idle timeout.
    pub async fn idle<T>(&self, fut: impl Future<Output = io::Result<T>>) -> io::Result<T> {
        with_idle_timeout(self.idle_timeout, fut).await
    }

    /// Reads at most `max` bytes, like asyncio's `read(n)`: whatever has
    /// arrived, at least one byte, or an empty vector at end of stream.
    pub async fn read(&mut self, max: usize) -> io::Result<Vec<u8>> {
        if !self.pending.is_empty() {
            let n = max.min(self.pending.len());
            return Ok(self.pending.drain(..n).collect());
        }
        let mut buf = vec![0; max];
        let n = with_idle_timeout(self.idle_timeout, self.stream.read(&mut buf)).await?;
        buf.truncate(n);
        self.bytes_in += n as u64;
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
            let read = with_idle_timeout(
                self.idle_timeout,
                self.stream.read(&mut self.pending[start..]),
            )
            .await;
            let n = *read.as_ref().unwrap_or(&0);
            self.pending.truncate(start + n);
            let n = read?;
            self.bytes_in += n as u64;
            if n == 0 {
                return Ok(std::mem::take(&mut self.pending));
            }
        }
    }

    /// Writes all of `data` (queued in the kernel; see [`Connection::drain`]).
    pub async fn write_all(&mut self, data: &[u8]) -> io::Result<()> {
        with_idle_timeout(self.idle_timeout, self.stream.write_all(data)).await?;
        self.bytes_out += data.len() as u64;
        Ok(())
    }

    /// Waits until written data has left our buffers, like asyncio's
    /// `drain()`. Socket writes go straight to the kernel, so this is cheap.
    pub async fn drain(&mut self) -> io::Result<()> {
        with_idle_timeout(self.idle_timeout, self.stream.flush()).await
    }

    /// Half-closes: tells the peer we will send nothing more, while still
    /// reading what it sends.
    pub async fn shutdown(&mut self) -> io::Result<()> {
        match self.stream.shutdown().await {
            Err(e) if e.kind() == io::ErrorKind::NotConnected => Ok(()),
            r => r,
        }
    }
}

impl Connection {
    /// Half-closes, then reads and discards what the peer still sends, for
    /// at most `max_bytes` or `max_wait`, so that closing does not turn into
    /// a TCP reset that could destroy the reply we just sent.
    pub async fn close_gently(&mut self, max_bytes: u64, max_wait: Duration) -> io::Result<()> {
        self.shutdown().await?;
        let mut buf = PooledBuf::take();
        let mut left = max_bytes;
        let drain = async {
            while left > 0 {
                match self.stream.read(&mut buf).await? {
                    0 => break,
                    n => left = left.saturating_sub(n as u64),
                }
            }
            io::Result::Ok(())
        };
        match tokio::time::timeout(max_wait, drain).await {
            Ok(r) => r,
            Err(_) => Ok(()),
        }
    }
}

/// Runs `fut`, failing with `TimedOut` if it takes longer than `limit`.
pub async fn with_idle_timeout<T>(
    limit: Option<Duration>,
    fut: impl Future<Output = io::Result<T>>,
) -> io::Result<T> {
    match limit {
        None => fut.await,
        Some(limit) => tokio::time::timeout(limit, fut).await.unwrap_or_else(|_| {
            Err(io::Error::new(
                io::ErrorKind::TimedOut,
                format!("idle for {}", humantime::format_duration(limit)),
            ))
        }),
    }
}

fn memchr(haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_buffers_are_capped_and_come_back() {
        // Other tests in this process may hold a few buffers too, so count
        // what this test gets rather than assume the starting point.
        let limit = LARGE_BUFFERS_MAX + 2 * POOL_KEEP + 64;
        let mut held = Vec::new();
        while held.len() < limit {
            let buf = PooledBuf::take();
            let small = buf.len() == SMALL_BUFFER_SIZE;
            held.push(buf);
            if small {
                break;
            }
        }
        let large = held.iter().filter(|b| b.len() == POOL_BUFFER_SIZE).count();
        assert_eq!(held.last().map(|b| b.len()), Some(SMALL_BUFFER_SIZE));
        assert!(large <= LARGE_BUFFERS_MAX, "{large} large buffers lent");
        // Past the cap every take is small; freeing large ones lets them
        // be lent again.
        assert_eq!(PooledBuf::take().len(), SMALL_BUFFER_SIZE);
        drop(held);
        assert_eq!(PooledBuf::take().len(), POOL_BUFFER_SIZE);
    }
}
