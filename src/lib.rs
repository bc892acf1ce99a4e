//! ricochet: an echo toolkit — the echo server you deploy, the client you
//! script, the load generator you trust.
//!
//! The API follows the asyncio tutorial it grew out of: bind an endpoint,
//! serve a handler that reads and writes a [`Connection`], and the same
//! handler works over TCP and Unix sockets.
//!
//! ```no_run
//! use std::time::Duration;
//! use ricochet::{Endpoint, Mode, OnceEcho, Server};
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let endpoint: Endpoint = "tcp://localhost:1234".parse()?;
//!     let handler = Mode::Once(OnceEcho { max_read: 1024, delay: Some(Duration::from_secs(1)) });
//!     Server::bind(&endpoint)
//!         .await?
//!         .serve(handler, async { let _ = tokio::signal::ctrl_c().await; })
//!         .await;
//!     Ok(())
//! }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "bench")]
pub mod bench;
pub mod client;
pub mod connection;
pub mod echo;
pub mod failure;
pub mod handler;
pub mod server;
pub mod transport;

pub use connection::Connection;
pub use handler::{Handler, LineEcho, Mode, OnceEcho, StreamEcho};
pub use server::Server;
pub use transport::{BindOptions, Endpoint, Listener, Socket};
