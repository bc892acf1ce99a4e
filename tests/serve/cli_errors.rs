//! Command-line errors: bad endpoints and flags are usage errors, bind failures
//! exit 1, each with one clear line.

use crate::common::*;

#[test]
fn bad_endpoints_are_usage_errors_saying_what_was_expected() {
    for (endpoint, needles) in [
        (
            "http://127.0.0.1:1",
            &["unsupported scheme 'http'", "tcp://HOST:PORT"][..],
        ),
        ("localhost", &["missing port", "HOST:PORT"]),
        ("127.0.0.1:99999", &["invalid port '99999'", "0 to 65535"]),
        ("127.0.0.1:echo", &["invalid port 'echo'"]),
        ("::1:80", &["brackets", "[::1]"]),
        ("[::1:80", &["unclosed '['"]),
        ("tcp://:80", &["empty host"]),
        ("unix:", &["missing path", "unix:/PATH"]),
        ("", &["empty endpoint"]),
    ] {
        let out = ricochet().args(["serve", endpoint]).output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "serve {endpoint:?}: {stderr}");
        for n in needles {
            assert!(
                stderr.contains(n),
                "serve {endpoint:?}: stderr lacks {n:?}:\n{stderr}"
            );
        }
    }
}

#[test]
fn bad_flags_are_usage_errors_with_clear_messages() {
    for (args, needles) in [
        (
            &["serve", "--mode", "echo"][..],
            &["'echo'", "stream", "once", "line"][..],
        ),
        (&["serve", "--max-conns", "0"], &["at least 1"]),
        (&["serve", "--max-conns", "many"], &["'many'"]),
        (&["serve", "--unix-mode", "999"], &["octal"]),
        (
            &["serve", "--idle-timeout", "soon"],
            &["invalid duration 'soon'"],
        ),
        (
            &["serve", "--grace", "forever"],
            &["invalid duration 'forever'"],
        ),
        (&["serve", "--delay", "x"], &["invalid duration 'x'"]),
        (&["serve", "--max-read", "0"], &["--max-read"]),
        (&["serve", "--max-line", "0"], &["--max-line"]),
        (&["serve", "--threads", "0"], &["--threads"]),
        (&["serve", "--no-such-flag"], &["--no-such-flag"]),
        (
            &["send", "--timeout", "soon", "hi"],
            &["invalid duration 'soon'"],
        ),
        (
            &["send", "--timeout", "0.0001", "hi"],
            &["at least 1ms, or 0 for no timeout"],
        ),
        (&["serve", "--max-line", "65MiB"], &["at most 64MiB"]),
        (&["serve", "--grace", "1e19"], &["at most 365days"]),
        (&["frobnicate"], &["frobnicate"]),
    ] {
        let out = ricochet().args(args).output().expect("run");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        for n in needles {
            assert!(
                stderr.contains(n),
                "{args:?}: stderr lacks {n:?}:\n{stderr}"
            );
        }
        assert!(out.stdout.is_empty(), "{args:?}: printed to stdout");
    }
}

#[test]
fn bind_failures_exit_1_with_one_clear_line() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let in_use = format!("tcp://{}", taken.local_addr().expect("addr"));
    let (_dir, path, _) = unix_endpoint("x.sock");
    let no_dir = format!("unix:{}", path.join("missing-dir/echo.sock").display());
    for (endpoint, needles) in [
        (
            in_use.as_str(),
            &["cannot listen on", "address already in use"][..],
        ),
        // TEST-NET-1: valid, but no local interface has it.
        ("tcp://192.0.2.1:0", &["cannot listen on tcp://192.0.2.1:0"]),
        (
            "tcp://nosuch.invalid:0",
            &["could not resolve 'nosuch.invalid'"],
        ),
        (no_dir.as_str(), &["cannot listen on"]),
    ] {
        let out = ricochet().args(["serve", endpoint]).output().expect("run");
        assert_eq!(out.status.code(), Some(1), "serve {endpoint}: {out:?}");
        assert_one_error_line(&out.stderr, needles);
    }
    // One failing endpoint among good ones fails the whole command.
    let out = ricochet()
        .args(["serve", "tcp://127.0.0.1:0", &in_use])
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        out.stdout.is_empty(),
        "announced listeners before failing: {out:?}"
    );
}

/// "listening on" means every listener of every shard accepts: a startup
/// that runs out of descriptors part-way (500 shards under nofile 256)
/// fails without ever printing it.
#[test]
fn a_startup_that_fails_part_way_never_prints_listening_on() {
    let out = std::process::Command::new("sh")
        .args([
            "-c",
            r#"ulimit -n 256 && exec "$0" serve tcp://127.0.0.1:0 --threads 500"#,
            bin(),
        ])
        .env_remove("RICOCHET_LOG")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert!(
        !String::from_utf8_lossy(&out.stdout).contains("listening on"),
        "{out:?}"
    );
    assert_one_error_line(&out.stderr, &["out of file descriptors", "ulimit -n"]);
}

/// A mode's option given with another mode is refused, naming both, rather
/// than silently ignored (`serve --delay 1s` used to serve stream mode with
/// no delay).
#[test]
fn a_mode_option_without_its_mode_is_a_usage_error() {
    for (args, needles) in [
        (
            &["serve", "--delay", "1s"][..],
            &["--delay", "--mode once"][..],
        ),
        (
            &["serve", "--max-read", "10", "--mode", "line"],
            &["--max-read", "--mode once"],
        ),
        (
            &["serve", "--max-line", "10"],
            &["--max-line", "--mode line"],
        ),
        (
            &["serve", "--mode", "once", "--max-line", "10"],
            &["--max-line", "--mode line"],
        ),
    ] {
        let out = ricochet().args(args).output().expect("run");
        assert_eq!(out.status.code(), Some(2), "{args:?}: {out:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        for needle in needles {
            assert!(err.contains(needle), "{args:?}: {err}");
        }
    }
}
