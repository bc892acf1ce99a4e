//! Servers in the test process, each on its own thread with its own
//! runtime, for tests that drive blocking code (such as `bench::run`)
//! against them: ricochet's own `Server` in any mode, or a raw TCP server
//! running a handler written in the test. Stopped and joined on drop.

use std::future::Future;
use std::time::Duration;

use ricochet::{Endpoint, Listener, Mode, Server};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// A server running on its own thread until dropped.
pub struct ThreadServer {
    pub endpoint: Endpoint,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for ThreadServer {
    fn drop(&mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        if let Some(t) = self.thread.take() {
            t.join().expect("server thread");
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

impl ThreadServer {
    /// `ricochet`'s own server in `mode`, on TCP port 0 or a temp Unix socket.
    pub fn ricochet(mode: Mode, unix: bool) -> ThreadServer {
        let (stop, stopped) = oneshot::channel::<()>();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let dir = unix.then(|| tempfile::tempdir().unwrap());
        let path = dir.as_ref().map(|d| d.path().join("echo.sock"));
        let thread = std::thread::spawn(move || {
            runtime().block_on(async move {
                let listener = match &path {
                    Some(p) => {
                        Listener::adopt_unix(std::os::unix::net::UnixListener::bind(p).unwrap())
                            .unwrap()
                    }
                    None => {
                        Listener::adopt_tcp(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
                            .unwrap()
                    }
                };
                let server = Server::from_listeners([listener]).grace(Duration::from_millis(100));
                ready_tx
                    .send(server.local_endpoints().unwrap()[0].clone())
                    .unwrap();
                server
                    .serve(mode, async {
                        let _ = stopped.await;
                    })
                    .await;
            })
        });
        ThreadServer {
            endpoint: ready_rx.recv_timeout(super::WAIT).expect("server ready"),
            stop: Some(stop),
            thread: Some(thread),
            _dir: dir,
        }
    }

    /// A raw TCP server on port 0 running `handler` for every connection.
    pub fn tcp<F, Fut>(handler: F) -> ThreadServer
    where
        F: Fn(TcpStream) -> Fut + Send + 'static,
        Fut: Future<Output = ()> + Send + 'static,
    {
        let (stop, mut stopped) = oneshot::channel::<()>();
        let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = Endpoint::from(std_listener.local_addr().unwrap());
        std_listener.set_nonblocking(true).unwrap();
        let thread = std::thread::spawn(move || {
            runtime().block_on(async move {
                let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
                loop {
                    tokio::select! {
                        _ = &mut stopped => break,
                        accepted = listener.accept() => {
                            if let Ok((s, _)) = accepted {
                                tokio::spawn(handler(s));
                            }
                        }
                    }
                }
            })
        });
        ThreadServer {
            endpoint,
            stop: Some(stop),
            thread: Some(thread),
            _dir: None,
        }
    }
}
