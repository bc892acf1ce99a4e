//! Environment variables (issue 10 item 14): yes/no variables take
//! 1/0/true/false/yes/no; each subcommand has its own timeout and thread
//! variables; `RICOCHET_LOG` is documented, and a filter that does not
//! parse is reported instead of ignored.

use std::net::TcpListener;

use crate::common::*;
use crate::{answer_after_eof, stdout_of};

#[test]
fn yes_no_variables_take_1_0_true_false_yes_no() {
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &[]);
    for value in ["1", "0", "true", "false", "yes", "no", "on", "off"] {
        for var in ["RICOCHET_QUIET", "RICOCHET_CHECK"] {
            let out = ricochet()
                .env(var, value)
                .args(["send", server.endpoint(), "hi"])
                .output()
                .expect("run");
            assert_eq!(out.status.code(), Some(0), "{var}={value}: {out:?}");
            assert_eq!(stdout_of(&out), "sent: hi\nreceived: hi\n");
        }
    }
    // RICOCHET_CHECK=1 checks, RICOCHET_CHECK=0 does not.
    for (value, code) in [("1", 6), ("yes", 6), ("0", 0), ("no", 0)] {
        let (ep, server) = answer_after_eof(|data| data.to_ascii_uppercase());
        let out = ricochet()
            .env("RICOCHET_CHECK", value)
            .args(["send", &ep, "hi"])
            .output()
            .expect("run");
        server.join().expect("server");
        assert_eq!(
            out.status.code(),
            Some(code),
            "RICOCHET_CHECK={value}: {out:?}"
        );
    }
}

#[test]
fn send_has_its_own_timeout_variable() {
    // A listener nobody accepts from: nothing ever replies.
    let silent = TcpListener::bind("127.0.0.1:0").expect("bind");
    let ep = format!("tcp://{}", silent.local_addr().expect("addr"));
    let out = ricochet()
        .env("RICOCHET_SEND_TIMEOUT", "300ms")
        .args(["send", &ep, "hello"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(5), "{out:?}");
    assert_one_error_line(&out.stderr, &["timed out after 300ms", "--timeout"]);
    for (args, vars) in [
        (
            &["send", "--help"][..],
            &["RICOCHET_SEND_TIMEOUT", "RICOCHET_CHECK"][..],
        ),
        (
            &["serve", "--help"],
            &["RICOCHET_SERVE_THREADS", "RICOCHET_GRACE"],
        ),
        (
            &["--help"],
            &["RICOCHET_LOG=ricochet=debug", "RICOCHET_QUIET"],
        ),
    ] {
        let out = ricochet().args(args).output().expect("run");
        let help = stdout_of(&out);
        for var in vars {
            assert!(help.contains(var), "{args:?} lacks {var}:\n{help}");
        }
        assert!(
            !help.contains("RICOCHET_TIMEOUT") && !help.contains("RICOCHET_THREADS"),
            "{args:?} still names a shared variable:\n{help}"
        );
    }
}

#[test]
fn a_bad_log_filter_is_reported_then_the_default_used() {
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &[]);
    let out = ricochet()
        .env("RICOCHET_LOG", "ricochet=loud")
        .args(["send", server.endpoint(), "hi"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("WARN") && stderr.contains("ignoring RICOCHET_LOG 'ricochet=loud'"),
        "{stderr}"
    );
}

#[test]
fn the_old_shared_timeout_variable_is_named_not_silently_ignored() {
    let server = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &[]);
    let out = ricochet()
        .env("RICOCHET_TIMEOUT", "1s")
        .args(["send", server.endpoint(), "hi"])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr
            .contains("RICOCHET_TIMEOUT is ignored here: this command reads RICOCHET_SEND_TIMEOUT"),
        "{stderr}"
    );
}
