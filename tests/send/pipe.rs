//! The stdin pipe: `ricochet send ENDPOINT -` is binary-safe and half-closes at
//! the end of stdin, and honours `--timeout` while stdin is still open.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::common::*;
use crate::{answer_after_eof, stdout_of};

#[test]
fn send_dash_pipes_64mb_of_stdin_binary_safe_with_check() {
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &[]);
    let input = pattern(64 << 20);
    let out = ricochet()
        .args(["send", server.endpoint(), "-", "--check"])
        .write_stdin(input.clone())
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(out.stdout.len(), input.len(), "echo length");
    if let Some(i) = (0..input.len()).find(|&i| out.stdout[i] != input[i]) {
        panic!("stdout differs from stdin at byte {i}");
    }
}

#[test]
fn send_dash_is_binary_safe_over_unix() {
    let (_dir, _path, unix) = unix_endpoint("pipe.sock");
    let server = ServerProc::ricochet(&[&unix], &[]);
    // Every byte value, invalid UTF-8, NULs, CR/LF, no trailing newline.
    let mut input: Vec<u8> = (0..=255).collect();
    input.extend_from_slice(b"\xff\xfe\x00\r\n\x80 tail without newline");
    for args in [
        &["send", server.endpoint(), "-"][..],
        &["send", server.endpoint(), "-", "--check"],
    ] {
        let out = ricochet()
            .args(args)
            .write_stdin(input.clone())
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "{args:?}: {out:?}");
        assert_eq!(out.stdout, input, "{args:?}");
        assert!(out.stderr.is_empty(), "{args:?}: {out:?}");
    }
    // Empty stdin: nothing sent, nothing received, success.
    let out = ricochet()
        .args(["send", server.endpoint(), "-", "--check"])
        .write_stdin(Vec::new())
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(out.stdout.is_empty());
}

#[test]
fn send_dash_half_closes_at_end_of_stdin() {
    // This server answers only after EOF: without the half-close, send
    // would wait for the echo until its timeout.
    let (ep, server) = answer_after_eof(|received| received);
    let start = Instant::now();
    let out = ricochet()
        .args(["send", &ep, "-", "--timeout", "10s"])
        .write_stdin("no newline at the end")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(stdout_of(&out), "no newline at the end");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "waited for the timeout"
    );
    assert_eq!(server.join().expect("server"), b"no newline at the end");
}

/// `ricochet send ENDPOINT - --timeout 1` whose stdin gets `input` and then
/// stays open: returns the exit code and stderr, or fails the test if the
/// process is still running after [`WAIT`].
fn pipe_with_stdin_held_open(endpoint: &str, input: Vec<u8>) -> (Option<i32>, String) {
    let mut cmd = Command::new(bin());
    for key in inherited_ricochet_vars() {
        cmd.env_remove(key);
    }
    let stderr_file = tempfile::NamedTempFile::new().expect("temp file");
    let mut child = cmd
        .args(["send", endpoint, "-", "--timeout", "1"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(stderr_file.reopen().expect("reopen"))
        .spawn()
        .expect("spawn ricochet");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut child = ChildGuard::new(child);
    // Writes, then holds stdin open until the wait below is over (the
    // sender is dropped at the latest when this function returns).
    let (done, held) = std::sync::mpsc::channel::<()>();
    let feeder = std::thread::spawn(move || {
        let _ = stdin.write_all(&input); // fails once ricochet has exited
        let _ = held.recv();
        drop(stdin);
    });
    let status = child.wait_exit(WAIT);
    child.kill(); // if still running
    let stderr = std::fs::read_to_string(stderr_file.path()).expect("read stderr");
    drop(done);
    feeder.join().expect("feeder");
    let status = status.unwrap_or_else(|| {
        panic!("send still running {WAIT:?} after a 1s --timeout, stdin open; stderr: {stderr}")
    });
    (status.code(), stderr)
}

#[test]
fn pipe_times_out_while_stdin_stays_open() {
    // Issue 10 item 7. A listener nobody accepts from: the kernel takes the
    // bytes and nothing ever replies (small input), or stops taking them
    // (8 MiB: the server never reads).
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let silent_ep = format!("tcp://{}", silent.local_addr().expect("addr"));
    // A server that accepts and reads everything but never replies.
    let reader = TcpListener::bind("127.0.0.1:0").expect("bind");
    let reader_ep = format!("tcp://{}", reader.local_addr().expect("addr"));
    std::thread::spawn(move || {
        if let Ok((mut conn, _)) = reader.accept() {
            let _ = std::io::copy(&mut conn, &mut std::io::sink());
        }
    });
    for (ep, input) in [
        (&silent_ep, b"hello".to_vec()),
        (&silent_ep, pattern(8 << 20)),
        (&reader_ep, b"hello".to_vec()),
    ] {
        let (code, stderr) = pipe_with_stdin_held_open(ep, input);
        assert_eq!(code, Some(5), "{ep}: {stderr}");
        assert!(stderr.contains("timed out after 1s"), "{ep}: {stderr}");
        assert!(stderr.contains("--timeout"), "{ep}: {stderr}");
    }
}
