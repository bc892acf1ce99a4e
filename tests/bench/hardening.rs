//! Issue #10 "Hardening": extreme numbers, the open-file limit, report
//! paths checked before any load, Ctrl-C, `--merge` on the wrong files,
//! robust tail ratios, progress that agrees with the report, and bench's
//! own environment variables.

use std::io::Read;
use std::process::Stdio;
use std::time::Duration;

use crate::common::ChildGuard;
use crate::{echo_server, expect, resetting_server, ricochet, text};
use ricochet::bench::report::json::JsonReport;

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

#[test]
fn ctrl_c_prints_the_partial_report_and_exits_130() {
    let server = echo_server();
    let mut child = std::process::Command::new(crate::common::bin())
        .args(["bench", &server.endpoint.to_string(), "-c", "2", "--json"])
        .args(LONG)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (mut stdout, mut stderr) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let mut child = ChildGuard::new(child);
    // Long enough for the probe and some load; not a speed assertion.
    std::thread::sleep(Duration::from_millis(1500));
    child.signal("INT");
    let status = child.wait_exit(Duration::from_secs(15));
    let (mut out, mut err) = (Vec::new(), String::new());
    stdout.read_to_end(&mut out).unwrap();
    stderr.read_to_string(&mut err).unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(130), "{err}");
    assert!(err.contains("interrupted"), "{err}");
    let report: JsonReport = serde_json::from_slice(&out).unwrap();
    assert!(report.interrupted);
    let round = &report.targets[0].rounds[0];
    assert!(round.interrupted);
    assert!(round.summary.messages > 0, "what was measured is reported");
    assert!(round.summary.seconds > 0.0 && round.summary.seconds < 60.0);
}

#[test]
fn ctrl_c_text_report_says_partial() {
    let server = echo_server();
    let mut child = std::process::Command::new(crate::common::bin())
        .args(["bench", &server.endpoint.to_string(), "-c", "1", "-q"])
        .args(LONG)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut child = ChildGuard::new(child);
    std::thread::sleep(Duration::from_millis(1000));
    child.signal("INT");
    let status = child.wait_exit(Duration::from_secs(15));
    let mut out = String::new();
    stdout.read_to_string(&mut out).unwrap();
    assert_eq!(status.and_then(|s| s.code()), Some(130), "{out}");
    assert!(out.contains("INTERRUPTED (Ctrl-C): round 1 of"), "{out}");
    assert!(out.contains("latency"), "{out}");
}

#[test]
fn progress_counts_what_the_report_counts() {
    // Resets give errors to count; warm-up gives messages not to count.
    let server = resetting_server(64 * 1024);
    let out = ricochet()
        .args(["bench", &server.endpoint.to_string()])
        .args(["-c", "2", "-w", "200ms", "-d", "300ms", "--timeout", "2s"])
        .output()
        .unwrap();
    expect(&out, 0, &out.stdout, &["reset"]);
    let (report, progress) = (text(&out.stdout), text(&out.stderr));
    // `  messages     12.3k/s (3,690 in 0.30s)` and `  errors       8 reset`
    let field = |name: &str| -> String {
        let line = report
            .lines()
            .find(|l| l.trim_start().starts_with(name))
            .unwrap_or_else(|| panic!("no {name} line in {report}"));
        line.trim_start()[name.len()..].trim().to_owned()
    };
    let messages = field("messages");
    let messages = &messages[messages.find('(').unwrap() + 1..messages.find(" in ").unwrap()];
    let errors = field("errors");
    let done = progress
        .lines()
        .find(|l| l.contains(": done, "))
        .unwrap_or_else(|| panic!("no closing progress line in {progress}"));
    assert!(
        done.contains(&format!("done, {messages} msg measured in 0.30s")),
        "{done} vs {report}"
    );
    assert!(
        done.ends_with(&format!("errors: {errors}")),
        "{done} vs {report}"
    );
}

#[test]
fn merge_names_a_file_that_is_not_a_log() {
    let dir = tempfile::tempdir().unwrap();
    for (name, content, looks_like) in [
        (
            "run.json",
            "{\n  \"schema_version\": 1\n}\n",
            "a JSON report",
        ),
        (
            "cmp.svg",
            "<svg xmlns=\"http://www.w3.org/2000/svg\"/>",
            "an SVG plot",
        ),
    ] {
        let path = dir.path().join(name);
        std::fs::write(&path, content).unwrap();
        let out = ricochet()
            .args(["bench", "--merge"])
            .arg(&path)
            .output()
            .unwrap();
        expect(
            &out,
            2,
            &out.stderr,
            &[name, looks_like, "not an --hdr-log file"],
        );
        assert!(!text(&out.stderr).contains("ParseError"));
    }
}

#[test]
fn merge_refuses_logs_of_different_workloads() {
    let server = echo_server();
    let dir = tempfile::tempdir().unwrap();
    let quick = ["-d", "200ms", "-w", "0", "-c", "1", "-q"];
    let log = |name: &str, extra: &[&str]| {
        let path = dir.path().join(name);
        let out = ricochet()
            .args(["bench", &server.endpoint.to_string()])
            .args(quick)
            .args(extra)
            .arg("--hdr-log")
            .arg(&path)
            .output()
            .unwrap();
        expect(&out, 0, &out.stdout, &[]);
        path
    };
    let (closed, one_shot) = (
        log("closed.hlog", &[]),
        log("one-shot.hlog", &["--one-shot"]),
    );
    let out = ricochet()
        .args(["bench", "--merge"])
        .args([&closed, &one_shot])
        .output()
        .unwrap();
    expect(
        &out,
        2,
        &out.stderr,
        &[
            "closed.hlog (workload=echo loop=closed)",
            "one-shot.hlog (workload=one_shot loop=closed)",
            "different workloads",
        ],
    );
    // Logs of one workload still merge, and say which it was.
    let out = ricochet()
        .args(["bench", "--merge"])
        .args([&closed, &closed])
        .output()
        .unwrap();
    expect(
        &out,
        0,
        &out.stdout,
        &["from 2 logs (workload=echo loop=closed)"],
    );
}

/// An echo server that is slow in one round only: the connections of
/// round `noisy` (counted from the accepts, after one probe connection)
/// pause 20 ms after every 32 KiB they echo, so that round's p99 and p99.9
/// are ~20 ms while every other round's are well under that.
fn noisy_in_one_round(connections: usize, noisy: usize) -> crate::common::ThreadServer {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let accepted = std::sync::Arc::new(AtomicUsize::new(0));
    let slow = 1 + (noisy - 1) * connections..1 + noisy * connections;
    crate::common::ThreadServer::tcp(move |mut s| {
        let is_slow = slow.contains(&accepted.fetch_add(1, Ordering::SeqCst));
        async move {
            let mut buf = vec![0u8; 64 * 1024];
            let mut since_pause = 0usize;
            while let Ok(n) = s.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                since_pause += n;
                if is_slow && since_pause >= 32 * 1024 {
                    since_pause = 0;
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                if s.write_all(&buf[..n]).await.is_err() {
                    break;
                }
            }
        }
    })
}

#[test]
fn one_noisy_round_does_not_swing_the_tail_ratios() {
    let (a, b) = (echo_server(), noisy_in_one_round(2, 2));
    let out = ricochet()
        .args(["bench", &a.endpoint.to_string(), &b.endpoint.to_string()])
        .args([
            "-c", "2", "-t", "1", "-d", "300ms", "-w", "100ms", "--rounds", "5", "--json", "-q",
        ])
        .output()
        .unwrap();
    expect(&out, 0, &out.stdout, &[]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let b = &report["comparison"]["targets"][1];
    let rounds: Vec<&serde_json::Value> = report["targets"][1]["rounds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| &r["summary"]["latency_ns"]["p99_9"])
        .collect();
    let shown = format!(
        "B p99.9 per round: {rounds:?}\nmean of per-round ratios: {}\nrobust: {}",
        b["ratio_p99_9"], b["ratio_p99_9_robust"]
    );
    eprintln!("{shown}");
    for field in ["ratio_p99_robust", "ratio_p99_9_robust"] {
        let robust = &b[field];
        let ratio = robust["ratio"].as_f64().unwrap_or(f64::NAN);
        // The noisy round alone is ~100x slower at the tail; its median
        // over rounds is not.
        assert!(ratio < 20.0, "{field}: {shown}");
        let (lo, hi) = (robust["ci_low"].as_f64(), robust["ci_high"].as_f64());
        assert!(lo.unwrap() <= ratio && ratio <= hi.unwrap(), "{shown}");
        assert_eq!(robust["resamples"], 2000, "{shown}");
    }
}
