//! Issue #10 "Hardening": extreme numbers, the open-file limit, report
//! paths checked before any load, Ctrl-C, `--merge` on the wrong files,
//! robust tail ratios, progress that agrees with the report, and bench's
//! own environment variables.

use crate::{echo_server, expect, ricochet, text};

/// A run that, if it started at all, would outlast the test's bound.
const LONG: [&str; 4] = ["-d", "60s", "-w", "0"];

#[test]
fn extreme_numbers_are_usage_errors_not_panics() {
    let server = echo_server();
    let target = server.endpoint.to_string();
    for bad in [
        &["-d", "1e19"][..],
        &["-w", "1e19"],
        &["--timeout", "1e19"],
        &["--rate", "1e-300"],
        &["-d", "0"],
        &["--size", "1e3"],
        // Contradicting options clap cannot see: a usage error too.
        &["--size", "64MiB", "--pipeline", "2"],
    ] {
        let out = ricochet()
            .args(["bench", &target])
            .args(bad)
            .output()
            .unwrap();
        expect(&out, 2, &out.stderr, &["error"]);
        assert!(!text(&out.stderr).contains("panicked"), "{bad:?}");
    }
}

#[test]
fn more_connections_than_descriptors_is_a_usage_error() {
    let server = echo_server();
    // `ulimit -n` sets the hard limit as well, so bench cannot raise the
    // soft one past it.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"ulimit -n 256 && exec "$BIN" bench "$TARGET" -c 1000 -d 300ms -w 0"#)
        .env("TARGET", server.endpoint.to_string())
        .env("BIN", crate::common::bin())
        .output()
        .unwrap();
    expect(
        &out,
        2,
        &out.stderr,
        &["-c 1000", "open-file limit is 256", "hard limit"],
    );
}

#[test]
fn report_paths_are_checked_before_any_load() {
    let server = echo_server();
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    for flag in ["--svg", "--hdr-log"] {
        let path = missing.join("x.out");
        let out = ricochet()
            .args(["bench", &server.endpoint.to_string()])
            .args(LONG)
            .arg(flag)
            .arg(&path)
            .output()
            .unwrap();
        expect(&out, 2, &out.stderr, &[flag, &path.display().to_string()]);
        assert!(out.stdout.is_empty(), "no report: nothing ran");
    }
}

#[test]
fn bench_has_its_own_timeout_and_threads_variables() {
    let server = echo_server();
    let target = server.endpoint.to_string();
    let quick = ["-d", "100ms", "-w", "0", "-c", "1"];
    // send's and serve's variables no longer reach bench...
    let out = ricochet()
        .args(["bench", &target])
        .args(quick)
        .env("RICOCHET_TIMEOUT", "not-a-duration")
        .env("RICOCHET_THREADS", "0")
        .output()
        .unwrap();
    expect(&out, 0, &out.stdout, &["latency"]);
    // ...bench's own do.
    for (var, value) in [
        ("RICOCHET_BENCH_TIMEOUT", "not-a-duration"),
        ("RICOCHET_BENCH_THREADS", "0"),
    ] {
        let out = ricochet()
            .args(["bench", &target])
            .args(quick)
            .env(var, value)
            .output()
            .unwrap();
        expect(&out, 2, &out.stderr, &[value]);
    }
}

#[test]
fn bool_variables_accept_1_and_yes() {
    let server = echo_server();
    let target = server.endpoint.to_string();
    for yes in ["1", "yes", "true"] {
        let out = ricochet()
            .args(["bench", &target, "-d", "100ms", "-w", "0", "-c", "1"])
            .env("RICOCHET_JSON", yes)
            .output()
            .unwrap();
        expect(&out, 0, &out.stdout, &["\"schema_version\""]);
    }
    let out = ricochet()
        .args(["bench", &target, "-d", "100ms", "-w", "0", "-c", "1"])
        .env("RICOCHET_JSON", "0")
        .env("RICOCHET_ONE_SHOT", "no")
        .output()
        .unwrap();
    expect(&out, 0, &out.stdout, &["closed loop", "latency"]);
}
