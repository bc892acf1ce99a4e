//! Shared helpers for the integration tests: spawn `ricochet serve` (or the
//! Python tutorial server) and learn where it listens from its "listening on"
//! lines, kill it on drop ([`server`]); run a server in-process on its own
//! thread ([`in_process`]); connect to endpoint strings over real sockets
//! ([`client`]); and move large verifiable payloads ([`pattern`]).
//!
//! Every wait here is bounded: a hung server fails the test with its stderr
//! instead of hanging the suite.
//!
//! Flat test files use it as `mod common;`, test folders (`tests/X/main.rs`)
//! as `#[path = "../common/mod.rs"] mod common;`.
#![allow(dead_code)] // each test binary uses a different subset

pub mod client;
pub mod in_process;
pub mod pattern;
pub mod server;

#[allow(unused_imports)] // each test binary uses a different subset
pub use client::*;
#[allow(unused_imports)]
pub use in_process::*;
#[allow(unused_imports)]
pub use pattern::*;
#[allow(unused_imports)]
pub use server::*;

use std::path::PathBuf;
use std::time::Duration;

/// Upper bound for any single wait on a process or socket. Generous, because
/// the debug build on two busy cores is slow, but finite.
pub const WAIT: Duration = Duration::from_secs(15);

/// The `ricochet` binary under test.
pub fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_ricochet")
}

/// A script from `interop/`.
pub fn interop_script(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("interop")
        .join(name)
}

/// Asserts that `stderr` is exactly one line starting "ricochet: error:"
/// and containing every one of `needles`.
pub fn assert_one_error_line(stderr: &[u8], needles: &[&str]) {
    let text = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 1, "expected one stderr line, got:\n{text}");
    assert!(
        lines[0].starts_with("ricochet: error:"),
        "stderr line does not start with 'ricochet: error:': {text}"
    );
    for n in needles {
        assert!(text.contains(n), "stderr lacks {n:?}: {text}");
    }
}

/// `ricochet` as an assert_cmd command, bounded by [`WAIT`] and with no
/// `RICOCHET_*` settings leaking in from the environment.
pub fn ricochet() -> assert_cmd::Command {
    let mut cmd = assert_cmd::Command::new(bin());
    for key in inherited_ricochet_vars() {
        cmd.env_remove(key);
    }
    cmd.timeout(WAIT);
    cmd
}

/// Whether `::1` can be bound here; IPv6 tests are skipped (loudly) when
/// the machine has no IPv6 loopback.
pub fn ipv6_available() -> bool {
    let ok = std::net::TcpListener::bind("[::1]:0").is_ok();
    if !ok {
        eprintln!("note: ::1 is not bindable here; skipping the IPv6 part of this test");
    }
    ok
}

/// Every transport a test should cover: TCP over 127.0.0.1, the given Unix
/// endpoint, and TCP over ::1 where the machine has it; all on port 0.
pub fn every_transport(unix: &str) -> Vec<&str> {
    let mut endpoints = vec!["tcp://127.0.0.1:0", unix];
    if ipv6_available() {
        endpoints.push("tcp://[::1]:0");
    }
    endpoints
}

/// The port of a `tcp://HOST:PORT` endpoint.
pub fn port_of(endpoint: &str) -> u16 {
    endpoint
        .rsplit_once(':')
        .and_then(|(_, p)| p.parse().ok())
        .unwrap_or_else(|| panic!("no port in {endpoint:?}"))
}

/// A fresh temp dir and a `unix:` endpoint for a socket inside it.
pub fn unix_endpoint(name: &str) -> (tempfile::TempDir, PathBuf, String) {
    let dir = tempfile::Builder::new()
        .prefix("ricochet-test-")
        .tempdir()
        .expect("temp dir");
    let path = dir.path().join(name);
    let endpoint = format!("unix:{}", path.display());
    (dir, path, endpoint)
}
