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

use super::listen::{io_step, start_listening, BindError};
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
    // Checked up front so the errors name the path, not a private directory.
    SockAddr::unix(path).map_err(|_| BindError::PathTooLong {
        endpoint: endpoint.clone(),
        max: MAX_PATH,
    })?;
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        return Err(BindError::NoDirectory {
            endpoint: endpoint.clone(),
            dir: parent.to_owned(),
        });
    }
    // Bind and set the mode inside a directory only we can enter, then link
    // the socket into place: nothing ever changes a file found at `path`
    // (chmod happens before it has that name; link and unlink never follow
    // symlinks), so swapping a symlink in has no window to win.
    let private =
        PrivateDir::new(parent).map_err(io_step(endpoint, "creating a private directory"))?;
    let staged = private.path.join("s");
    let addr = SockAddr::unix(&staged).map_err(|_| BindError::PathTooLong {
        endpoint: endpoint.clone(),
        max: MAX_PATH,
    })?;
    let socket = RawSocket::new(Domain::UNIX, Type::STREAM, None)
        .map_err(io_step(endpoint, "creating socket"))?;
    socket.bind(&addr).map_err(io_step(endpoint, "binding"))?;
    if let Some(mode) = mode {
        fs::set_permissions(&staged, fs::Permissions::from_mode(mode))
            .map_err(io_step(endpoint, "setting socket permissions"))?;
    }
    let meta = fs::symlink_metadata(&staged).map_err(io_step(endpoint, "reading socket file"))?;
    start_listening(endpoint, &socket, backlog)?;
    check_existing(endpoint, path)?;
    // A hard link, not a rename: it fails if anything appeared at `path`
    // since the check (another server starting at the same moment), where
    // a rename would silently replace it. The staged name goes with the
    // private directory.
    fs::hard_link(&staged, path).map_err(|error| {
        if error.kind() == io::ErrorKind::AlreadyExists {
            BindError::UnixLive {
                endpoint: endpoint.clone(),
            }
        } else {
            io_step(endpoint, "linking the socket into place")(error)
        }
    })?;
    Ok(UnixSocketListener::new(
        UnixListener::from_std(socket.into())
            .map_err(io_step(endpoint, "registering with the runtime"))?,
        path.to_owned(),
        Some((meta.dev(), meta.ino())),
    ))
}

/// Longest Unix socket path Linux accepts, in bytes.
pub(super) const MAX_PATH: usize = 107;

/// What is at `path` already: nothing is fine; a stale socket is removed
/// (`unlink` never follows a link); a live socket or anything that is not a
/// socket is refused. The probe is a non-blocking connect: a live server whose
/// backlog is full answers "try again", which counts as live, and nothing
/// here can hang.
fn check_existing(endpoint: &Endpoint, path: &Path) -> Result<(), BindError> {
    let Ok(meta) = fs::symlink_metadata(path) else {
        return Ok(());
    };
    if !meta.file_type().is_socket() {
        return Err(BindError::NotASocket {
            endpoint: endpoint.clone(),
            path: path.to_owned(),
        });
    }
    let probe = RawSocket::new(Domain::UNIX, Type::STREAM, None)
        .and_then(|s| s.set_nonblocking(true).map(|()| s))
        .map_err(io_step(endpoint, "probing existing socket"))?;
    let addr = SockAddr::unix(path).map_err(io_step(endpoint, "probing existing socket"))?;
    match probe.connect(&addr) {
        Ok(()) => Err(BindError::UnixLive {
            endpoint: endpoint.clone(),
        }),
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => Err(BindError::UnixLive {
            endpoint: endpoint.clone(),
        }),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(path = %path.display(), "replacing stale socket file");
            match fs::remove_file(path) {
                Err(e) if e.kind() != io::ErrorKind::NotFound => {
                    Err(io_step(endpoint, "removing stale socket")(e))
                }
                _ => Ok(()),
            }
        }
        Err(e) => Err(io_step(endpoint, "probing existing socket")(e)),
    }
}

/// A fresh directory (mode 0700) beside the socket path, removed with
/// whatever is left in it on drop.
struct PrivateDir {
    path: PathBuf,
}

impl PrivateDir {
    fn new(parent: &Path) -> io::Result<Self> {
        use std::os::unix::fs::DirBuilderExt;
        use std::sync::atomic::{AtomicU32, Ordering};
        static NEXT: AtomicU32 = AtomicU32::new(0);
        // Short (the socket path inside must fit in 107 bytes) and unique
        // enough; mkdir fails rather than follows whatever is there, and we
        // try another name.
        let mut last = None;
        for _ in 0..16 {
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let name = format!(".rc{:x}{n:x}", std::process::id() & 0xffff);
            let path = parent.join(name);
            match fs::DirBuilder::new().mode(0o700).create(&path) {
                Ok(()) => return Ok(PrivateDir { path }),
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last.unwrap_or_else(|| io::ErrorKind::AlreadyExists.into()))
    }
}

impl Drop for PrivateDir {
    fn drop(&mut self) {
        let _ = fs::remove_file(self.path.join("s"));
        let _ = fs::remove_dir(&self.path);
    }
}
