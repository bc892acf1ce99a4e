//! The binary's exit codes where they are decided by the typed error in
//! `main`: a closed stdout (`| head -c1`) is a normal end, exit 0 with
//! nothing on stderr, for `send` (both modes) and `bench` — as in ripgrep.

mod common;

use std::io::{Read, Write};
use std::process::{Child, ExitStatus, Stdio};

use common::{inherited_ricochet_vars, ChildGuard, ThreadServer, WAIT};
use ricochet::Mode;

/// ricochet's own echo server, in this process.
fn echo_server() -> ThreadServer {
    ThreadServer::ricochet(Mode::default(), false)
}

/// `ricochet ARGS` with piped stdin, stdout and stderr, and no
/// `RICOCHET_*` variables from the environment.
fn spawn(args: &[&str]) -> Child {
    let mut cmd = std::process::Command::new(common::bin());
    for key in inherited_ricochet_vars() {
        cmd.env_remove(key);
    }
    cmd.args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn ricochet")
}

/// Waits for the child (killed after [`WAIT`]) and returns its status and
/// stderr.
fn finish(mut child: Child) -> (ExitStatus, String) {
    let mut stderr = String::new();
    let mut pipe = child.stderr.take().expect("stderr");
    let mut guard = ChildGuard::new(child);
    let status = guard
        .wait_exit(WAIT)
        .unwrap_or_else(|| panic!("ricochet did not exit within {WAIT:?}"));
    pipe.read_to_string(&mut stderr).expect("read stderr");
    (status, stderr)
}

#[test]
fn send_pipe_into_a_closed_stdout_exits_0_quietly() {
    let server = echo_server();
    let endpoint = server.endpoint.to_string();
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
    let server = echo_server();
    let endpoint = server.endpoint.to_string();
    let mut child = spawn(&["send", &endpoint, "hello", "--check"]);
    drop(child.stdin.take());
    drop(child.stdout.take());
    let (status, stderr) = finish(child);
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "");
}

#[test]
fn bench_into_a_closed_stdout_exits_0_quietly() {
    let server = echo_server();
    let endpoint = server.endpoint.to_string();
    let mut child = spawn(&[
        "bench", &endpoint, "-q", "--json", "-c", "2", "-t", "1", "-d", "200ms", "-w", "0s",
    ]);
    drop(child.stdin.take());
    drop(child.stdout.take());
    let (status, stderr) = finish(child);
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert_eq!(stderr, "");
}
