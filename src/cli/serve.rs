//! `ricochet serve`: bind the endpoints, serve a mode, stop on a signal.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use ricochet::handler::line::DEFAULT_MAX_LINE;
use ricochet::server::DEFAULT_MAX_CONNS;
use ricochet::{BindOptions, Endpoint, LineEcho, Mode, OnceEcho, Server, StreamEcho};

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
    #[arg(long, value_parser = parse_mode, env = "RICOCHET_UNIX_MODE")]
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
    #[arg(long, value_enum, default_value_t = RuntimeKind::PerCore, env = "RICOCHET_RUNTIME")]
    pub runtime: RuntimeKind,
}

/// `--runtime` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RuntimeKind {
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

fn parse_mode(s: &str) -> Result<u32, String> {
    let digits = s.trim_start_matches("0o");
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o7777 => Ok(m),
        _ => Err(format!(
            "invalid mode '{s}': expected octal permissions such as 660 or 0600"
        )),
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
    fn mode(&self) -> Mode {
        match self.mode {
            ModeName::Stream => Mode::Stream(StreamEcho),
            ModeName::Once => Mode::Once(OnceEcho {
                max_read: self.max_read as usize,
                delay: self.delay,
            }),
            ModeName::Line => Mode::Line(LineEcho {
                max_line: self.max_line as usize,
            }),
        }
    }
}

/// Runs the server until SIGINT/SIGTERM; a second signal exits at once.
pub fn run(mut args: ServeArgs) -> anyhow::Result<ExitCode> {
    if args.endpoints.is_empty() {
        args.endpoints.push(Endpoint::default_serve());
    }
    let threads = args
        .threads
        .map(usize::from)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    let opts = BindOptions {
        backlog: args.backlog,
        unix_mode: args.unix_mode,
        reuse_port: args.runtime == RuntimeKind::PerCore,
    };
    let rt = match args.runtime {
        RuntimeKind::PerCore => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        RuntimeKind::WorkStealing => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads)
            .enable_all()
            .build(),
    }
    .context("could not start the async runtime")?;
    let (server, signals) = rt.block_on(bind(&args, &opts))?;
    let summary = match args.runtime {
        RuntimeKind::WorkStealing => {
            rt.block_on(server.serve(args.mode(), until_signalled(signals)))
        }
        RuntimeKind::PerCore => server
            .serve_sharded(threads, &opts, args.mode(), || until_signalled(signals))
            .context("could not start server threads")?,
    };
    tracing::info!(
        accepted = summary.accepted,
        cut = summary.cut_at_shutdown,
        "stopped"
    );
    Ok(ExitCode::SUCCESS)
}

/// Binds every endpoint and prints where we listen. Signals are subscribed
/// to first, so a SIGTERM that follows the "listening on" line always means
/// a graceful shutdown: never the default exit, never lost. (Signal streams
/// are not tied to the runtime that made them, so the per-core shards can
/// await them on another.)
async fn bind(args: &ServeArgs, opts: &BindOptions) -> anyhow::Result<(Server, Signals)> {
    let signals = Signals::new()?;
    let mut listeners = Vec::new();
    for endpoint in &args.endpoints {
        listeners.extend(ricochet::Listener::bind(endpoint, opts).await?);
    }
    let server = Server::from_listeners(listeners)
        .max_conns(args.max_conns)
        .idle_timeout(args.idle_timeout)
        .grace(args.grace);
    let mut stdout = std::io::stdout().lock();
    for endpoint in server.local_endpoints()? {
        writeln!(stdout, "listening on {endpoint}")?;
    }
    stdout.flush()?;
    tracing::info!(mode = ?args.mode, runtime = ?args.runtime, max_conns = args.max_conns, "serving");
    Ok((server, signals))
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
    fn new() -> anyhow::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            int: signal(SignalKind::interrupt()).context("could not install SIGINT handler")?,
            term: signal(SignalKind::terminate()).context("could not install SIGTERM handler")?,
        })
    }

    async fn recv(&mut self) {
        tokio::select! {
            _ = self.int.recv() => tracing::info!("SIGINT received"),
            _ = self.term.recv() => tracing::info!("SIGTERM received"),
        }
    }
}
