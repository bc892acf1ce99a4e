//! Servers under test as child processes: `ricochet serve` (with extra
//! flags, environment or a lowered fd limit through [`ServeCmd`]) or the
//! Python tutorial server. Each learns where it listens from its
//! "listening on" lines and is killed on drop.

use std::collections::HashSet;
use std::ffi::OsString;
use std::io::{BufRead, BufReader};
use std::net::{IpAddr, ToSocketAddrs};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{bin, interop_script, WAIT};

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

    /// Kills the process (if still running) and reaps it.
    pub fn kill(&mut self) -> ExitStatus {
        if let Some(s) = self.try_status() {
            return s;
        }
        let _ = self.child.kill();
        let status = self.child.wait().expect("wait for killed child");
        self.status = Some(status);
        status
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
    /// announced every listener. [`ServeCmd`] for more than flags.
    pub fn ricochet(endpoints: &[&str], flags: &[&str]) -> ServerProc {
        ServeCmd::new(endpoints).flags(flags).spawn()
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
        // Settings given to `cmd` stay; inherited ones do not leak in.
        let explicit: HashSet<OsString> = cmd.get_envs().map(|(k, _)| k.to_owned()).collect();
        for key in inherited_ricochet_vars() {
            if !explicit.contains(&key) {
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

/// `ricochet serve` with more than endpoints and flags: environment
/// variables, or a lowered open-files limit (`ulimit -n`) to drive the
/// server into EMFILE.
///
/// `ServeCmd::new(&["tcp://127.0.0.1:0"]).flags(&["--grace", "0"]).fd_limit(32).spawn()`
pub struct ServeCmd {
    endpoints: Vec<String>,
    flags: Vec<String>,
    envs: Vec<(String, String)>,
    fd_limit: Option<(u32, u32)>,
}

impl ServeCmd {
    pub fn new(endpoints: &[&str]) -> ServeCmd {
        ServeCmd {
            endpoints: endpoints.iter().map(|e| e.to_string()).collect(),
            flags: Vec::new(),
            envs: Vec::new(),
            fd_limit: None,
        }
    }

    /// Appends flags after the endpoints.
    pub fn flags(mut self, flags: &[&str]) -> ServeCmd {
        self.flags.extend(flags.iter().map(|f| f.to_string()));
        self
    }

    /// Sets an environment variable (also a `RICOCHET_*` one, which is
    /// otherwise never inherited).
    pub fn env(mut self, key: &str, value: &str) -> ServeCmd {
        self.envs.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Runs the server under `ulimit -n LIMIT` (through `sh`, which then
    /// execs ricochet, so the process and its pid are ricochet's).
    pub fn fd_limit(mut self, limit: u32) -> ServeCmd {
        self.fd_limit = Some((limit, limit));
        self
    }

    /// Runs the server with a soft open-file limit below the hard one.
    pub fn fd_limits(mut self, soft: u32, hard: u32) -> ServeCmd {
        self.fd_limit = Some((soft, hard));
        self
    }

    /// Spawns the server and waits until it has announced every listener.
    pub fn spawn(self) -> ServerProc {
        let expected = self.endpoints.iter().map(|e| expected_listeners(e)).sum();
        self.spawn_expecting(expected)
    }

    /// Spawns the server and waits for `expected` "listening on" lines
    /// (for endpoints that do not come from the command line).
    pub fn spawn_expecting(self, expected: usize) -> ServerProc {
        let mut cmd = match self.fd_limit {
            None => Command::new(bin()),
            Some((soft, hard)) => {
                let mut sh = Command::new("sh");
                sh.args([
                    "-c",
                    r#"ulimit -n "$2" && ulimit -S -n "$1" && shift 2 && exec "$@""#,
                    "sh",
                ])
                .arg(soft.to_string())
                .arg(hard.to_string())
                .arg(bin());
                sh
            }
        };
        cmd.arg("serve").args(&self.endpoints).args(&self.flags);
        for (key, value) in &self.envs {
            cmd.env(key, value);
        }
        let mut server = ServerProc::spawn(cmd, expected);
        server.acknowledges_signals = true;
        server
    }
}

/// The `RICOCHET_*` variables of the test process, which a server or
/// command under test must not inherit.
pub fn inherited_ricochet_vars() -> impl Iterator<Item = OsString> {
    std::env::vars_os()
        .map(|(key, _)| key)
        .filter(|key| key.to_string_lossy().starts_with("RICOCHET_"))
}
