//! Interop with the asyncio tutorial ricochet grew from: the tutorial's
//! client and server (interop/, modernised to async/await) against
//! ricochet's server and client, over TCP and Unix sockets, and the
//! tutorial's handler written with ricochet's library API.

mod common;

use std::time::{Duration, Instant};

use common::*;
use ricochet::{Connection, Handler, Listener, Server};

/// `python3 interop/tutorial_client.py ARGS...`, bounded by [`WAIT`].
fn python_client(args: &[&str]) -> std::process::Output {
    assert_cmd::Command::new("python3")
        .arg(interop_script("tutorial_client.py"))
        .args(args)
        .env("PYTHONUTF8", "1")
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .timeout(WAIT)
        .output()
        .expect("run python3")
}

/// The client's arguments for an endpoint as printed by "listening on".
fn client_args(endpoint: &str) -> Vec<String> {
    if let Some(path) = endpoint.strip_prefix("unix:") {
        return vec!["--unix".into(), path.into()];
    }
    let hostport = endpoint.strip_prefix("tcp://").expect("tcp endpoint");
    let (host, port) = hostport.rsplit_once(':').expect("host:port");
    let host = host.trim_start_matches('[').trim_end_matches(']');
    vec!["--host".into(), host.into(), "--port".into(), port.into()]
}

/// Runs the tutorial client against `endpoint` and checks its output is
/// the tutorial's, with the message echoed intact.
fn tutorial_client_exchange(endpoint: &str, message: &str) {
    let mut args = client_args(endpoint);
    args.push(message.into());
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = python_client(&args);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "tutorial client against {endpoint}: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        stdout,
        format!("Envoi du message : {message}\nMessage reçu : {message}\n"),
        "tutorial client against {endpoint}"
    );
}

// ---------------------------------------------------------------------------
// The tutorial's client against ricochet

#[test]
fn tutorial_client_against_ricochet_once_over_tcp_and_unix() {
    let (_dir, _path, unix) = unix_endpoint("once.sock");
    let endpoints = every_transport(&unix);
    // The tutorial's server sleeps before answering; so does this one.
    let server = ServerProc::ricochet(&endpoints, &["--mode", "once", "--delay", "50ms"]);
    for ep in &server.endpoints {
        tutorial_client_exchange(ep, "Coucou!");
        tutorial_client_exchange(ep, "Hello, wörld — ça marche !");
    }
}

#[test]
fn tutorial_client_against_ricochet_stream_over_tcp_and_unix() {
    let (_dir, _path, unix) = unix_endpoint("stream.sock");
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0", &unix], &["--mode", "stream"]);
    for ep in &server.endpoints {
        tutorial_client_exchange(ep, "Coucou!");
        tutorial_client_exchange(ep, &"x".repeat(1000));
    }
}

/// The tutorial's point: with a one-second pause per reply, several
/// clients at once are answered together, not one after another. (One
/// second, as in the tutorial: one after another would take four, which
/// leaves room for slow Python start-ups on a loaded machine.)
#[test]
fn tutorial_clients_at_once_are_answered_together() {
    const CLIENTS: usize = 4;
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &["--mode", "once", "--delay", "1s"]);
    let start = Instant::now();
    let clients: Vec<_> = (0..CLIENTS)
        .map(|i| {
            let ep = server.endpoint().to_owned();
            std::thread::spawn(move || tutorial_client_exchange(&ep, &format!("client {i}")))
        })
        .collect();
    for c in clients {
        c.join().expect("client");
    }
    let took = start.elapsed();
    assert!(took >= Duration::from_secs(1));
    assert!(
        took < Duration::from_secs(1) * CLIENTS as u32,
        "{CLIENTS} clients took {took:?}: answered one after another"
    );
}

// ---------------------------------------------------------------------------
// ricochet's client against the tutorial's server

#[test]
fn ricochet_send_against_tutorial_server_over_tcp_and_unix() {
    let (_dir, path, _) = unix_endpoint("tutorial.sock");
    let path = path.to_str().expect("utf-8 path");
    let mut servers = vec![
        ServerProc::python(&["--sleep", "0", "127.0.0.1", "0"]),
        ServerProc::python(&["--sleep", "0", "--unix", path]),
    ];
    if ipv6_available() {
        servers.push(ServerProc::python(&["--sleep", "0", "::1", "0"]));
    }
    assert_eq!(servers[1].endpoint(), format!("unix:{path}"));
    for server in &mut servers {
        let ep = server.endpoint().to_owned();
        let out = ricochet()
            .args(["send", &ep, "Hello World!", "--check"])
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "send to {ep}: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "sent: Hello World!\nreceived: Hello World!\n",
            "send to {ep}"
        );
        assert_eq!(server.next_line(), "Message reçu : Hello World!", "{ep}");

        // The pipe form: stdin up to the tutorial's 1024-byte read.
        let input = "é".repeat(512);
        let out = ricochet()
            .args(["send", &ep, "-", "--check"])
            .write_stdin(input.clone())
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "send - to {ep}: {out:?}");
        assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            input,
            "send - to {ep}"
        );
        assert_eq!(
            server.next_line(),
            format!("Message reçu : {input}"),
            "{ep}"
        );
    }
}

#[test]
fn ricochet_send_waits_for_the_tutorial_servers_sleep() {
    let mut server = ServerProc::python(&["--sleep", "0.3", "127.0.0.1", "0"]);
    let start = Instant::now();
    let out = ricochet()
        .args(["send", server.endpoint(), "Coucou!", "--check"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(start.elapsed() >= Duration::from_millis(300));
    assert_eq!(server.next_line(), "Message reçu : Coucou!");
    // The tutorial server stops cleanly on SIGTERM.
    assert!(server.stop("TERM").success(), "{}", server.stderr());
}

#[test]
fn tutorial_client_against_tutorial_server() {
    // The two scripts agree with each other, so a failure elsewhere in this
    // file is about ricochet, not about them.
    let (_dir, path, _) = unix_endpoint("pair.sock");
    let path = path.to_str().expect("utf-8 path");
    for args in [
        &["--sleep", "0", "127.0.0.1", "0"][..],
        &["--sleep", "0", "--unix", path],
    ] {
        let mut server = ServerProc::python(args);
        tutorial_client_exchange(server.endpoint(), "Coucou!");
        assert_eq!(server.next_line(), "Message reçu : Coucou!");
        assert!(server.stop("TERM").success(), "{}", server.stderr());
    }
    assert!(
        !std::path::Path::new(path).exists(),
        "the tutorial server left its socket file"
    );
}

// ---------------------------------------------------------------------------
// The tutorial's handler, written with ricochet's library

/// `handle_echo` from the tutorial: read up to 1024 bytes, sleep, write
/// them back, drain, close.
struct TutorialEcho {
    sleep: Duration,
}

impl Handler for TutorialEcho {
    async fn handle(&self, conn: &mut Connection) -> std::io::Result<()> {
        let data = conn.read(1024).await?;
        tokio::time::sleep(self.sleep).await;
        conn.write_all(&data).await?;
        conn.drain().await
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tutorial_handler_on_the_library_works_the_same_over_tcp_and_unix() {
    let (_dir, path, unix) = unix_endpoint("handler.sock");
    let tcp = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let tcp_ep = format!("tcp://{}", tcp.local_addr().expect("addr"));
    let unix_listener = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    let server = Server::from_listeners(vec![
        Listener::adopt_tcp(tcp).expect("adopt tcp"),
        Listener::adopt_unix(unix_listener).expect("adopt unix"),
    ]);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let serving = tokio::spawn(server.serve(
        TutorialEcho {
            sleep: Duration::from_millis(20),
        },
        async {
            let _ = stopped.await;
        },
    ));

    let mut echoes = Vec::new();
    for ep in [tcp_ep.as_str(), unix.as_str()] {
        // A Rust client, RFC 862 style (half-close, read to EOF)...
        echoes.push(exchange(ep, b"Coucou!").await);
        // ...and the tutorial's own client (no half-close, one read).
        let ep = ep.to_owned();
        tokio::task::spawn_blocking(move || tutorial_client_exchange(&ep, "Coucou!"))
            .await
            .expect("tutorial client");
    }
    assert_eq!(echoes, [b"Coucou!".to_vec(), b"Coucou!".to_vec()]);

    stop.send(()).expect("server running");
    let summary = bounded("serve() to return", serving)
        .await
        .expect("serve task");
    assert_eq!(summary.accepted, 4);
    assert_eq!(summary.cut_at_shutdown, 0);
}
