//! `ricochet bench` against real sockets: in-process ricochet servers on
//! port 0 and temp-dir Unix sockets, plus tiny misbehaving servers written
//! here (one corrupts, one resets, one never answers). Each run is well under
//! a second; the whole file stays a few seconds on two cores.

use std::future::Future;
use std::process::Output;
use std::time::Duration;

use assert_cmd::Command;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use ricochet::bench::report::json::{JsonReport, SCHEMA_VERSION};
use ricochet::bench::report::{HdrLog, Json, Report, Svg, Text};
use ricochet::bench::{
    self, progress::Silent, BenchConfig, BenchError, ErrorKind, PayloadKind, SourceIps, Workload,
};
use ricochet::{Endpoint, Listener, Mode, OnceEcho, Server, StreamEcho};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// A server running on its own thread until dropped.
struct TestServer {
    endpoint: Endpoint,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
    _dir: Option<tempfile::TempDir>,
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        if let Some(t) = self.thread.take() {
            t.join().expect("server thread");
        }
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// `ricochet`'s own server in `mode`, on TCP port 0 or a temp Unix socket.
fn ricochet_server(mode: Mode, unix: bool) -> TestServer {
    let (stop, stopped) = oneshot::channel::<()>();
    let (ready_tx, ready_rx) = std::sync::mpsc::channel();
    let dir = unix.then(|| tempfile::tempdir().unwrap());
    let path = dir.as_ref().map(|d| d.path().join("echo.sock"));
    let thread = std::thread::spawn(move || {
        runtime().block_on(async move {
            let listener = match &path {
                Some(p) => Listener::adopt_unix(std::os::unix::net::UnixListener::bind(p).unwrap())
                    .unwrap(),
                None => Listener::adopt_tcp(std::net::TcpListener::bind("127.0.0.1:0").unwrap())
                    .unwrap(),
            };
            let server = Server::from_listeners([listener]).grace(Duration::from_millis(100));
            ready_tx
                .send(server.local_endpoints().unwrap()[0].clone())
                .unwrap();
            server
                .serve(mode, async {
                    let _ = stopped.await;
                })
                .await;
        })
    });
    TestServer {
        endpoint: ready_rx.recv().unwrap(),
        stop: Some(stop),
        thread: Some(thread),
        _dir: dir,
    }
}

fn echo_server() -> TestServer {
    ricochet_server(Mode::Stream(StreamEcho), false)
}

/// A raw TCP server on port 0 running `handler` for every connection.
fn custom_server<F, Fut>(handler: F) -> TestServer
where
    F: Fn(TcpStream) -> Fut + Send + 'static,
    Fut: Future<Output = ()> + Send + 'static,
{
    let (stop, mut stopped) = oneshot::channel::<()>();
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = Endpoint::from(std_listener.local_addr().unwrap());
    std_listener.set_nonblocking(true).unwrap();
    let thread = std::thread::spawn(move || {
        runtime().block_on(async move {
            let listener = tokio::net::TcpListener::from_std(std_listener).unwrap();
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    accepted = listener.accept() => {
                        if let Ok((s, _)) = accepted {
                            tokio::spawn(handler(s));
                        }
                    }
                }
            }
        })
    });
    TestServer {
        endpoint,
        stop: Some(stop),
        thread: Some(thread),
        _dir: None,
    }
}

/// Echoes faithfully for the first `clean` bytes of each connection, then
/// flips one bit every `every` bytes.
fn corrupting_server(clean: u64, every: u64) -> TestServer {
    custom_server(move |mut s| async move {
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
fn resetting_server(limit: u64) -> TestServer {
    custom_server(move |mut s| async move {
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
fn stalling_server(limit: u64) -> TestServer {
    custom_server(move |mut s| async move {
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
fn pausing_server(after: u64, pause: Duration) -> TestServer {
    custom_server(move |mut s| async move {
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
fn silent_server() -> TestServer {
    custom_server(|mut s| async move {
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

#[test]
fn closed_loop_over_tcp_measures_and_verifies() {
    let server = echo_server();
    let r = run(&config(vec![server.endpoint.clone()]));
    let total = r.targets[0].total();
    assert!(total.messages > 100, "only {} messages", total.messages);
    assert_eq!(total.errors.total(), 0, "{:?}", total.errors);
    assert_eq!(total.histogram.len(), total.messages);
    assert_eq!(total.bytes, total.messages * 1024);
    assert_eq!(total.connections, 4);
    assert!(total.latency_at(50.0) > 0);
    assert_eq!(r.verification_errors(), 0);
    let text = String::from_utf8(Text.render(&r).unwrap()).unwrap();
    assert!(
        text.contains("closed loop") && text.contains("p99.99"),
        "{text}"
    );
}

#[test]
fn closed_loop_over_unix_with_pipeline_and_random_payload() {
    let server = ricochet_server(Mode::Stream(StreamEcho), true);
    let r = run(&BenchConfig {
        pipeline: 4,
        size: 100,
        payload: PayloadKind::Random,
        ..config(vec![server.endpoint.clone()])
    });
    let total = r.targets[0].total();
    assert!(total.messages > 100, "only {} messages", total.messages);
    assert_eq!(total.messages % 4, 0, "pipelined batches complete whole");
    assert_eq!(total.errors.total(), 0, "{:?}", total.errors);
}

#[test]
fn open_loop_keeps_its_schedule() {
    let server = echo_server();
    let r = run(&BenchConfig {
        rate: Some(2000.0),
        duration: Duration::from_millis(500),
        ..config(vec![server.endpoint.clone()])
    });
    let total = r.targets[0].total();
    // 2000/s for 0.5 s: about 1000 messages, however fast the server is.
    assert!(
        (700..=1300).contains(&total.messages),
        "{} messages",
        total.messages
    );
    assert_eq!(total.errors.total(), 0, "{:?}", total.errors);
    let text = String::from_utf8(Text.render(&r).unwrap()).unwrap();
    assert!(
        text.contains("open loop") && text.contains("intended"),
        "{text}"
    );
}

#[test]
fn open_loop_charges_a_stall_to_every_message_it_delayed() {
    // One connection, 1000 messages/s, and a 200 ms pause early on.
    let server = pausing_server(50 * 1024, Duration::from_millis(200));
    let base = BenchConfig {
        connections: 1,
        threads: 1,
        warmup: Duration::ZERO,
        duration: Duration::from_millis(600),
        ..config(vec![server.endpoint.clone()])
    };
    let open = run(&BenchConfig {
        rate: Some(1000.0),
        ..base.clone()
    });
    let open = open.targets[0].total();
    // Every message scheduled during the pause waited for it: ~200 of ~600
    // messages, so a tenth of them waited more than 50 ms.
    assert!(
        open.latency_at(100.0) >= 190_000_000,
        "{}",
        open.latency_at(100.0)
    );
    assert!(
        open.latency_at(90.0) >= 50_000_000,
        "{}",
        open.latency_at(90.0)
    );
    assert!(open.messages >= 400, "{} messages", open.messages);
    // The closed loop sees the same pause as one slow message.
    let closed = run(&base);
    let closed = closed.targets[0].total();
    assert!(closed.latency_at(100.0) >= 190_000_000);
    assert!(
        closed.latency_at(90.0) < 50_000_000,
        "{}",
        closed.latency_at(90.0)
    );
}

#[test]
fn verification_catches_a_corrupting_server() {
    // Clean for the probe (2 × 1 KiB), corrupt soon after.
    let server = corrupting_server(4096, 10_000);
    let r = run(&config(vec![server.endpoint.clone()]));
    let total = r.targets[0].total();
    assert!(
        total.errors.get(ErrorKind::Mismatch) > 0,
        "{:?}",
        total.errors
    );
    assert!(r.verification_errors() > 0);
    assert!(total.messages > 0, "clean messages still count");
    let text = String::from_utf8(Text.render(&r).unwrap()).unwrap();
    assert!(text.contains("VERIFICATION FAILED"), "{text}");
}

#[test]
fn a_server_that_corrupts_everything_is_named_not_an_echo_server() {
    let server = corrupting_server(0, 7);
    let err = bench::run(&config(vec![server.endpoint.clone()]), &mut Silent).unwrap_err();
    assert!(
        matches!(
            err,
            BenchError::NotEcho {
                reason: ricochet::echo::EchoError::Mismatch { offset: 0, .. },
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&server.endpoint.to_string())
            && msg.contains("does not look like an echo server"),
        "{msg}"
    );
}

#[test]
fn resets_are_counted_apart_from_verification() {
    let server = resetting_server(8 * 1024);
    let r = run(&config(vec![server.endpoint.clone()]));
    let total = r.targets[0].total();
    assert!(total.errors.get(ErrorKind::Reset) > 0, "{:?}", total.errors);
    assert_eq!(total.errors.get(ErrorKind::Mismatch), 0);
    assert!(total.messages > 0);
    assert!(total.connections > 4, "reconnects after each reset");
}

#[test]
fn timeouts_are_counted_when_echoes_stop() {
    let server = stalling_server(8 * 1024);
    for rate in [None, Some(2000.0)] {
        let r = run(&BenchConfig {
            rate,
            timeout: Duration::from_millis(100),
            warmup: Duration::ZERO,
            duration: Duration::from_millis(500),
            ..config(vec![server.endpoint.clone()])
        });
        let total = r.targets[0].total();
        assert!(
            total.errors.get(ErrorKind::Timeout) >= 4,
            "{rate:?}: {:?}",
            total.errors
        );
        assert_eq!(
            total.errors.verification(),
            0,
            "{rate:?}: {:?}",
            total.errors
        );
        assert!(total.messages > 0);
    }
}

#[test]
fn one_shot_and_connect_only_count_connections() {
    let server = echo_server();
    // Connect-only never waits for the server, so a closed loop would just
    // overflow the accept backlog; pace it with the open loop instead.
    for (workload, rate) in [
        (Workload::OneShot, None),
        (Workload::ConnectOnly, Some(2000.0)),
    ] {
        let r = run(&BenchConfig {
            workload,
            rate,
            duration: Duration::from_millis(300),
            ..config(vec![server.endpoint.clone()])
        });
        let total = r.targets[0].total();
        assert!(
            total.messages > 10,
            "{workload:?}: {} done, {:?}",
            total.messages,
            total.errors
        );
        assert!(total.connections >= total.messages);
        assert_eq!(total.errors.total(), 0, "{workload:?}: {:?}", total.errors);
        // Loopback target: connections come from 127.0.0.2-127.0.0.65.
        assert_eq!(r.sources[0].len(), 64);
    }
    let r = run(&BenchConfig {
        workload: Workload::OneShot,
        source_ips: SourceIps::None,
        duration: Duration::from_millis(100),
        warmup: Duration::ZERO,
        ..config(vec![server.endpoint.clone()])
    });
    assert!(r.sources[0].is_empty());
    assert!(r.targets[0].total().messages > 0);
}

#[test]
fn a_one_message_server_is_pointed_to_one_shot() {
    let server = ricochet_server(
        Mode::Once(OnceEcho {
            max_read: 64 * 1024,
            delay: None,
        }),
        false,
    );
    let err = bench::run(&config(vec![server.endpoint.clone()]), &mut Silent).unwrap_err();
    assert!(
        matches!(err, BenchError::OneMessageServer { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("--one-shot"));
    let r = run(&BenchConfig {
        workload: Workload::OneShot,
        duration: Duration::from_millis(200),
        ..config(vec![server.endpoint.clone()])
    });
    assert!(r.targets[0].total().messages > 0);
}

#[test]
fn an_unreachable_target_fails_fast() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = bench::run(&config(vec![Endpoint::tcp("127.0.0.1", port)]), &mut Silent).unwrap_err();
    assert!(matches!(err, BenchError::Connect(_)), "{err:?}");
}

#[test]
fn json_report_round_trips_through_its_schema() {
    let server = echo_server();
    let r = run(&BenchConfig {
        duration: Duration::from_millis(200),
        ..config(vec![server.endpoint.clone()])
    });
    let json = Json.render(&r).unwrap();
    let parsed: JsonReport = serde_json::from_slice(&json).unwrap();
    assert_eq!(parsed.schema_version, SCHEMA_VERSION);
    assert_eq!(parsed.tool, "ricochet");
    assert_eq!(parsed.config.loop_kind, "closed");
    assert_eq!(parsed.config.connections, 4);
    let total = r.targets[0].total();
    let t = &parsed.targets[0];
    assert_eq!(t.endpoint, server.endpoint.to_string());
    assert_eq!(t.total.messages, total.messages);
    assert_eq!(t.total.latency_ns.count, total.messages);
    assert_eq!(t.total.latency_ns.p99, total.latency_at(99.0));
    assert_eq!(t.total.errors.mismatch, 0);
    assert_eq!(t.rounds.len(), 1);
    assert!(parsed.comparison.is_none());
    assert!(!parsed.verification_failed);
    // Serialising what was read gives back the same document.
    let again: JsonReport = serde_json::from_slice(&serde_json::to_vec(&parsed).unwrap()).unwrap();
    assert_eq!(
        again.targets[0].total.messages,
        parsed.targets[0].total.messages
    );
    assert_eq!(again.config, parsed.config);
}

#[test]
fn comparison_interleaves_rounds_and_reports_ratios() {
    let tcp = echo_server();
    let unix = ricochet_server(Mode::Stream(StreamEcho), true);
    let r = run(&BenchConfig {
        rounds: 2,
        duration: Duration::from_millis(150),
        warmup: Duration::from_millis(50),
        ..config(vec![tcp.endpoint.clone(), unix.endpoint.clone()])
    });
    // Interleaved: A1 B1 A2 B2.
    let starts: Vec<Duration> = [(0, 0), (1, 0), (0, 1), (1, 1)]
        .iter()
        .map(|&(t, round)| r.targets[t].rounds[round].started)
        .collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
    let c = r.comparison.as_ref().expect("two targets compare");
    assert_eq!(c.rounds, 2);
    let base = c.targets[0].ratio_messages_per_sec.unwrap();
    assert!((base.mean - 1.0).abs() < 1e-9);
    let b = c.targets[1].ratio_messages_per_sec.unwrap();
    assert!(b.mean > 0.0 && b.interval.is_some());
    // Tail latency is compared too: p99.9 is the mean of the rounds' p99.9.
    let p999: Vec<f64> = r.targets[1]
        .rounds
        .iter()
        .map(|round| round.stats.latency_at(99.9) as f64)
        .collect();
    assert!((c.targets[1].p99_9_ns.mean - (p999[0] + p999[1]) / 2.0).abs() < 1e-6);
    assert!(c.targets[1].ratio_p99_9.is_some());
    let text = String::from_utf8(Text.render(&r).unwrap()).unwrap();
    assert!(
        text.contains("Comparison over 2 interleaved rounds"),
        "{text}"
    );
    let header = text
        .lines()
        .find(|l| l.contains("ratio") && l.contains("p50"))
        .unwrap();
    assert!(header.contains("p99.9"), "{text}");
    let json: JsonReport = serde_json::from_slice(&Json.render(&r).unwrap()).unwrap();
    let jc = json.comparison.expect("comparison in JSON");
    assert_eq!(jc.targets[1].p99_9_ns.mean, c.targets[1].p99_9_ns.mean);
    assert!(jc.targets[1].ratio_p99_9.is_some());

    // The HdrHistogram log holds one interval per target and round, and
    // reads back to the same counts.
    let log = HdrLog.render(&r).unwrap();
    let mut deserializer = Deserializer::new();
    let mut per_tag = std::collections::HashMap::<String, u64>::new();
    let mut intervals = 0;
    for entry in IntervalLogIterator::new(&log) {
        if let LogEntry::Interval(h) = entry.expect("log parses") {
            let bytes = base64_decode(h.encoded_histogram());
            let hist: Histogram<u64> = deserializer.deserialize(&mut bytes.as_slice()).unwrap();
            *per_tag.entry(h.tag().unwrap().to_string()).or_default() += hist.len();
            intervals += 1;
        }
    }
    assert_eq!(intervals, 4);
    for t in &r.targets {
        assert_eq!(per_tag[&t.endpoint.to_string()], t.total().histogram.len());
    }

    // Two machines' logs merge into exactly twice the counts, per target
    // and overall, in the library and through `bench --merge`.
    let dir = tempfile::tempdir().unwrap();
    let logs: Vec<_> = ["a.hlog", "b.hlog"]
        .iter()
        .map(|n| dir.path().join(n))
        .collect();
    for path in &logs {
        std::fs::write(path, &log).unwrap();
    }
    let merged = ricochet::bench::merge::merge_logs(&logs).unwrap();
    assert_eq!(merged.intervals, 8);
    let total: u64 = r.targets.iter().map(|t| t.total().histogram.len()).sum();
    assert_eq!(merged.all.len(), 2 * total);
    for t in &r.targets {
        assert_eq!(
            merged.per_tag[&t.endpoint.to_string()].len(),
            2 * t.total().histogram.len()
        );
    }
    let out = ricochet()
        .arg("bench")
        .arg("--merge")
        .args(&logs)
        .output()
        .unwrap();
    expect(
        &out,
        0,
        &out.stdout,
        &["all", "p99.9", "8 intervals from 2 logs"],
    );
    let not_a_log = dir.path().join("notes.txt");
    std::fs::write(&not_a_log, "hello\n").unwrap();
    let out = ricochet()
        .arg("bench")
        .arg("--merge")
        .arg(&not_a_log)
        .output()
        .unwrap();
    expect(&out, 1, &out.stderr, &["notes.txt"]);

    let svg = String::from_utf8(Svg.render(&r).unwrap()).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("99%"),
        "{}",
        &svg[..200]
    );
    assert!(svg.contains(&tcp.endpoint.to_string()));
}

/// Standard base64, as the interval log encodes histograms.
fn base64_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

// --- through the real binary ---------------------------------------------

fn ricochet() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_ricochet"));
    cmd.env_remove("RICOCHET_LOG")
        .timeout(Duration::from_secs(20));
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
