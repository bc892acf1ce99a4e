//! The transport layer: every way bytes get to and from ricochet.
//!
//! One place for addresses ([`Endpoint`]), listening ([`Listener`], with
//! Unix socket files in `unix`), connecting ([`Endpoint::connect`]) and the
//! connected socket itself ([`Socket`]). Today that is TCP and Unix stream
//! sockets; UDP (a datagram listener beside [`Listener`]), TLS and
//! WebSocket (layers over a [`Socket`], see the crate's `link` module) join here as
//! new variants, not new code paths elsewhere. A listening socket handed
//! over by a supervisor (systemd socket activation) enters through
//! [`Listener::adopt_tcp`] / [`Listener::adopt_unix`].

pub(crate) mod connect;
mod endpoint;
mod listen;
mod socket;
mod unix;

pub use connect::ConnectError;
pub use endpoint::{Endpoint, ParseError, DEFAULT_PORT};
pub(crate) use listen::DetachedListener;
pub use listen::{BindError, BindOptions, Listener};
pub use socket::{Peer, Socket};
