//! `line` mode: echo line by line, like a `readline()` loop.
//!
//! Every complete line of one read goes back in **one write**, straight from
//! the read buffer — a client sending a megabyte of bare newlines costs a
//! handful of syscalls, not one per line, and no line is copied. Only the
//! unfinished line at the end of a read is kept, and it grows only as its
//! bytes arrive. A line longer than `max_line` (64 KiB by default, asyncio's
//! stream limit) gets an error line and the connection is closed, so what
//! is buffered is bounded by the limit, not by what a client chooses to
//! send. A final line without `\n` is echoed at end of stream, as
//! `readline()` returns it.
//!
//! Memory: like `stream` mode, an idle connection waits for data holding no
//! read buffer (one is borrowed from the thread's pool per read), and holds
//! nothing else unless a line is half-received.

use std::io;

use crate::buffer::PooledBuf;
use crate::connection::Connection;
use crate::handler::{Escaped, Handler, LINGER, LINGER_BYTES};

/// asyncio's default stream limit.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

/// Echoes lines up to `max_line` bytes.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct LineEcho {
    /// Longest accepted line, newline excluded.
    pub max_line: usize,
}

impl Default for LineEcho {
    fn default() -> Self {
        LineEcho {
            max_line: DEFAULT_MAX_LINE,
        }
    }
}

/// Where the lines of one read end, given `carried` bytes of an unfinished
/// line before it.
#[derive(Debug, PartialEq, Eq)]
struct Scan {
    /// `data[..complete]` ends with the last acceptable complete line.
    complete: usize,
    /// A line (finished or not) longer than the limit starts at or before
    /// `data[complete..]`.
    too_long: bool,
}

fn scan(data: &[u8], carried: usize, max_line: usize) -> Scan {
    let mut start = 0;
    let mut carried = carried;
    for nl in memchr::memchr_iter(b'\n', data) {
        if carried + (nl - start) > max_line {
            return Scan {
                complete: start,
                too_long: true,
            };
        }
        start = nl + 1;
        carried = 0;
    }
    Scan {
        complete: start,
        too_long: carried + (data.len() - start) > max_line,
    }
}

impl Handler for LineEcho {
    async fn handle(&self, conn: &mut Connection) -> io::Result<()> {
        // The unfinished line, at most `max_line` bytes.
        let mut partial = Vec::new();
        loop {
            let (buf, n) = conn.link().read_when_ready(PooledBuf::take).await?;
            // Boxed: what follows a read runs briefly, and out of line it
            // stays out of the future every waiting connection holds.
            if Box::pin(self.answer(conn, buf, n, &mut partial)).await? {
                return Ok(());
            }
        }
    }
}

impl LineEcho {
    /// Echoes the complete lines of one read (`buf[..n]`, after
    /// `partial`); keeps the unfinished rest in `partial`. True when the
    /// connection is done.
    async fn answer(
        &self,
        conn: &mut Connection,
        buf: PooledBuf,
        n: usize,
        partial: &mut Vec<u8>,
    ) -> io::Result<bool> {
        if n == 0 {
            if !partial.is_empty() {
                conn.write_all(partial).await?;
            }
            conn.shutdown().await?;
            return Ok(true);
        }
        let data = &buf[..n];
        let Scan { complete, too_long } = scan(data, partial.len(), self.max_line);
        if complete > 0 {
            tracing::debug!(peer = %conn.peer(), data = %Escaped(&data[..complete]), "lines received");
            if !partial.is_empty() {
                conn.write_all(partial).await?;
                *partial = Vec::new();
            }
            conn.write_all(&data[..complete]).await?;
        }
        if too_long {
            let limit = self.max_line;
            drop(buf);
            let msg = format!("error: line longer than {limit} bytes; closing\n");
            conn.write_all(msg.as_bytes()).await?;
            conn.close_gently(LINGER_BYTES, LINGER).await?;
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("line longer than {limit} bytes"),
            ));
        }
        partial.extend_from_slice(&data[complete..]);
        Ok(false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_finds_the_last_complete_line_and_the_first_too_long_one() {
        let scanned = |data: &[u8], carried| {
            let Scan { complete, too_long } = scan(data, carried, 4);
            (complete, too_long)
        };
        assert_eq!(scanned(b"ab\ncd\nef", 0), (6, false));
        assert_eq!(scan(b"\n\n\n", 0, 0).complete, 3);
        assert_eq!(scanned(b"abcd\n", 0), (5, false));
        assert_eq!(scanned(b"abcd", 0), (0, false));
        // Carried bytes count towards the first line only.
        assert_eq!(scanned(b"cd\nabcd\n", 2), (8, false));
        assert_eq!(scanned(b"cde\nab", 2), (0, true));
        assert_eq!(scanned(b"ab\nabcde\nab\n", 0), (3, true));
        assert_eq!(scanned(b"ab\nabcde", 0), (3, true));
    }

    /// All complete lines of one read go back in one write: a megabyte of
    /// bare newlines costs a write per read, not one per line (it cost
    /// 1,048,576 `sendto`s and 2.3 s of CPU).
    #[tokio::test]
    async fn many_lines_of_one_read_cost_one_write() {
        use crate::transport::{Peer, Socket};
        use tokio::io::{AsyncReadExt, AsyncWriteExt};

        let (server, client) = tokio::net::UnixStream::pair().unwrap();
        let mut conn = Connection::new(Socket::Unix(server), Peer::Unix(None), None);
        let (mut rd, mut wr) = client.into_split();
        let input = vec![b'\n'; 1 << 20];
        let writer = tokio::spawn(async move {
            wr.write_all(&input).await.unwrap();
            wr.shutdown().await.unwrap();
        });
        let reader = tokio::spawn(async move {
            let mut echo = Vec::new();
            rd.read_to_end(&mut echo).await.unwrap();
            echo
        });
        LineEcho::default().handle(&mut conn).await.unwrap();
        writer.await.unwrap();
        let echo = reader.await.unwrap();
        assert_eq!(echo.len(), 1 << 20);
        assert!(echo.iter().all(|&b| b == b'\n'));
        let (reads, writes) = conn.link().calls;
        assert!(writes <= reads, "{writes} writes for {reads} reads");
        assert!(writes < 1000, "{writes} writes for 1 MiB of newlines");
    }
}
