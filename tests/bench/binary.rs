//! Through the real binary: report files, exit codes, and clear errors for
//! silent servers, refusals and bad flags.

use crate::{corrupting_server, echo_server, expect, ricochet, silent_server};
use ricochet::bench::report::json::JsonReport;

const QUICK: [&str; 8] = ["-d", "300ms", "-w", "100ms", "-c", "2", "--timeout", "2s"];

#[test]
fn binary_writes_json_hdr_log_and_svg() {
    let server = echo_server();
    let dir = tempfile::tempdir().unwrap();
    let (hlog, svg) = (dir.path().join("run.hlog"), dir.path().join("run.svg"));
    let out = ricochet()
        .arg("bench")
        .arg(server.endpoint.to_string())
        .args(QUICK)
        .arg("--json")
        .arg("--hdr-log")
        .arg(&hlog)
        .arg("--svg")
        .arg(&svg)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: JsonReport = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report.targets[0].total.messages > 0);
    assert!(std::fs::read_to_string(&hlog).unwrap().contains("Tag="));
    assert!(std::fs::read_to_string(&svg).unwrap().starts_with("<svg"));
}

#[test]
fn binary_exits_6_when_echoes_are_wrong() {
    let server = corrupting_server(4096, 10_000);
    let out = ricochet()
        .arg("bench")
        .arg(server.endpoint.to_string())
        .args(QUICK)
        .output()
        .unwrap();
    expect(&out, 6, &out.stdout, &["mismatch", "VERIFICATION FAILED"]);
}

#[test]
fn binary_names_a_silent_server_instead_of_hanging() {
    let server = silent_server();
    let out = ricochet()
        .args(["bench", &server.endpoint.to_string(), "--timeout", "300ms"])
        .output()
        .unwrap();
    expect(
        &out,
        1,
        &out.stderr,
        &["does not look like an echo server", "no reply"],
    );
}

#[test]
fn binary_reports_refused_and_bad_flags() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let out = ricochet()
        .args(["bench", &format!("127.0.0.1:{port}")])
        .output()
        .unwrap();
    expect(&out, 3, &out.stderr, &["refused"]);
    for bad in [
        &["--size", "0"][..],
        &["--one-shot", "--pipeline", "4"],
        &["--rate", "-5"],
        &["--source-ips", "127.0.0.9-127.0.0.1"],
    ] {
        let out = ricochet()
            .args(["bench", "127.0.0.1:1"])
            .args(bad)
            .output()
            .unwrap();
        expect(&out, 2, &out.stderr, &[]);
    }
}
