//! The library's client API (`send_message`, `pipe`), and many concurrent sends
//! through the binary.

use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use crate::common::*;
use crate::stdout_of;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn library_send_message_and_pipe() {
    use ricochet::{
        client::{pipe, send_message},
        echo::{AfterEcho, EchoError},
    };
    use ricochet::{Endpoint, Listener, Mode, Server, StreamEcho};

    let std_listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = Endpoint::from(std_listener.local_addr().expect("addr"));
    let server = Server::from_listeners(vec![Listener::adopt_tcp(std_listener).expect("adopt")]);
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let task = tokio::spawn(server.serve(Mode::Stream(StreamEcho), async {
        let _ = stopped.await;
    }));
    let timeout = Some(Duration::from_secs(5));

    let echo = send_message(&endpoint, b"Hello World!", timeout, AfterEcho::UntilClose)
        .await
        .expect("send");
    assert_eq!(echo, b"Hello World!");

    let input = pattern(3 << 20);
    let mut output = Vec::new();
    let summary = pipe(&endpoint, &input[..], &mut output, true, timeout)
        .await
        .expect("pipe");
    assert_eq!(
        (summary.sent, summary.received),
        (input.len() as u64, input.len() as u64)
    );
    assert!(output == input, "piped echo differs");

    stop.send(()).expect("server running");
    bounded("serve() to return", task)
        .await
        .expect("serve task");

    // Nobody there any more.
    let err = send_message(&endpoint, b"x", timeout, AfterEcho::Stop)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            EchoError::Connect(ricochet::transport::ConnectError::Refused { .. })
        ),
        "{err:?}"
    );
}

#[test]
fn concurrent_sends_all_succeed() {
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &["--mode", "once"]);
    let ep = server.endpoint().to_owned();
    let senders: Vec<_> = (0..20)
        .map(|i| {
            let ep = ep.clone();
            std::thread::spawn(move || {
                let msg = format!("message {i}");
                let out = ricochet()
                    .args(["send", &ep, &msg, "--check"])
                    .output()
                    .expect("run");
                (i, out)
            })
        })
        .collect();
    for s in senders {
        let (i, out) = s.join().expect("sender");
        assert_eq!(out.status.code(), Some(0), "sender {i}: {out:?}");
        assert_eq!(
            stdout_of(&out),
            format!("sent: message {i}\nreceived: message {i}\n")
        );
    }
    drop(TcpStream::connect(ep.trim_start_matches("tcp://")).expect("server still up"));
}
