//! `ricochet serve`: flags and environment to a [`ServeConfig`], then
//! [`ricochet::server::run`] until a signal.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use ricochet::config::{parse_unix_mode, RuntimeKind, DEFAULT_MAX_CONNS};
use ricochet::handler::line::DEFAULT_MAX_LINE;
use ricochet::{Endpoint, LineEcho, ListenerConfig, Mode, OnceEcho, ServeConfig, StreamEcho};

use ricochet::units::{UnitError, MAX_DURATION};

use super::{duration_in, size_in};

/// Largest `--max-read`.
const MAX_READ: usize = 16 << 20;
/// Largest `--max-line`.
const MAX_LINE: usize = 64 << 20;

/// Options for `ricochet serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen; several allowed. Without any, the comma-separated
    /// list in RICOCHET_LISTEN, else tcp://localhost:1234.
    pub endpoints: Vec<Endpoint>,

    /// How to echo: every byte until EOF, one read then close, or by line.
    #[arg(long, value_enum, default_value_t = ModeName::Stream, env = "RICOCHET_MODE")]
    pub mode: ModeName,

    /// once: largest single read, 1 byte to 16MiB (e.g. 1024, 4KiB)
    /// [default: 1024]
    #[arg(long, env = "RICOCHET_MAX_READ", value_parser = size_in(1..=MAX_READ))]
    pub max_read: Option<usize>,

    /// once: pause before answering, up to 365days (the tutorial sleeps 1s).
    #[arg(long, value_parser = duration_in(Duration::ZERO..=MAX_DURATION), env = "RICOCHET_DELAY")]
    pub delay: Option<Duration>,

    /// line: longest accepted line, 1 byte to 64MiB (e.g. 4096, 64KiB);
    /// longer lines get an error and the connection is closed
    /// [default: 64KiB]
    #[arg(long, env = "RICOCHET_MAX_LINE", value_parser = size_in(1..=MAX_LINE))]
    pub max_line: Option<usize>,

    /// Connections served at once; more wait in the kernel's backlog
    /// [default: the open-file limit, raised to its hard maximum at start,
    /// less headroom]
    #[arg(long, env = "RICOCHET_MAX_CONNS", value_parser = parse_max_conns)]
    pub max_conns: Option<usize>,

    /// Close a connection when nothing moves for this long; 0 or 'never'
    /// disables it.
    #[arg(long, default_value = "5m", env = "RICOCHET_IDLE_TIMEOUT", value_parser = parse_idle_timeout)]
    pub idle_timeout: IdleTimeout,

    /// At shutdown, how long open connections may finish before being
    /// closed (0 closes them at once; at most 365days).
    #[arg(long, value_parser = duration_in(Duration::ZERO..=MAX_DURATION), default_value = "10s", env = "RICOCHET_GRACE")]
    pub grace: Duration,

    /// Permissions of Unix socket files, in octal (e.g. 660).
    #[arg(long, value_parser = parse_unix_mode, env = "RICOCHET_UNIX_MODE")]
    pub unix_mode: Option<u32>,

    /// Listen backlog [default: the system's somaxconn]
    #[arg(long, env = "RICOCHET_BACKLOG")]
    pub backlog: Option<u32>,

    /// Threads serving connections [default: one per core]
    #[arg(long, env = "RICOCHET_SERVE_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,

    /// per-core: one single-threaded runtime per thread, each with its own
    /// SO_REUSEPORT listener (fastest, no cross-thread hops);
    /// work-stealing: tokio's multi-threaded scheduler (evens out skewed load).
    #[arg(long, value_enum, default_value_t = RuntimeName::PerCore, env = "RICOCHET_RUNTIME")]
    pub runtime: RuntimeName,
}

/// `--runtime` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuntimeName {
    /// One current-thread runtime per thread, SO_REUSEPORT listeners.
    PerCore,
    /// One multi-threaded, work-stealing runtime.
    WorkStealing,
}

/// `--mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ModeName {
    /// Echo every byte until the client half-closes (RFC 862).
    Stream,
    /// The tutorial: read up to --max-read bytes once, wait --delay, echo, close.
    Once,
    /// Echo line by line, up to --max-line bytes per line.
    Line,
}

/// `--idle-timeout`: a duration, or none at all.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IdleTimeout(pub Option<Duration>);

fn parse_idle_timeout(s: &str) -> Result<IdleTimeout, UnitError> {
    match s.trim() {
        "never" | "none" | "off" => Ok(IdleTimeout(None)),
        _ => ricochet::units::parse_duration(s, Duration::ZERO..=MAX_DURATION)
            .map(|d| IdleTimeout(Some(d).filter(|d| !d.is_zero()))),
    }
}

fn parse_max_conns(s: &str) -> Result<usize, String> {
    match s.parse::<usize>() {
        Ok(n) if n >= 1 => Ok(n),
        _ => Err(format!(
            "invalid connection limit '{s}': expected a whole number, at least 1"
        )),
    }
}

impl ServeArgs {
    /// The configuration these flags describe: one listener per endpoint,
    /// all with the same mode and limits. A mode's option given with
    /// another mode is a usage error, not silently ignored.
    pub fn config(&self) -> Result<ServeConfig, String> {
        let misplaced = |flag: &str, wanted: &str| {
            format!(
                "{flag} applies to --mode {wanted}, not --mode {}; add --mode {wanted} or drop {flag}",
                self.mode.to_possible_value().expect("no skipped values").get_name()
            )
        };
        match self.mode {
            ModeName::Once => {}
            _ if self.delay.is_some() => return Err(misplaced("--delay", "once")),
            _ if self.max_read.is_some() => return Err(misplaced("--max-read", "once")),
            _ => {}
        }
        if self.mode != ModeName::Line && self.max_line.is_some() {
            return Err(misplaced("--max-line", "line"));
        }
        let mode = match self.mode {
            ModeName::Stream => Mode::Stream(StreamEcho),
            ModeName::Once => Mode::Once(OnceEcho {
                max_read: self.max_read.unwrap_or(OnceEcho::default().max_read),
                delay: self.delay,
            }),
            ModeName::Line => Mode::Line(LineEcho {
                max_line: self.max_line.unwrap_or(DEFAULT_MAX_LINE),
            }),
        };
        let listener = ListenerConfig {
            mode,
            idle_timeout: self.idle_timeout.0,
            backlog: self.backlog,
            unix_mode: self.unix_mode,
            ..ListenerConfig::default()
        };
        let endpoints = match self.endpoints.as_slice() {
            [] => match std::env::var("RICOCHET_LISTEN") {
                // Only the variable is split on commas: on the command line
                // each endpoint is its own argument, and a comma is a valid
                // character of a Unix socket path.
                Ok(list) if !list.trim().is_empty() => list
                    .split(',')
                    .map(|e| e.parse().map_err(|err| format!("RICOCHET_LISTEN: {err}")))
                    .collect::<Result<_, _>>()?,
                _ => vec![Endpoint::default_serve()],
            },
            given => given.to_vec(),
        };
        Ok(ServeConfig {
            max_conns: self.max_conns.unwrap_or(DEFAULT_MAX_CONNS),
            grace: self.grace,
            runtime: match self.runtime {
                RuntimeName::PerCore => RuntimeKind::PerCore,
                RuntimeName::WorkStealing => RuntimeKind::WorkStealing,
            },
            threads: self.threads.map(usize::from),
            ..ServeConfig::new(endpoints, &listener)
        })
    }
}

/// Runs the server until SIGINT/SIGTERM; a second signal exits at once.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    super::warn_renamed("RICOCHET_THREADS", "RICOCHET_SERVE_THREADS");
    let mut config = match args.config() {
        Ok(config) => config,
        Err(why) => {
            use clap::CommandFactory;
            super::Cli::command()
                .error(clap::error::ErrorKind::ValueValidation, why)
                .exit()
        }
    };
    let fds = super::raise_fd_limit().map(|limit| limit.soft);
    match (args.max_conns, fds) {
        (None, Some(fds)) => config.max_conns = max_conns_for(fds),
        (Some(n), Some(fds)) if n > max_conns_for(fds) => tracing::warn!(
            max_conns = n,
            open_file_limit = fds,
            "--max-conns is more than the open-file limit leaves room for: \
             past it, accept() backs off until descriptors free up"
        ),
        _ => {}
    }
    let summary = ricochet::server::run(&config, |endpoints| {
        // Signals first, so a SIGTERM that follows the "listening on" line
        // always means a graceful shutdown: never the default exit, never
        // lost.
        let signals = Signals::new()?;
        // Logged before the 'listening on' lines, which tell supervisors
        // (and tests) that startup is over.
        tracing::info!(
            max_conns = config.max_conns,
            runtime = ?config.runtime,
            threads = config.effective_threads(),
            "serving"
        );
        for l in &config.listeners {
            let idle = l.idle_timeout.map_or("never".into(), |d| {
                humantime::format_duration(d).to_string()
            });
            tracing::info!(endpoint = %l.endpoint, mode = ?l.mode, idle_timeout = %idle, "listener");
        }
        let mut stdout = std::io::stdout().lock();
        for endpoint in endpoints {
            writeln!(stdout, "listening on {endpoint}")?;
        }
        stdout.flush()?;
        Ok(until_signalled(signals))
    })?;
    tracing::info!(
        accepted = summary.accepted,
        cut = summary.cut_at_shutdown,
        "stopped"
    );
    Ok(ExitCode::SUCCESS)
}

/// The default `--max-conns` for an open-file limit: all of it but some
/// headroom (listeners, shards' runtimes, logs, a connection accepted and
/// waiting for a slot per listener), so that at the limit new clients wait
/// in the backlog instead of failing with EMFILE.
fn max_conns_for(fds: u64) -> usize {
    let headroom = (fds / 8).clamp(32, 1024);
    usize::try_from(fds.saturating_sub(headroom))
        .unwrap_or(usize::MAX)
        .max(1)
}

/// Resolves at the first SIGINT/SIGTERM; a second one exits at once.
async fn until_signalled(mut signals: Signals) {
    signals.recv().await;
    tokio::spawn(async move {
        signals.recv().await;
        tracing::warn!("second signal: exiting without waiting");
        std::process::exit(130);
    });
}

/// SIGINT and SIGTERM as one stream of events.
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => tracing::info!("SIGINT received"),
            _ = self.term.recv() => tracing::info!("SIGTERM received"),
        }
    }
}
