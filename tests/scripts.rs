//! The Python benchmark harness's own tests (`bench/harness/test_*.py`):
//! target checks, where `--quick` writes, and that every script under
//! `bench/` answers `--help` without starting work. Run through cargo so
//! `cargo test` covers them; skipped, with a note, where `python3` is absent.

use std::io::Read;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Far above the suite's usual second or so; a hang must not stall `cargo test`.
const TIMEOUT: Duration = Duration::from_secs(120);

#[test]
fn python_harness_unit_tests() {
    let root = env!("CARGO_MANIFEST_DIR");
    let spawned = Command::new("python3")
        .args([
            "-m",
            "unittest",
            "discover",
            "-s",
            "bench/harness",
            "-p",
            "test_*.py",
        ])
        .current_dir(root)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            eprintln!("skipping the Python harness tests: python3 not found");
            return;
        }
        Err(e) => panic!("cannot run python3: {e}"),
    };
    // Drain both pipes on threads so a chatty failure cannot fill one and
    // block the child while we wait for it.
    let drain = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = drain(Box::new(child.stdout.take().unwrap()));
    let stderr = drain(Box::new(child.stderr.take().unwrap()));
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if start.elapsed() > TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let (out, err) = (stdout.join().unwrap(), stderr.join().unwrap());
    match status {
        Some(s) if s.success() => {}
        Some(s) => panic!("python3 -m unittest failed ({s}):\n{out}{err}"),
        None => panic!("python3 -m unittest still running after {TIMEOUT:?}; killed:\n{out}{err}"),
    }
}
