//! The library `Server` API the binary is built on: adopted listeners, every
//! mode, grace and cut, bound endpoints.

use std::time::{Duration, Instant};

use crate::common::*;
use ricochet::{Endpoint, LineEcho, Listener, Mode, OnceEcho, Server, StreamEcho};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::oneshot;

async fn serve_in_process(mode: Mode, input: &[u8]) -> (Vec<u8>, ricochet::server::ServeSummary) {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = std_listener.local_addr().expect("addr");
    let server = Server::from_listeners(vec![Listener::adopt_tcp(std_listener).expect("adopt")]);
    assert_eq!(
        server.local_endpoints().expect("endpoints"),
        vec![Endpoint::from(addr)]
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(mode, async {
        let _ = stopped.await;
    }));
    let echo = exchange(&format!("tcp://{addr}"), input).await;
    stop.send(()).expect("server running");
    let summary = bounded("serve() to return", task)
        .await
        .expect("serve task");
    (echo, summary)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_serves_every_mode_on_an_adopted_std_listener() {
    let big = pattern(1 << 20);
    let (echo, summary) = serve_in_process(Mode::Stream(StreamEcho), &big).await;
    assert!(echo == big, "stream: echo differs");
    assert_eq!((summary.accepted, summary.cut_at_shutdown), (1, 0));

    let once = Mode::Once(OnceEcho {
        max_read: 5,
        delay: None,
    });
    let (echo, summary) = serve_in_process(once, b"Hello World!").await;
    assert_eq!(echo, b"Hello");
    assert_eq!((summary.accepted, summary.cut_at_shutdown), (1, 0));

    let line = Mode::Line(LineEcho { max_line: 8 });
    let (echo, _) = serve_in_process(line, b"a\nbb\nccc").await;
    assert_eq!(echo, b"a\nbb\nccc");
    let line = Mode::Line(LineEcho { max_line: 8 });
    let (echo, _) = serve_in_process(line, b"ok\n0123456789\n").await;
    assert!(
        echo.starts_with(b"ok\nerror:"),
        "{:?}",
        String::from_utf8_lossy(&echo)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_shutdown_waits_for_grace_then_cuts_open_connections() {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let addr = std_listener.local_addr().expect("addr");
    let server = Server::from_listeners(vec![Listener::adopt_tcp(std_listener).expect("adopt")])
        .grace(Duration::from_millis(200));
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(Mode::Stream(StreamEcho), async {
        let _ = stopped.await;
    }));
    let mut conn = must_connect(&format!("tcp://{addr}")).await;
    conn.write_all(b"x").await.expect("write");
    let mut echo = [0; 1];
    bounded("echo", conn.read_exact(&mut echo))
        .await
        .expect("read");

    let start = Instant::now();
    stop.send(()).expect("server running");
    let summary = bounded("serve() to return", task)
        .await
        .expect("serve task");
    assert!(
        start.elapsed() >= Duration::from_millis(200),
        "did not wait for grace"
    );
    assert_eq!(summary.accepted, 1);
    assert_eq!(summary.cut_at_shutdown, 1);
    let after = bounded("read after the cut", conn.read(&mut echo)).await;
    assert!(matches!(after, Ok(0) | Err(_)), "still open: {after:?}");
    assert!(
        std::net::TcpStream::connect(addr).is_err(),
        "listener still accepting after serve() returned"
    );
}

#[tokio::test]
async fn library_adopted_unix_listener_serves_and_leaves_its_file() {
    let (_dir, path, unix) = unix_endpoint("adopted.sock");
    let listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    let server = Server::from_listeners(vec![Listener::adopt_unix(listener).expect("adopt")]);
    assert_eq!(
        server.local_endpoints().expect("endpoints"),
        vec![Endpoint::unix(&path)]
    );
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(Mode::Stream(StreamEcho), async {
        let _ = stopped.await;
    }));
    assert_eq!(exchange(&unix, b"adopted").await, b"adopted");
    stop.send(()).expect("server running");
    bounded("serve() to return", task)
        .await
        .expect("serve task");
    assert!(path.exists(), "removed a socket file bound by someone else");
}

#[tokio::test]
async fn library_bind_reports_real_endpoints() {
    let (_dir, path, unix) = unix_endpoint("bound.sock");
    let endpoints: Vec<Endpoint> = ["tcp://127.0.0.1:0", unix.as_str()]
        .iter()
        .map(|s| s.parse().expect("endpoint"))
        .collect();
    let server = Server::bind_all(&endpoints, &ricochet::BindOptions::default())
        .await
        .expect("bind");
    let local = server.local_endpoints().expect("endpoints");
    assert_eq!(local.len(), 2);
    assert!(matches!(&local[0], Endpoint::Tcp { host, port } if host == "127.0.0.1" && *port != 0));
    assert_eq!(local[1], Endpoint::unix(&path));
    drop(server);
    assert!(
        !path.exists(),
        "dropping a bound server leaves its socket file"
    );
}
