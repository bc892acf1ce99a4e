//! What to do with one connection.
//!
//! A [`Handler`] gets a [`Connection`] and runs until the exchange is over,
//! exactly like the tutorial's `handle_echo(reader, writer)` coroutine. It
//! never learns which transport carries the bytes. The built-in echo
//! behaviours are small types ([`StreamEcho`], [`OnceEcho`], [`LineEcho`]),
//! gathered in [`Mode`] for the command line.

pub mod line;
mod once;
mod stream;

use std::future::Future;
use std::io;
use std::time::Duration;

pub use line::LineEcho;
pub use once::OnceEcho;
pub use stream::StreamEcho;

use crate::connection::Connection;

/// How long, and how much, a handler that closes first keeps reading and
/// discarding so its last reply is not lost to a TCP reset.
pub(crate) const LINGER: Duration = Duration::from_secs(1);
pub(crate) const LINGER_BYTES: u64 = 1024 * 1024;

/// Serves one connection. Implement it with `async fn`:
///
/// ```
/// use ricochet::{Connection, Handler};
///
/// struct Shout;
///
/// impl Handler for Shout {
///     async fn handle(&self, conn: &mut Connection) -> std::io::Result<()> {
///         let data = conn.read(1024).await?;
///         conn.write_all(&data.to_ascii_uppercase()).await?;
///         conn.drain().await
///     }
/// }
/// ```
pub trait Handler: Send + Sync + 'static {
    /// Handles the connection until done; the server closes it afterwards.
    fn handle(&self, conn: &mut Connection) -> impl Future<Output = io::Result<()>> + Send;
}

/// The echo behaviours `ricochet serve --mode` offers. In a config file:
/// `mode = { kind = "line", max-line = 4096 }`.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Mode {
    /// Echo every byte until the client half-closes (RFC 862).
    Stream(StreamEcho),
    /// The tutorial's handler: one read, optional delay, one write, close.
    Once(OnceEcho),
    /// Echo complete lines, with a bound on line length.
    Line(LineEcho),
}

impl Default for Mode {
    fn default() -> Self {
        Mode::Stream(StreamEcho)
    }
}

impl Handler for Mode {
    async fn handle(&self, conn: &mut Connection) -> io::Result<()> {
        // A connection task is as large as the largest future it may run,
        // and every idle connection pays for it: each mode's future holds
        // only its wait for data inline (what runs after a read is boxed
        // inside the mode), so all three stay about as small as `stream`'s.
        match self {
            Mode::Stream(h) => h.handle(conn).await,
            Mode::Once(h) => h.handle(conn).await,
            Mode::Line(h) => h.handle(conn).await,
        }
    }
}

/// Shows received bytes in a log line: printable ASCII as is, everything
/// else escaped (`\n`, `\x00`, `\xff`), so a payload can never forge or break
/// a line of the log.
pub(crate) struct Escaped<'a>(pub(crate) &'a [u8]);

impl std::fmt::Display for Escaped<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        use std::fmt::Write;
        for &b in self.0 {
            match b {
                b'\\' => f.write_str("\\\\")?,
                b' '..=b'~' => f.write_char(b as char)?,
                _ => write!(f, "{}", std::ascii::escape_default(b))?,
            }
        }
        Ok(())
    }
}
