//! Unix socket files: binding a path, and the file's life.
//!
//! A stale socket left by a dead server is replaced, a live one or a
//! non-socket file is refused, `--unix-mode` is applied, and the file we
//! created is removed when the last listener on it is dropped — but only if
//! it is still the file we created (device and inode match).

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use socket2::{Domain, SockAddr, Socket as RawSocket, Type};
use tokio::net::UnixListener;

use super::listen::{io_step, BindError};
use super::Endpoint;

/// A Unix listener plus the socket file it created, removed on drop.
#[derive(Debug)]
pub(crate) struct UnixSocketListener {
    pub(crate) listener: UnixListener,
    pub(crate) path: PathBuf,
    /// The same path, shared by the `Peer` of every connection.
    pub(crate) shared_path: Arc<Path>,
    /// (dev, inode) of the file we bound, so we never remove a file that
    /// another server put there after us. `None` for adopted listeners.
    pub(crate) owned: Option<(u64, u64)>,
}

impl UnixSocketListener {
    pub(crate) fn new(listener: UnixListener, path: PathBuf, owned: Option<(u64, u64)>) -> Self {
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

pub(crate) fn bind_unix(
    endpoint: &Endpoint,
    path: &Path,
    backlog: i32,
    mode: Option<u32>,
) -> Result<UnixSocketListener, BindError> {
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
    let socket = RawSocket::new(Domain::UNIX, Type::STREAM, None)
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
    Ok(UnixSocketListener::new(
        UnixListener::from_std(socket.into())
            .map_err(io_step(endpoint, "registering with the runtime"))
            .map_err(cleanup)?,
        path.to_owned(),
        Some((meta.dev(), meta.ino())),
    ))
}
