//! `ricochet serve`: flags and environment to a [`ServeConfig`], then
//! [`ricochet::server::run`] until a signal.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};
use ricochet::config::{parse_unix_mode, RuntimeKind, DEFAULT_MAX_CONNS};
use ricochet::handler::line::DEFAULT_MAX_LINE;
use ricochet::{Endpoint, LineEcho, ListenerConfig, Mode, OnceEcho, ServeConfig, StreamEcho};

use super::parse_duration;

/// Options for `ricochet serve`.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Where to listen; several allowed [default: tcp://localhost:1234]
    #[arg(env = "RICOCHET_LISTEN", value_delimiter = ',')]
    pub endpoints: Vec<Endpoint>,

    /// How to echo: every byte until EOF, one read then close, or by line.
    #[arg(long, value_enum, default_value_t = ModeName::Stream, env = "RICOCHET_MODE")]
    pub mode: ModeName,

    /// once: largest single read, in bytes.
    #[arg(long, default_value_t = 1024, env = "RICOCHET_MAX_READ", value_parser = clap::value_parser!(u32).range(1..=16 * 1024 * 1024))]
    pub max_read: u32,

    /// once: pause before answering (the tutorial sleeps 1s).
    #[arg(long, value_parser = parse_duration, env = "RICOCHET_DELAY")]
    pub delay: Option<Duration>,

    /// line: longest accepted line in bytes; longer lines get an error and
    /// the connection is closed.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE as u32, env = "RICOCHET_MAX_LINE", value_parser = clap::value_parser!(u32).range(1..=64 * 1024 * 1024))]
    pub max_line: u32,

    /// Connections served at once; more wait in the kernel's backlog.
    #[arg(long, default_value_t = DEFAULT_MAX_CONNS, env = "RICOCHET_MAX_CONNS", value_parser = parse_max_conns)]
    pub max_conns: usize,

    /// Close a connection when nothing moves for this long [default: never]
    #[arg(long, value_parser = parse_duration, env = "RICOCHET_IDLE_TIMEOUT")]
    pub idle_timeout: Option<Duration>,

    /// At shutdown, how long open connections may finish before being closed.
    #[arg(long, value_parser = parse_duration, default_value = "10s", env = "RICOCHET_GRACE")]
    pub grace: Duration,

    /// Permissions of Unix socket files, in octal (e.g. 660).
    #[arg(long, value_parser = parse_unix_mode, env = "RICOCHET_UNIX_MODE")]
    pub unix_mode: Option<u32>,

    /// Listen backlog [default: the system's somaxconn]
    #[arg(long, env = "RICOCHET_BACKLOG")]
    pub backlog: Option<u32>,

    /// Threads serving connections [default: one per core]
    #[arg(long, env = "RICOCHET_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
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
    /// all with the same mode and limits.
    pub fn config(&self) -> ServeConfig {
        let mode = match self.mode {
            ModeName::Stream => Mode::Stream(StreamEcho),
            ModeName::Once => Mode::Once(OnceEcho {
                max_read: self.max_read as usize,
                delay: self.delay,
            }),
            ModeName::Line => Mode::Line(LineEcho {
                max_line: self.max_line as usize,
            }),
        };
        let listener = ListenerConfig {
            mode,
            idle_timeout: self.idle_timeout,
            backlog: self.backlog,
            unix_mode: self.unix_mode,
            ..ListenerConfig::default()
        };
        let endpoints = match self.endpoints.as_slice() {
            [] => vec![Endpoint::default_serve()],
            given => given.to_vec(),
        };
        ServeConfig {
            max_conns: self.max_conns,
            grace: self.grace,
            runtime: match self.runtime {
                RuntimeName::PerCore => RuntimeKind::PerCore,
                RuntimeName::WorkStealing => RuntimeKind::WorkStealing,
            },
            threads: self.threads.map(usize::from),
            ..ServeConfig::new(endpoints, &listener)
        }
    }
}

/// Runs the server until SIGINT/SIGTERM; a second signal exits at once.
pub fn run(args: ServeArgs) -> anyhow::Result<ExitCode> {
    let config = args.config();
    let summary = ricochet::server::run(&config, |endpoints| {
        // Signals first, so a SIGTERM that follows the "listening on" line
        // always means a graceful shutdown: never the default exit, never
        // lost.
        let signals = Signals::new()?;
        let mut stdout = std::io::stdout().lock();
        for endpoint in endpoints {
            writeln!(stdout, "listening on {endpoint}")?;
        }
        stdout.flush()?;
        tracing::info!(listeners = ?config.listeners, runtime = ?config.runtime, max_conns = config.max_conns, "serving");
        Ok(until_signalled(signals))
    })?;
    tracing::info!(
        accepted = summary.accepted,
        cut = summary.cut_at_shutdown,
        "stopped"
    );
    Ok(ExitCode::SUCCESS)
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
