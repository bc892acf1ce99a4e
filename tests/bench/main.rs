//! `ricochet bench` against real sockets: in-process ricochet servers on
//! port 0 and temp-dir Unix sockets, plus tiny misbehaving servers written
//! here (one corrupts, one resets, one never answers). Each run is well under
//! a second; the whole binary stays a few seconds on two cores.

#[path = "../common/mod.rs"]
mod common;

mod binary;
mod failures;
mod hardening;
mod reports;
mod workloads;

use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use common::ThreadServer;
use ricochet::bench::{self, progress::Silent, BenchConfig};
use ricochet::{Endpoint, Mode, StreamEcho};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn echo_server() -> ThreadServer {
    ThreadServer::ricochet(Mode::Stream(StreamEcho), false)
}

/// Echoes faithfully for the first `clean` bytes of each connection, then
/// flips one bit every `every` bytes.
fn corrupting_server(clean: u64, every: u64) -> ThreadServer {
    ThreadServer::tcp(move |mut s| async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut offset = 0u64;
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
            for (i, b) in buf[..n].iter_mut().enumerate() {
                let at = offset + i as u64;
                if at >= clean && (at - clean) % every == 0 {
                    *b ^= 1;
                }
            }
            offset += n as u64;
            if s.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    })
}

/// Echoes up to `limit` bytes per connection, then resets it (RST).
fn resetting_server(limit: u64) -> ThreadServer {
    ThreadServer::tcp(move |mut s| async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        while let Ok(n) = s.read(&mut buf).await {
            total += n as u64;
            if n == 0 || total > limit {
                break;
            }
            if s.write_all(&buf[..n]).await.is_err() {
                return;
            }
        }
        let _ = s.set_zero_linger();
    })
}

/// Echoes up to `limit` bytes per connection, then keeps reading and
/// discarding without ever answering again.
fn stalling_server(limit: u64) -> ThreadServer {
    ThreadServer::tcp(move |mut s| async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
            let echo = n.min(limit.saturating_sub(total) as usize);
            total += n as u64;
            if echo > 0 && s.write_all(&buf[..echo]).await.is_err() {
                break;
            }
        }
    })
}

/// Echoes faithfully, but once per connection, after `after` bytes, stops
/// for `pause` (a garbage-collection pause, say).
fn pausing_server(after: u64, pause: Duration) -> ThreadServer {
    ThreadServer::tcp(move |mut s| async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0u64;
        let mut paused = false;
        while let Ok(n) = s.read(&mut buf).await {
            if n == 0 {
                break;
            }
            total += n as u64;
            if !paused && total > after {
                paused = true;
                tokio::time::sleep(pause).await;
            }
            if s.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    })
}

/// Reads and discards; never answers.
fn silent_server() -> ThreadServer {
    ThreadServer::tcp(|mut s| async move {
        let mut buf = [0u8; 4096];
        while matches!(s.read(&mut buf).await, Ok(n) if n > 0) {}
    })
}

fn config(targets: Vec<Endpoint>) -> BenchConfig {
    BenchConfig {
        targets,
        connections: 4,
        size: 1024,
        duration: Duration::from_millis(400),
        warmup: Duration::from_millis(100),
        threads: 2,
        timeout: Duration::from_secs(2),
        ..BenchConfig::default()
    }
}

fn run(config: &BenchConfig) -> bench::BenchResults {
    bench::run(config, &mut Silent).expect("bench runs")
}

/// [`common::ricochet`] with a longer bound: a bench run takes a while.
fn ricochet() -> Command {
    let mut cmd = common::ricochet();
    cmd.timeout(Duration::from_secs(20));
    cmd
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn expect(out: &Output, code: i32, stream: &[u8], needles: &[&str]) {
    let shown = format!(
        "stdout: {}\nstderr: {}",
        text(&out.stdout),
        text(&out.stderr)
    );
    assert_eq!(out.status.code(), Some(code), "{shown}");
    for n in needles {
        assert!(text(stream).contains(n), "missing {n:?}; {shown}");
    }
}
