//! Listening: turning an [`Endpoint`] into accepting sockets.
//!
//! Sockets are made with `socket2` rather than tokio's `bind` because the
//! details matter under load: the listen backlog follows the system's
//! `somaxconn` (tokio's default of 128 drops SYNs in connection bursts, which
//! clients feel as one-second stalls), TCP listeners set `SO_REUSEADDR`, and
//! IPv6 listeners are v6-only so `localhost` can bind `127.0.0.1` and `::1`
//! on the same port. Unix socket files are handled in [`super::unix`].
//!
//! Sharding: a listener can make *siblings* for other threads' runtimes. A
//! TCP listener we bound with `SO_REUSEPORT` gets freshly bound siblings
//! (the kernel balances connections across them); an adopted listener (one
//! handed over, as by socket activation) and a Unix listener share their
//! socket, duplicating the descriptor instead of binding again.

use std::io;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use socket2::{Domain, Socket as RawSocket, Type};
use tokio::net::{TcpListener, UnixListener};

use super::unix::{bind_unix, UnixSocketListener};
use super::{ConnectError, Endpoint, Peer, Socket};

/// How to bind; `Default` is what `ricochet serve` uses.
#[derive(Debug, Clone, Default)]
pub struct BindOptions {
    /// Listen backlog; `None` reads `/proc/sys/net/core/somaxconn`.
    pub backlog: Option<u32>,
    /// Permissions for Unix socket files (e.g. `0o660`); `None` keeps the
    /// umask's choice.
    pub unix_mode: Option<u32>,
    /// Set `SO_REUSEPORT` on TCP listeners, so sharded servers can
    /// open more sockets on the same port for the kernel to balance across.
    pub reuse_port: bool,
}

/// Why binding failed. Messages say where and what to do.
#[derive(Debug, thiserror::Error)]
pub enum BindError {
    /// The host name could not be resolved.
    #[error(transparent)]
    Resolve(#[from] ConnectError),
    /// The address is taken by another socket.
    #[error("cannot listen on {endpoint}: address already in use (is another server running? pick another port)")]
    InUse {
        /// Where.
        endpoint: Endpoint,
    },
    /// A live server already answers on this Unix socket.
    #[error("cannot listen on {endpoint}: another server is live on this socket (stop it or choose another path)")]
    UnixLive {
        /// Where.
        endpoint: Endpoint,
    },
    /// The path exists and is not a socket; we never delete such files.
    #[error(
        "cannot listen on {endpoint}: {path} exists and is not a socket (refusing to delete it)"
    )]
    NotASocket {
        /// Where.
        endpoint: Endpoint,
        /// The offending file.
        path: PathBuf,
    },
    /// The directory the Unix socket should go in does not exist.
    #[error("cannot listen on {endpoint}: directory {} does not exist (create it first)", .dir.display())]
    NoDirectory {
        /// Where.
        endpoint: Endpoint,
        /// The missing directory.
        dir: PathBuf,
    },
    /// The Unix socket path is longer than the system allows.
    #[error("cannot listen on {endpoint}: the path is too long for a Unix socket (at most {max} bytes; use a shorter path)")]
    PathTooLong {
        /// Where.
        endpoint: Endpoint,
        /// The longest path allowed.
        max: usize,
    },
    /// The process (or the system) is out of file descriptors.
    #[error("cannot listen on {endpoint}: {step}: out of file descriptors (raise the limit with `ulimit -n`, or use fewer --threads)")]
    OutOfDescriptors {
        /// Where.
        endpoint: Endpoint,
        /// What we were doing.
        step: &'static str,
    },
    /// Any other system error, with the step that failed.
    #[error("cannot listen on {endpoint}: {step}: {error}")]
    Io {
        /// Where.
        endpoint: Endpoint,
        /// What we were doing.
        step: &'static str,
        /// The system error.
        error: io::Error,
    },
}

/// A bound, listening socket.
#[derive(Debug)]
pub struct Listener(Kind);

#[derive(Debug)]
enum Kind {
    /// `reuse_port`: bound by us with `SO_REUSEPORT`, so siblings bind
    /// afresh; otherwise siblings share this socket.
    Tcp {
        listener: TcpListener,
        reuse_port: bool,
    },
    Unix(UnixSocketListener),
}

/// Maps a system error during `step` of binding `endpoint` to a [`BindError`].
pub(crate) fn io_step<'a>(
    endpoint: &'a Endpoint,
    step: &'static str,
) -> impl FnOnce(io::Error) -> BindError + 'a {
    move |error| match error.raw_os_error() {
        Some(EMFILE | ENFILE) => BindError::OutOfDescriptors {
            endpoint: endpoint.clone(),
            step,
        },
        _ => BindError::Io {
            endpoint: endpoint.clone(),
            step,
            error,
        },
    }
}

const ENFILE: i32 = 23;
const EMFILE: i32 = 24;

/// The system's maximum listen backlog, or a sane fallback.
pub fn system_backlog() -> u32 {
    std::fs::read_to_string("/proc/sys/net/core/somaxconn")
        .ok()
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(4096)
}

impl Listener {
    /// Binds every address `endpoint` stands for. `tcp://localhost:0` gives
    /// one listener per resolved address, all on the same port.
    pub async fn bind(endpoint: &Endpoint, opts: &BindOptions) -> Result<Vec<Listener>, BindError> {
        let backlog = opts.backlog.unwrap_or_else(system_backlog) as i32;
        match endpoint {
            Endpoint::Unix(path) => Ok(vec![Listener(Kind::Unix(bind_unix(
                endpoint,
                path,
                backlog,
                opts.unix_mode,
            )?))]),
            Endpoint::Tcp { port, .. } => {
                let mut listeners = Vec::new();
                let mut port = *port;
                for mut addr in endpoint.resolve().await? {
                    // With port 0, the first bind picks the port and the rest
                    // follow it, so one name means one port.
                    addr.set_port(port);
                    if opts.reuse_port && port != 0 {
                        ensure_port_free(endpoint, addr)?;
                    }
                    let l = bind_tcp(endpoint, addr, backlog, opts.reuse_port)?;
                    port = l.local_addr().map(|a| a.port()).unwrap_or(port);
                    listeners.push(Listener(Kind::Tcp {
                        listener: register_tcp(endpoint, l)?,
                        reuse_port: opts.reuse_port,
                    }));
                }
                Ok(listeners)
            }
        }
    }

    /// Adopts a TCP socket that is already bound and listening (bound by the
    /// caller on port 0, or handed over by a supervisor). Must be called on
    /// a tokio runtime. Sharded servers duplicate its descriptor.
    pub fn adopt_tcp(listener: std::net::TcpListener) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        tune_tcp_listener(socket2::SockRef::from(&listener))?;
        Ok(Listener(Kind::Tcp {
            listener: TcpListener::from_std(listener)?,
            reuse_port: false,
        }))
    }

    /// Adopts a Unix socket that is already bound and listening. Its socket
    /// file is left alone on drop: whoever bound it owns it. Must be called
    /// on a tokio runtime.
    pub fn adopt_unix(listener: std::os::unix::net::UnixListener) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        let path = listener
            .local_addr()?
            .as_pathname()
            .map(PathBuf::from)
            .unwrap_or_default();
        Ok(Listener(Kind::Unix(UnixSocketListener::new(
            UnixListener::from_std(listener)?,
            path,
            None,
        ))))
    }

    /// Where this listener actually listens (with the real port after
    /// binding port 0), as an endpoint a client can connect to.
    pub fn local_endpoint(&self) -> io::Result<Endpoint> {
        match &self.0 {
            Kind::Tcp { listener, .. } => listener.local_addr().map(Endpoint::from),
            Kind::Unix(u) => Ok(Endpoint::Unix(u.path.clone())),
        }
    }

    /// Accepts one connection and names its peer (Unix clients are
    /// usually unnamed, so they are named after the socket they came in
    /// on). TCP sockets inherit `TCP_NODELAY` and keepalive from the
    /// listener (see [`tune_tcp_listener`]): no system call per connection.
    pub(crate) async fn accept(&self) -> io::Result<(Socket, Peer)> {
        match &self.0 {
            Kind::Tcp { listener, .. } => {
                let (s, addr) = listener.accept().await?;
                Ok((Socket::Tcp(s), Peer::Tcp(addr)))
            }
            Kind::Unix(u) => {
                let (s, addr) = u.listener.accept().await?;
                let peer = match addr.as_pathname() {
                    Some(path) => Peer::Unix(Some(path.into())),
                    None => Peer::Unix(Some(u.shared_path.clone())),
                };
                Ok((Socket::Unix(s), peer))
            }
        }
    }

    /// Another listening socket on the same address, for another thread's
    /// runtime (see the module doc for bind-afresh versus share). Attach it
    /// with [`DetachedListener::attach`] on the runtime that will accept.
    pub(crate) fn sibling(&self, opts: &BindOptions) -> Result<DetachedListener, BindError> {
        let endpoint = self
            .local_endpoint()
            .unwrap_or_else(|_| Endpoint::tcp("?", 0));
        let share =
            |fd: socket2::SockRef<'_>| fd.try_clone().map_err(io_step(&endpoint, "sharing socket"));
        match &self.0 {
            Kind::Tcp {
                listener,
                reuse_port: true,
            } => {
                let addr = listener
                    .local_addr()
                    .map_err(io_step(&endpoint, "reading local address"))?;
                let backlog = opts.backlog.unwrap_or_else(system_backlog) as i32;
                Ok(DetachedListener::Tcp {
                    listener: bind_tcp(&endpoint, addr, backlog, true)?,
                    reuse_port: true,
                })
            }
            Kind::Tcp { listener, .. } => Ok(DetachedListener::Tcp {
                listener: share(socket2::SockRef::from(listener))?.into(),
                reuse_port: false,
            }),
            Kind::Unix(u) => Ok(DetachedListener::Unix {
                listener: share(socket2::SockRef::from(&u.listener))?.into(),
                path: u.path.clone(),
                owned: None,
            }),
        }
    }

    /// Unregisters from the current runtime so the socket can move to
    /// another one (the socket file, if ours, stays ours).
    pub(crate) fn detach(self) -> io::Result<DetachedListener> {
        match self.0 {
            Kind::Tcp {
                listener,
                reuse_port,
            } => Ok(DetachedListener::Tcp {
                listener: listener.into_std()?,
                reuse_port,
            }),
            Kind::Unix(mut u) => {
                let owned = u.owned.take();
                let path = std::mem::take(&mut u.path);
                // `u` is dropped below without an owned file: nothing removed.
                let listener = socket2::SockRef::from(&u.listener).try_clone()?;
                Ok(DetachedListener::Unix {
                    listener: listener.into(),
                    path,
                    owned,
                })
            }
        }
    }
}

/// A listening socket not yet registered with any runtime, so it can be
/// moved to the thread that will accept on it.
#[derive(Debug)]
pub(crate) enum DetachedListener {
    Tcp {
        listener: std::net::TcpListener,
        reuse_port: bool,
    },
    Unix {
        listener: std::os::unix::net::UnixListener,
        path: PathBuf,
        /// (dev, inode) of the socket file to remove on drop, if ours.
        owned: Option<(u64, u64)>,
    },
}

impl DetachedListener {
    /// Registers the socket with the current runtime.
    pub(crate) fn attach(self) -> io::Result<Listener> {
        match self {
            DetachedListener::Tcp {
                listener,
                reuse_port,
            } => Ok(Listener(Kind::Tcp {
                listener: TcpListener::from_std(listener)?,
                reuse_port,
            })),
            DetachedListener::Unix {
                listener,
                path,
                owned,
            } => Ok(Listener(Kind::Unix(UnixSocketListener::new(
                UnixListener::from_std(listener)?,
                path,
                owned,
            )))),
        }
    }
}

/// How long an accepted TCP connection may be silent before the kernel
/// starts probing whether its peer is still there.
pub const KEEPALIVE_IDLE: Duration = Duration::from_secs(60);
const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(10);
const KEEPALIVE_PROBES: u32 = 6;

/// Options every accepted TCP socket should have, set once on the listener:
/// Linux copies them to each accepted socket.
/// - `TCP_NODELAY`: echo replies are small and latency-bound; Nagle would
///   hold them back.
/// - Keepalive: a peer that vanished (power loss, a dropped NAT entry)
///   never sends a FIN or RST; probes after [`KEEPALIVE_IDLE`] of silence
///   find out within about two minutes, and the connection's slot is freed.
fn tune_tcp_listener(socket: socket2::SockRef<'_>) -> io::Result<()> {
    socket.set_nodelay(true)?;
    socket.set_tcp_keepalive(
        &socket2::TcpKeepalive::new()
            .with_time(KEEPALIVE_IDLE)
            .with_interval(KEEPALIVE_INTERVAL)
            .with_retries(KEEPALIVE_PROBES),
    )
}

fn register_tcp(endpoint: &Endpoint, l: std::net::TcpListener) -> Result<TcpListener, BindError> {
    TcpListener::from_std(l).map_err(|error| BindError::Io {
        endpoint: endpoint.clone(),
        step: "registering with the runtime",
        error,
    })
}

/// `SO_REUSEPORT` would let us join another server's port and silently take
/// part of its traffic. A plain bind first fails if anyone listens there.
fn ensure_port_free(endpoint: &Endpoint, addr: SocketAddr) -> Result<(), BindError> {
    let probe = bind_tcp_socket(endpoint, addr, false)?;
    drop(probe);
    Ok(())
}

fn bind_tcp(
    endpoint: &Endpoint,
    addr: SocketAddr,
    backlog: i32,
    reuse_port: bool,
) -> Result<std::net::TcpListener, BindError> {
    let socket = bind_tcp_socket(endpoint, addr, reuse_port)?;
    tune_tcp_listener(socket2::SockRef::from(&socket))
        .map_err(io_step(endpoint, "setting TCP_NODELAY and keepalive"))?;
    start_listening(endpoint, &socket, backlog)?;
    Ok(socket.into())
}

/// `listen()`, then non-blocking mode, ready to register with a runtime
/// (in that order: an epoll registration of a bound, not-yet-listening
/// socket reports a hang-up, which tokio would remember and spin on).
pub(crate) fn start_listening(
    endpoint: &Endpoint,
    socket: &RawSocket,
    backlog: i32,
) -> Result<(), BindError> {
    socket
        .listen(backlog)
        .map_err(io_step(endpoint, "listening"))?;
    socket
        .set_nonblocking(true)
        .map_err(io_step(endpoint, "setting non-blocking"))
}

/// A TCP socket bound (not listening) to `addr`.
fn bind_tcp_socket(
    endpoint: &Endpoint,
    addr: SocketAddr,
    reuse_port: bool,
) -> Result<RawSocket, BindError> {
    let socket = RawSocket::new(Domain::for_address(addr), Type::STREAM, None)
        .map_err(io_step(endpoint, "creating socket"))?;
    socket
        .set_reuse_address(true)
        .map_err(io_step(endpoint, "setting SO_REUSEADDR"))?;
    if reuse_port {
        socket
            .set_reuse_port(true)
            .map_err(io_step(endpoint, "setting SO_REUSEPORT"))?;
    }
    if addr.is_ipv6() {
        socket
            .set_only_v6(true)
            .map_err(io_step(endpoint, "setting IPV6_V6ONLY"))?;
    }
    socket.bind(&addr.into()).map_err(|error| {
        if error.kind() == io::ErrorKind::AddrInUse {
            BindError::InUse {
                endpoint: endpoint.clone(),
            }
        } else {
            io_step(endpoint, "binding")(error)
        }
    })?;
    Ok(socket)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A listener handed over as a descriptor (socket activation, or a test
    /// binding port 0) gets siblings that share its socket: another
    /// runtime accepts on the very same port, and nothing re-binds.
    #[test]
    fn an_adopted_listener_shares_its_socket_with_siblings() {
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = std_listener.local_addr().unwrap();
        let rt = || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap()
        };
        let (first, sibling) = rt().block_on(async {
            let l = Listener::adopt_tcp(std_listener).unwrap();
            let sibling = l.sibling(&BindOptions::default()).unwrap();
            (l.detach().unwrap(), sibling)
        });
        assert!(matches!(
            sibling,
            DetachedListener::Tcp {
                reuse_port: false,
                ..
            }
        ));
        drop(first);
        // Only the sibling is left, on another runtime: it still accepts.
        rt().block_on(async {
            let l = sibling.attach().unwrap();
            assert_eq!(l.local_endpoint().unwrap(), Endpoint::from(addr));
            let client = tokio::net::TcpStream::connect(addr);
            let (accepted, client) = tokio::time::timeout(Duration::from_secs(10), async {
                tokio::join!(l.accept(), client)
            })
            .await
            .expect("accepted in time");
            let (_, peer) = accepted.unwrap();
            assert_eq!(peer, Peer::Tcp(client.unwrap().local_addr().unwrap()));
        });
    }
}
