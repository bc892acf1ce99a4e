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
//!
//! A deployed server is described by one [`ServeConfig`] (a table per
//! listener) and run by [`server::run`], which also owns threads and
//! sharding; that is all `ricochet serve` does.
//!
//! # Layout
//!
//! - [`config`]: `ServeConfig` and its per-listener tables (serde): what
//!   the command line, the environment and a file fill.
//! - [`transport`]: endpoints, listening, connecting, the connected socket,
//!   Unix socket files — every way bytes get in and out.
//! - [`server`]: `run(config, …)` and `Server`; accept loops and admission,
//!   per-core shards, the per-connection pipeline (admit → layers → handler
//!   → accounting) and graceful shutdown.
//! - `link` (private): the byte stream a handler reads, layered over the
//!   socket; counts bytes, enforces the idle timeout, replays preamble bytes.
//! - [`connection`]: the tutorial's stream API (`read(n)`, `readline()`,
//!   `write_all()`, `drain()`) over a link.
//! - [`handler`]: the `Handler` trait and the `stream`, `once` and `line`
//!   echo modes.
//! - `buffer` (private): read buffers lent per thread, capped process-wide.
//! - [`echo`]: the one echo exchange — send, read back, compare, with one
//!   error type and one stall watchdog — used by `send` and the bench.
//! - [`client`]: the `send` side (a message, or a pipe).
//! - [`failure`]: what a failure means to a script (its exit code).
//! - [`units`]: durations, sizes and rates as people type them, range-checked.
//! - [`mod@bench`] (feature `bench`): the load generator; its reports are one
//!   file per format under `bench::report`.
//!
//! The `ricochet` binary (feature `cli`) is `main.rs` plus `cli/`: clap
//! definitions, logging and progress bars, none of which the library needs.
//! A server-only embedder uses `default-features = false`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "bench")]
pub mod bench;
mod buffer;
pub mod client;
pub mod config;
pub mod connection;
pub mod echo;
pub mod failure;
pub mod handler;
mod link;
pub mod server;
pub mod transport;
pub mod units;

pub use config::{ListenerConfig, ServeConfig};
pub use connection::Connection;
pub use handler::{Handler, LineEcho, Mode, OnceEcho, StreamEcho};
pub use server::Server;
pub use transport::{BindOptions, Endpoint, Listener, Socket};
