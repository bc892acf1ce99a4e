//! Shared helpers for the integration tests: spawn `ricochet serve` (or the
//! Python tutorial server) and learn where it listens from its "listening on"
//! lines, kill it on drop, connect to endpoint strings over real sockets, and
//! move large verifiable payloads.
//!
//! Every wait here is bounded: a hung server fails the test with its stderr
//! instead of hanging the suite.
#![allow(dead_code)] // each test binary uses a different subset

use std::collections::HashSet;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, UnixStream};
use tokio::sync::oneshot;

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

/// How many "listening on" lines serving `endpoint` should print: one per
/// address a host name resolves to, one otherwise.
pub fn expected_listeners(endpoint: &str) -> usize {
    let Some(hostport) = endpoint.strip_prefix("tcp://").or_else(|| {
        (!endpoint.starts_with("unix:") && !endpoint.starts_with('/')).then_some(endpoint)
    }) else {
        return 1;
    };
    if hostport.starts_with('[') {
        return 1;
    }
    let Some((host, _)) = hostport.rsplit_once(':') else {
        return 1;
    };
    if host.parse::<IpAddr>().is_ok() {
        return 1;
    }
    let addrs: HashSet<_> = (host, 0)
        .to_socket_addrs()
        .map(|a| a.collect())
        .unwrap_or_default();
    addrs.len().max(1)
}

/// A child process that is killed and reaped when dropped, so a failing
/// test never leaves a server behind.
pub struct ChildGuard {
    child: Child,
    status: Option<ExitStatus>,
}

impl ChildGuard {
    pub fn new(child: Child) -> Self {
        ChildGuard {
            child,
            status: None,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal by name ("TERM", "INT", "KILL").
    pub fn signal(&self, sig: &str) {
        let status = Command::new("kill")
            .args(["-s", sig, &self.pid().to_string()])
            .status()
            .expect("run kill(1)");
        assert!(status.success(), "kill -s {sig} {} failed", self.pid());
    }

    /// The exit status if the process has exited.
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none() {
            self.status = self.child.try_wait().expect("try_wait");
        }
        self.status
    }

    /// Waits (polling, bounded by `limit`) for the process to exit.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(s) = self.try_status() {
                return Some(s);
            }
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A field of /proc/PID/status in KiB (e.g. "VmRSS", "VmHWM").
    pub fn proc_status_kib(&self, field: &str) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid()))
            .expect("read /proc/PID/status");
        status
            .lines()
            .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .unwrap_or_else(|| panic!("no {field} in /proc/{}/status", self.pid()))
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        if self.try_status().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// A running server process (ricochet or the Python tutorial server) and
/// the endpoints it announced on stdout.
pub struct ServerProc {
    pub proc: ChildGuard,
    /// One entry per "listening on ENDPOINT" line, in order.
    pub endpoints: Vec<String>,
    /// Further stdout lines (the Python server prints what it receives).
    lines: mpsc::Receiver<String>,
    /// Whether the server logs "SIGTERM received" (ricochet does).
    acknowledges_signals: bool,
    stderr: tempfile::NamedTempFile,
}

impl ServerProc {
    /// Runs `ricochet serve ENDPOINTS... FLAGS...` and waits until it has
    /// announced every listener.
    pub fn ricochet(endpoints: &[&str], flags: &[&str]) -> ServerProc {
        let expected = endpoints.iter().map(|e| expected_listeners(e)).sum();
        let mut cmd = Command::new(bin());
        cmd.arg("serve").args(endpoints).args(flags);
        let mut server = ServerProc::spawn(cmd, expected);
        server.acknowledges_signals = true;
        server
    }

    /// Runs `python3 interop/tutorial_server.py ARGS...` and waits for its
    /// readiness line.
    pub fn python(args: &[&str]) -> ServerProc {
        let mut cmd = Command::new("python3");
        cmd.arg(interop_script("tutorial_server.py"))
            .args(args)
            .env("PYTHONUTF8", "1")
            .env("PYTHONDONTWRITEBYTECODE", "1");
        ServerProc::spawn(cmd, 1)
    }

    /// Spawns `cmd` and waits for `expected` "listening on" lines.
    pub fn spawn(mut cmd: Command, expected: usize) -> ServerProc {
        let stderr = tempfile::NamedTempFile::new().expect("temp file for stderr");
        for (key, _) in std::env::vars_os() {
            if key.to_string_lossy().starts_with("RICOCHET_") {
                cmd.env_remove(key);
            }
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr.reopen().expect("reopen stderr file"))
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {cmd:?}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let mut server = ServerProc {
            proc: ChildGuard::new(child),
            endpoints: Vec::new(),
            lines: rx,
            acknowledges_signals: false,
            stderr,
        };
        while server.endpoints.len() < expected {
            let line = server.next_line();
            match line.strip_prefix("listening on ") {
                Some(ep) => server.endpoints.push(ep.trim().to_owned()),
                None => panic!("unexpected line before readiness: {line:?}"),
            }
        }
        server
    }

    /// The first endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoints[0]
    }

    /// The next stdout line, waiting at most [`WAIT`].
    pub fn next_line(&mut self) -> String {
        match self.lines.recv_timeout(WAIT) {
            Ok(line) => line,
            Err(e) => panic!(
                "no stdout line from server ({e:?}); exit status {:?}; stderr:\n{}",
                self.proc.try_status(),
                self.stderr()
            ),
        }
    }

    /// Everything the server wrote to stderr so far.
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr.path()).unwrap_or_default()
    }

    /// Sends `sig` ("TERM", "INT") once and, for ricochet, returns once its
    /// log says the signal was received (bounded by [`WAIT`]).
    pub fn signal(&mut self, sig: &str) {
        self.proc.signal(sig);
        if !self.acknowledges_signals {
            return;
        }
        let ack = format!("SIG{sig} received");
        let deadline = Instant::now() + WAIT;
        while Instant::now() < deadline {
            if self.stderr().contains(&ack) || self.proc.try_status().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        panic!(
            "ricochet never acknowledged SIG{sig}; stderr:\n{}",
            self.stderr()
        );
    }

    /// Sends `sig` and waits for the process to exit.
    pub fn stop(&mut self, sig: &str) -> ExitStatus {
        self.signal(sig);
        self.expect_exit()
    }

    /// Waits for the process to exit on its own.
    pub fn expect_exit(&mut self) -> ExitStatus {
        match self.proc.wait_exit(WAIT) {
            Some(s) => s,
            None => panic!(
                "server did not exit within {WAIT:?}; stderr:\n{}",
                self.stderr()
            ),
        }
    }
}

/// A client stream of either transport.
pub trait Io: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Io for T {}

/// Connects to an endpoint as printed by "listening on": `tcp://H:P` or
/// `unix:/PATH`. Uses plain tokio sockets, not ricochet's client code.
pub async fn connect(endpoint: &str) -> std::io::Result<Box<dyn Io>> {
    let fut = async {
        if let Some(path) = endpoint.strip_prefix("unix:") {
            Ok(Box::new(UnixStream::connect(path).await?) as Box<dyn Io>)
        } else {
            let hostport = endpoint.strip_prefix("tcp://").unwrap_or(endpoint);
            Ok(Box::new(TcpStream::connect(hostport).await?) as Box<dyn Io>)
        }
    };
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("connecting to {endpoint} took longer than {WAIT:?}"))
}

/// Connects, or panics with the endpoint in the message.
pub async fn must_connect(endpoint: &str) -> Box<dyn Io> {
    connect(endpoint)
        .await
        .unwrap_or_else(|e| panic!("connect {endpoint}: {e}"))
}

/// Runs `fut` under [`WAIT`], panicking with `what` if it takes longer.
pub async fn bounded<F: std::future::Future>(what: &str, fut: F) -> F::Output {
    tokio::time::timeout(WAIT, fut)
        .await
        .unwrap_or_else(|_| panic!("{what}: no result within {WAIT:?}"))
}

/// The RFC 862 exchange: write `payload` while reading, half-close, read
/// to EOF. Returns everything received.
pub async fn exchange(endpoint: &str, payload: &[u8]) -> Vec<u8> {
    let stream = must_connect(endpoint).await;
    let (mut rd, mut wr) = tokio::io::split(stream);
    let send = async {
        wr.write_all(payload).await.expect("write payload");
        wr.shutdown().await.expect("half-close");
    };
    let recv = async {
        let mut echo = Vec::with_capacity(payload.len());
        rd.read_to_end(&mut echo).await.expect("read echo");
        echo
    };
    let ((), echo) = bounded(&format!("exchange with {endpoint}"), async {
        tokio::join!(send, recv)
    })
    .await;
    echo
}

/// Reads until EOF, failing if it takes longer than `limit`.
pub async fn read_to_eof(rd: &mut (impl AsyncRead + Unpin), limit: Duration) -> Vec<u8> {
    let mut out = Vec::new();
    tokio::time::timeout(limit, rd.read_to_end(&mut out))
        .await
        .unwrap_or_else(|_| panic!("no EOF within {limit:?} (got {} bytes)", out.len()))
        .expect("read to EOF");
    out
}

/// Deterministic bytes that differ at every position (8-byte words are a
/// hash of their index), so a dropped, repeated or reordered chunk shows up
/// as a mismatch at a precise offset. `fill` writes the bytes for
/// `[offset, offset + buf.len())`.
pub fn fill_pattern(offset: u64, buf: &mut [u8]) {
    fn word(i: u64) -> [u8; 8] {
        // splitmix64
        let mut z = i.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)).to_le_bytes()
    }
    let mut pos = 0;
    let mut at = offset;
    while pos < buf.len() {
        let w = word(at / 8);
        let skip = (at % 8) as usize;
        let n = (8 - skip).min(buf.len() - pos);
        buf[pos..pos + n].copy_from_slice(&w[skip..skip + n]);
        pos += n;
        at += n as u64;
    }
}

/// `len` pattern bytes from offset 0.
pub fn pattern(len: usize) -> Vec<u8> {
    let mut v = vec![0; len];
    fill_pattern(0, &mut v);
    v
}

/// Progress of a [`pattern_roundtrip`], readable while it runs.
#[derive(Default)]
pub struct Progress {
    pub sent: AtomicU64,
    pub received: AtomicU64,
}

impl Progress {
    pub fn sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }
    pub fn received(&self) -> u64 {
        self.received.load(Ordering::Relaxed)
    }
}

/// Streams `total` pattern bytes through `stream` from one task while
/// another reads and checks every echoed byte against the pattern, then
/// half-closes and expects EOF right after the last byte. Returns the
/// number of bytes verified; an error says where the echo went wrong.
pub async fn pattern_roundtrip(
    stream: Box<dyn Io>,
    total: u64,
    progress: Arc<Progress>,
) -> Result<u64, String> {
    pattern_roundtrip_gated(stream, total, progress, None).await
}

/// [`pattern_roundtrip`] whose upload stops after `gate.0` bytes until
/// `gate.1` fires, so a test can act while a transfer is certainly in
/// flight.
pub async fn pattern_roundtrip_gated(
    stream: Box<dyn Io>,
    total: u64,
    progress: Arc<Progress>,
    gate: Option<(u64, oneshot::Receiver<()>)>,
) -> Result<u64, String> {
    const CHUNK: usize = 256 * 1024;
    let (mut rd, mut wr) = tokio::io::split(stream);
    let upload = {
        let progress = progress.clone();
        tokio::spawn(async move {
            let mut buf = vec![0; CHUNK];
            let mut off = 0u64;
            let mut gate = gate;
            while off < total {
                if let Some((at, _)) = &gate {
                    if off >= *at {
                        let (_, open) = gate.take().expect("gate");
                        open.await.map_err(|_| "gate dropped".to_string())?;
                    }
                }
                let mut n = CHUNK.min((total - off) as usize);
                if let Some((at, _)) = &gate {
                    n = n.min((*at - off) as usize);
                }
                fill_pattern(off, &mut buf[..n]);
                wr.write_all(&buf[..n])
                    .await
                    .map_err(|e| format!("write at {off}: {e}"))?;
                off += n as u64;
                progress.sent.store(off, Ordering::Relaxed);
            }
            wr.shutdown()
                .await
                .map_err(|e| format!("half-close: {e}"))?;
            Ok::<_, String>(wr)
        })
    };
    let mut buf = vec![0; CHUNK];
    let mut want = vec![0; CHUNK];
    let mut off = 0u64;
    loop {
        let n = rd
            .read(&mut buf)
            .await
            .map_err(|e| format!("read at {off}: {e}"))?;
        if n == 0 {
            break;
        }
        if off + n as u64 > total {
            return Err(format!("{} bytes more than sent", off + n as u64 - total));
        }
        fill_pattern(off, &mut want[..n]);
        if buf[..n] != want[..n] {
            let i = (0..n).find(|&i| buf[i] != want[i]).unwrap_or(0);
            return Err(format!("echo differs at byte {}", off + i as u64));
        }
        off += n as u64;
        progress.received.store(off, Ordering::Relaxed);
    }
    // Keep the write half alive until EOF so the socket is not torn down.
    let _wr = upload.await.map_err(|e| format!("upload task: {e}"))??;
    if off != total {
        return Err(format!("truncated echo: EOF after {off} of {total} bytes"));
    }
    Ok(off)
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
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("RICOCHET_") {
            cmd.env_remove(key);
        }
    }
    cmd.timeout(WAIT);
    cmd
}

/// Polls `cond` every 10 ms until it holds, for at most [`WAIT`]. For
/// conditions with no event to wait on (a listener closing, a file going).
pub async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + WAIT;
    while !cond() {
        assert!(
            Instant::now() < deadline,
            "{what}: still not true after {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

/// Waits (polling, bounded) until nothing accepts connections at
/// `endpoint` any more.
pub async fn until_refused(endpoint: &str) {
    let deadline = Instant::now() + WAIT;
    loop {
        match connect(endpoint).await {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::ConnectionRefused | std::io::ErrorKind::NotFound
                ) =>
            {
                return
            }
            other => {
                drop(other);
                assert!(
                    Instant::now() < deadline,
                    "{endpoint} still accepts connections after {WAIT:?}"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    }
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

impl ChildGuard {
    /// CPU time used so far (user + system), in clock ticks.
    pub fn cpu_ticks(&self) -> u64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid()))
            .expect("read /proc/PID/stat");
        // Fields after the parenthesised command name; utime and stime are
        // the 14th and 15th fields of the whole line.
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let fields: Vec<&str> = rest.split(' ').collect();
        fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
    }
}
