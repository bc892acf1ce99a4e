//! `once` mode: the tutorial's `handle_echo`, verbatim in spirit.
//!
//! Read up to `max_read` bytes once, optionally sleep (the tutorial sleeps
//! one second to show concurrency), write them back, drain, close.

use std::io;
use std::time::Duration;

use crate::connection::Connection;
use crate::handler::{Escaped, Handler, LINGER, LINGER_BYTES};

/// One read, an optional delay, one write, close.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct OnceEcho {
    /// Largest single read, like the tutorial's `read(1024)`.
    pub max_read: usize,
    /// Pause between reading and answering.
    #[serde(with = "humantime_serde")]
    pub delay: Option<Duration>,
}

impl Default for OnceEcho {
    fn default() -> Self {
        OnceEcho {
            max_read: 1024,
            delay: None,
        }
    }
}

impl Handler for OnceEcho {
    async fn handle(&self, conn: &mut Connection) -> io::Result<()> {
        let max = self.max_read;
        let (mut data, n) = conn.link().read_when_ready(|| vec![0; max]).await?;
        data.truncate(n);
        // Boxed: the answer (with its delay timer) stays out of the future
        // every waiting connection holds.
        Box::pin(self.answer(conn, data)).await
    }
}

impl OnceEcho {
    async fn answer(&self, conn: &mut Connection, data: Vec<u8>) -> io::Result<()> {
        tracing::debug!(peer = %conn.peer(), data = %Escaped(&data), "message received");
        if let Some(delay) = self.delay {
            tokio::time::sleep(delay).await;
        }
        conn.write_all(&data).await?;
        conn.drain().await?;
        conn.close_gently(LINGER_BYTES, LINGER).await
    }
}
