//! Which argument is which (issue 10 item 11): a lone argument that reads
//! as an endpoint (URL, `HOST:PORT`, a path to a socket file) is the
//! endpoint and stdin is piped to it; anything else is the message; a note
//! on stderr says how an argument that could go either way was taken; and
//! several message words are joined with spaces, as `echo` does.

use crate::common::*;
use crate::stdout_of;

#[test]
fn a_lone_host_port_or_socket_path_is_the_endpoint() {
    let (dir, path, unix) = unix_endpoint("lone.sock");
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0", &unix], &[]);
    let host_port = server.endpoint().trim_start_matches("tcp://").to_owned();
    let absolute = path.display().to_string();
    for (arg, dir) in [
        (host_port.as_str(), None),
        (absolute.as_str(), None),
        ("./lone.sock", Some(dir.path())),
    ] {
        let mut cmd = ricochet();
        if let Some(dir) = dir {
            cmd.current_dir(dir);
        }
        let out = cmd
            .args(["send", arg, "--check"])
            .write_stdin("piped, not sent as text")
            .output()
            .expect("run");
        assert_eq!(out.status.code(), Some(0), "send {arg}: {out:?}");
        assert_eq!(stdout_of(&out), "piped, not sent as text", "send {arg}");
        assert!(out.stderr.is_empty(), "send {arg}: {out:?}");
    }
}

#[test]
fn how_an_ambiguous_lone_argument_was_taken_is_said_on_stderr() {
    // A path with no socket file there is the message, and the note says
    // how to name the socket instead.
    let (_dir, path, _) = unix_endpoint("absent.sock");
    let absent = path.display().to_string();
    let out = ricochet()
        .args(["send", &absent, "--timeout", "2s"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&format!("note: '{absent}' taken as the message"))
            && stderr.contains(&format!("unix:{absent}")),
        "{out:?}"
    );
    // A lone URL that does not parse is a bad endpoint, not a message.
    let out = ricochet()
        .args(["send", "tcp://localhost"])
        .write_stdin("x")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_one_error_line(
        &out.stderr,
        &["bad endpoint 'tcp://localhost'", "missing port"],
    );
    // A host name with a port is the endpoint, and the note says how to
    // send it as text.
    let out = ricochet()
        .args(["send", "nosuch.invalid:7"])
        .write_stdin("x")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("note: 'nosuch.invalid:7' taken as the endpoint tcp://nosuch.invalid:7")
            && stderr.contains("to send it as a message"),
        "{out:?}"
    );
}

#[test]
fn several_message_words_are_joined_with_spaces() {
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &[]);
    let out = ricochet()
        .args(["send", server.endpoint(), "hello", "world", "--check"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert_eq!(
        stdout_of(&out),
        "sent: hello world\nreceived: hello world\n"
    );
    // A first argument that is not an endpoint says why it was read as one.
    let out = ricochet()
        .args(["send", "hello", "world"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert_one_error_line(
        &out.stderr,
        &["bad endpoint 'hello'", "first is the endpoint"],
    );
}
