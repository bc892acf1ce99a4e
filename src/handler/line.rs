//! `line` mode: echo line by line, like a `readline()` loop.
//!
//! Each complete line is written back as soon as it is read. A line longer
//! than `max_line` (64 KiB by default, asyncio's stream limit) gets an error
//! line and the connection is closed: buffering is bounded by the limit, not
//! by what a client chooses to send. A final line without `\n` is echoed at
//! end of stream, as `readline()` returns it.

use std::io;

use crate::connection::{Connection, LineError};
use crate::handler::Handler;
use crate::handler::{LINGER, LINGER_BYTES};

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

impl Handler for LineEcho {
    async fn handle(&self, conn: &mut Connection) -> io::Result<()> {
        loop {
            match conn.readline(self.max_line).await {
                Ok(line) if line.is_empty() => return conn.shutdown().await,
                Ok(line) => {
                    tracing::debug!(peer = %conn.peer(), data = %String::from_utf8_lossy(&line), "line received");
                    conn.write_all(&line).await?;
                    if line.last() != Some(&b'\n') {
                        return conn.shutdown().await;
                    }
                }
                Err(LineError::TooLong { limit }) => {
                    let msg = format!("error: line longer than {limit} bytes; closing\n");
                    conn.write_all(msg.as_bytes()).await?;
                    conn.close_gently(LINGER_BYTES, LINGER).await?;
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!("line longer than {limit} bytes"),
                    ));
                }
                Err(LineError::Io(e)) => return Err(e),
            }
        }
    }
}
