//! The binary's exit codes where they are decided by the typed error in
//! `main`: a closed stdout (`| head -c1`) is a normal end, exit 0 with
//! nothing on stderr, for `send` (both modes) and `bench` — as in ripgrep.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// An echo server in threads: every connection gets its bytes back.
fn echo_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let endpoint = format!("tcp://{}", listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            std::thread::spawn(move || echo(conn));
        }
    });
    endpoint
}

fn echo(mut conn: TcpStream) {
    let mut reader = conn.try_clone().expect("clone");
    let _ = std::io::copy(&mut reader, &mut conn);
}

/// `ricochet ARGS` with piped stdin, stdout and stderr, and no
/// `RICOCHET_*` variables from the environment.
fn spawn(args: &[&str]) -> Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ricochet"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("RICOCHET_") {
            cmd.env_remove(key);
        }
    }
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ricochet")
}

/// Waits for the child (killing it after 20 s) and returns its status and
/// stderr.
fn finish(mut child: Child) -> (ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("ricochet did not exit within 20 s");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .expect("stderr")
        .read_to_string(&mut stderr)
        .expect("read stderr");
    (status, stderr)
}

#[test]
fn send_pipe_into_a_closed_stdout_exits_0_quietly() {
    let endpoint = echo_server();
    let mut child = spawn(&["send", &endpoint, "-", "--check"]);
    // 64 MiB of input: far more than the pipes and sockets hold, so the
    // echo is still flowing when stdout closes.
    let mut stdin = child.stdin.take().expect("stdin");
    let feeder = std::thread::spawn(move || {
        let block = vec![b'x'; 1 << 20];
        for _ in 0..64 {
            if stdin.write_all(&block).is_err() {
                break; // ricochet exited
            }
        }
    });
    // `| head -c1`: read one byte, then close the pipe.
    let mut stdout = child.stdout.take().expect("stdout");
    let mut first = [0u8; 1];
    stdout.read_exact(&mut first).expect("first echoed byte");
    drop(stdout);
    let (status, stderr) = finish(child);
    feeder.join().expect("feeder");
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn send_message_into_a_closed_stdout_exits_0_quietly() {
    let endpoint = echo_server();
    let mut child = spawn(&["send", &endpoint, "hello", "--check"]);
    drop(child.stdin.take());
    drop(child.stdout.take());
    let (status, stderr) = finish(child);
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn bench_into_a_closed_stdout_exits_0_quietly() {
    let endpoint = echo_server();
    let mut child = spawn(&[
        "bench", &endpoint, "-q", "--json", "-c", "2", "-t", "1", "-d", "200ms", "-w", "0s",
    ]);
    drop(child.stdin.take());
    drop(child.stdout.take());
    let (status, stderr) = finish(child);
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "");
}
