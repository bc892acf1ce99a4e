//! Binding: turning an [`Endpoint`] into listening sockets.
//!
//! Sockets are made with `socket2` rather than tokio's `bind` because the
//! details matter under load: the listen backlog follows the system's
//! `somaxconn` (tokio's default of 128 drops SYNs in connection bursts, which
//! clients feel as one-second stalls), TCP listeners set `SO_REUSEADDR`, and
//! IPv6 listeners are v6-only so `localhost` can bind `127.0.0.1` and `::1`
//! on the same port. Unix socket files are handled with care: a stale socket
//! left by a dead server is replaced, a live one or a non-socket file is
//! refused, and the file we created is removed when the listener is dropped.

use std::fs;
use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use socket2::{Domain, SockAddr, Socket, Type};
use tokio::net::{TcpListener, UnixListener};

use crate::endpoint::{ConnectError, Endpoint};
use crate::stream::{Peer, Stream};

/// How to bind; `Default` is what `ricochet serve` uses.
#[derive(Debug, Clone, Default)]
pub struct BindOptions {
    /// Listen backlog; `None` reads `/proc/sys/net/core/somaxconn`.
    pub backlog: Option<u32>,
    /// Permissions for Unix socket files (e.g. `0o660`); `None` keeps the
    /// umask's choice.
    pub unix_mode: Option<u32>,
    /// Set `SO_REUSEPORT` on TCP listeners, so [`Listener::sibling`] can
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
pub enum Listener {
    /// A TCP listener.
    Tcp(TcpListener),
    /// A Unix listener; owns its socket file if it created it.
    Unix(UnixSocketListener),
}

/// A Unix listener plus the socket file it created, removed on drop.
#[derive(Debug)]
pub struct UnixSocketListener {
    listener: UnixListener,
    path: PathBuf,
    /// The same path, shared by the `Peer` of every connection.
    shared_path: std::sync::Arc<Path>,
    /// (dev, inode) of the file we bound, so we never remove a file that
    /// another server put there after us. `None` for adopted listeners.
    owned: Option<(u64, u64)>,
}

impl UnixSocketListener {
    fn new(listener: UnixListener, path: PathBuf, owned: Option<(u64, u64)>) -> Self {
        UnixSocketListener {
            listener,
            shared_path: path.as_path().into(),
            path,
            owned,
        }
    }
}

impl Drop for UnixSocketListener {
    fn drop(&mut self) {
        if let (Some(id), Ok(meta)) = (self.owned, fs::symlink_metadata(&self.path)) {
            if (meta.dev(), meta.ino()) == id {
                let _ = fs::remove_file(&self.path);
            }
        }
    }
}

/// Maps a system error during `step` of binding `endpoint` to a [`BindError`].
fn io_step<'a>(
    endpoint: &'a Endpoint,
    step: &'static str,
) -> impl FnOnce(io::Error) -> BindError + 'a {
    move |error| BindError::Io {
        endpoint: endpoint.clone(),
        step,
        error,
    }
}

/// The system's maximum listen backlog, or a sane fallback.
pub fn system_backlog() -> u32 {
    fs::read_to_string("/proc/sys/net/core/somaxconn")
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
            Endpoint::Unix(path) => Ok(vec![bind_unix(endpoint, path, backlog, opts.unix_mode)?]),
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
                    listeners.push(Listener::Tcp(register_tcp(endpoint, l)?));
                }
                Ok(listeners)
            }
        }
    }

    /// Where this listener actually listens (with the real port after
    /// binding port 0), as an endpoint a client can connect to.
    pub fn local_endpoint(&self) -> io::Result<Endpoint> {
        match self {
            Listener::Tcp(l) => l.local_addr().map(Endpoint::from),
            Listener::Unix(u) => Ok(Endpoint::Unix(u.path.clone())),
        }
    }

    /// Accepts one connection and names its peer (Unix clients are
    /// usually unnamed, so they are named after the socket they came in
    /// on). TCP streams get `TCP_NODELAY`: echo replies are small and
    /// latency-bound, and Nagle would hold them back.
    pub async fn accept(&self) -> io::Result<(Stream, Peer)> {
        match self {
            Listener::Tcp(l) => {
                let (s, addr) = l.accept().await?;
                s.set_nodelay(true)?;
                Ok((Stream::Tcp(s), Peer::Tcp(addr)))
            }
            Listener::Unix(u) => {
                let (s, addr) = u.listener.accept().await?;
                let peer = match addr.as_pathname() {
                    Some(path) => Peer::Unix(Some(path.into())),
                    None => Peer::Unix(Some(u.shared_path.clone())),
                };
                Ok((Stream::Unix(s), peer))
            }
        }
    }

    /// Another listening socket on the same address, for another thread's
    /// runtime: TCP binds a fresh `SO_REUSEPORT` socket (the kernel spreads
    /// new connections across siblings; needs [`BindOptions::reuse_port`]),
    /// a Unix listener shares this socket. Attach it with
    /// [`DetachedListener::attach`] on the runtime that will accept.
    pub fn sibling(&self, opts: &BindOptions) -> Result<DetachedListener, BindError> {
        let endpoint = self
            .local_endpoint()
            .unwrap_or_else(|_| Endpoint::tcp("?", 0));
        match self {
            Listener::Tcp(l) => {
                let addr = l
                    .local_addr()
                    .map_err(io_step(&endpoint, "reading local address"))?;
                let backlog = opts.backlog.unwrap_or_else(system_backlog) as i32;
                Ok(DetachedListener::Tcp(bind_tcp(
                    &endpoint, addr, backlog, true,
                )?))
            }
            Listener::Unix(u) => {
                let dup = socket2::SockRef::from(&u.listener)
                    .try_clone()
                    .map_err(io_step(&endpoint, "sharing socket"))?;
                Ok(DetachedListener::Unix {
                    listener: dup.into(),
                    path: u.path.clone(),
                    owned: None,
                })
            }
        }
    }

    /// Unregisters from the current runtime so the socket can move to
    /// another one (the socket file, if ours, stays ours).
    pub fn detach(self) -> io::Result<DetachedListener> {
        match self {
            Listener::Tcp(l) => Ok(DetachedListener::Tcp(l.into_std()?)),
            Listener::Unix(mut u) => {
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
pub enum DetachedListener {
    /// A TCP listener.
    Tcp(std::net::TcpListener),
    /// A Unix listener, its path, and whether it owns the socket file.
    Unix {
        /// The socket.
        listener: std::os::unix::net::UnixListener,
        /// Its path.
        path: PathBuf,
        /// (dev, inode) of the socket file to remove on drop, if ours.
        owned: Option<(u64, u64)>,
    },
}

impl DetachedListener {
    /// Registers the socket with the current runtime.
    pub fn attach(self) -> io::Result<Listener> {
        match self {
            DetachedListener::Tcp(l) => Ok(Listener::Tcp(TcpListener::from_std(l)?)),
            DetachedListener::Unix {
                listener,
                path,
                owned,
            } => Ok(Listener::Unix(UnixSocketListener::new(
                UnixListener::from_std(listener)?,
                path,
                owned,
            ))),
        }
    }
}

impl From<TcpListener> for Listener {
    fn from(l: TcpListener) -> Self {
        Listener::Tcp(l)
    }
}

impl TryFrom<std::net::TcpListener> for Listener {
    type Error = io::Error;

    /// Adopts an already-bound std listener (tests use port 0 this way).
    fn try_from(l: std::net::TcpListener) -> io::Result<Self> {
        l.set_nonblocking(true)?;
        Ok(Listener::Tcp(TcpListener::from_std(l)?))
    }
}

impl TryFrom<UnixListener> for Listener {
    type Error = io::Error;

    /// Adopts a bound tokio Unix listener. Its socket file is left alone
    /// on drop: whoever bound it owns it.
    fn try_from(listener: UnixListener) -> io::Result<Self> {
        let path = listener
            .local_addr()?
            .as_pathname()
            .map(Path::to_path_buf)
            .unwrap_or_default();
        Ok(Listener::Unix(UnixSocketListener::new(
            listener, path, None,
        )))
    }
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
    socket
        .listen(backlog)
        .map_err(io_step(endpoint, "listening"))?;
    socket
        .set_nonblocking(true)
        .map_err(io_step(endpoint, "setting non-blocking"))?;
    Ok(socket.into())
}

/// A TCP socket bound (not listening) to `addr`.
fn bind_tcp_socket(
    endpoint: &Endpoint,
    addr: SocketAddr,
    reuse_port: bool,
) -> Result<Socket, BindError> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, None)
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

fn bind_unix(
    endpoint: &Endpoint,
    path: &Path,
    backlog: i32,
    mode: Option<u32>,
) -> Result<Listener, BindError> {
    if let Ok(meta) = fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(BindError::NotASocket {
                endpoint: endpoint.clone(),
                path: path.to_owned(),
            });
        }
        // A socket file: live if something accepts on it, stale otherwise.
        match std::os::unix::net::UnixStream::connect(path) {
            Ok(_) => {
                return Err(BindError::UnixLive {
                    endpoint: endpoint.clone(),
                })
            }
            Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
                tracing::info!(path = %path.display(), "replacing stale socket file");
                fs::remove_file(path).map_err(io_step(endpoint, "removing stale socket"))?;
            }
            Err(e) => return Err(io_step(endpoint, "probing existing socket")(e)),
        }
    }
    let socket = Socket::new(Domain::UNIX, Type::STREAM, None)
        .map_err(io_step(endpoint, "creating socket"))?;
    let addr = SockAddr::unix(path).map_err(io_step(endpoint, "building socket address"))?;
    socket.bind(&addr).map_err(|error| {
        if error.kind() == io::ErrorKind::AddrInUse {
            BindError::UnixLive {
                endpoint: endpoint.clone(),
            }
        } else {
            io_step(endpoint, "binding")(error)
        }
    })?;
    // The file is ours now: remove it if any later step fails.
    let cleanup = |e: BindError| {
        let _ = fs::remove_file(path);
        e
    };
    let meta = fs::symlink_metadata(path)
        .map_err(io_step(endpoint, "reading socket file"))
        .map_err(cleanup)?;
    if let Some(mode) = mode {
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
            .map_err(io_step(endpoint, "setting socket permissions"))
            .map_err(cleanup)?;
    }
    // listen() before registering with the runtime: an epoll registration
    // of a bound, not-yet-listening socket reports a hang-up, which tokio
    // would remember and then spin on.
    socket
        .listen(backlog)
        .map_err(io_step(endpoint, "listening"))
        .map_err(cleanup)?;
    socket
        .set_nonblocking(true)
        .map_err(io_step(endpoint, "setting non-blocking"))
        .map_err(cleanup)?;
    let listener = UnixSocketListener::new(
        UnixListener::from_std(socket.into())
            .map_err(io_step(endpoint, "registering with the runtime"))
            .map_err(cleanup)?,
        path.to_owned(),
        Some((meta.dev(), meta.ino())),
    );
    Ok(Listener::Unix(listener))
}
