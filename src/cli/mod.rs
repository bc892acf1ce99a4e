//! Command-line definitions (clap derive) and the glue from parsed
//! arguments to the library. One file per subcommand; `main.rs` only
//! dispatches. Every option can also be set with a `RICOCHET_*` variable.

pub mod bench;
pub mod send;
pub mod serve;

use std::process::ExitCode;
use std::time::Duration;

use clap::{ArgAction, Parser, Subcommand};

/// Exit codes, documented in `--help` and the README. 0 is success.
pub mod exit {
    /// Bad command line (clap's own code for its errors, ours for the rest).
    pub const USAGE: u8 = 2;
    /// Any failure without a more specific code.
    pub const FAILURE: u8 = 1;
    /// Connection refused or unreachable.
    pub const REFUSED: u8 = 3;
    /// Host name did not resolve.
    pub const UNKNOWN_HOST: u8 = 4;
    /// Timed out connecting or waiting for the echo.
    pub const TIMEOUT: u8 = 5;
    /// The echo did not match what was sent.
    pub const MISMATCH: u8 = 6;
}

const AFTER_HELP: &str = "\
Endpoints: tcp://HOST:PORT, HOST:PORT, tcp://[::1]:PORT, unix:/PATH (or /PATH).

Exit codes: 0 ok, 1 failure, 2 bad usage, 3 connection refused,
            4 unknown host, 5 timeout, 6 echo mismatch.

Examples:
  ricochet serve                                # tcp://localhost:1234, stream mode
  ricochet serve tcp://0.0.0.0:7 unix:/run/echo.sock --max-conns 5000
  ricochet serve --mode once --delay 1s         # the asyncio tutorial's server
  ricochet send 'Hello World!'                  # the tutorial's client
  head -c 10M /dev/urandom | ricochet send unix:/run/echo.sock - --check > /dev/null
  ricochet bench tcp://127.0.0.1:1234 -c 10 --size 1024 --duration 10s";

/// ricochet — the echo server you deploy, the client you script, the load
/// generator you trust.
#[derive(Debug, Parser)]
#[command(name = "ricochet", version, about, after_help = AFTER_HELP)]
pub struct Cli {
    /// Print less: only warnings and errors.
    #[arg(short, long, global = true, env = "RICOCHET_QUIET")]
    pub quiet: bool,

    /// Print more: -v shows each message received, -vv everything.
    #[arg(short, long, global = true, action = ArgAction::Count)]
    pub verbose: u8,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run an echo server (TCP and/or Unix sockets) until Ctrl-C or SIGTERM.
    Serve(serve::ServeArgs),
    /// Send a message (or stdin) to an echo server and print the echo.
    Send(send::SendArgs),
    /// Generate echo load against one or more servers and measure it.
    Bench(bench::BenchArgs),
}

impl Cli {
    /// Runs the chosen subcommand.
    pub fn run(self) -> anyhow::Result<ExitCode> {
        init_logging(self.quiet, self.verbose);
        match self.command {
            Command::Serve(args) => serve::run(args),
            Command::Send(args) => send::run(args),
            Command::Bench(args) => bench::run(args, self.quiet),
        }
    }
}

fn init_logging(quiet: bool, verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let directives = match (quiet, verbose) {
        (true, _) => "ricochet=warn,warn",
        (false, 0) => "ricochet=info,warn",
        (false, 1) => "ricochet=debug,warn",
        (false, _) => "trace",
    };
    let filter =
        EnvFilter::try_from_env("RICOCHET_LOG").unwrap_or_else(|_| EnvFilter::new(directives));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}

/// Parses `1.5` (seconds), `250ms`, `2m 30s`…
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    if let Ok(secs) = s.trim().parse::<f64>() {
        return Duration::try_from_secs_f64(secs)
            .map_err(|e| format!("invalid duration '{s}': {e}"));
    }
    humantime::parse_duration(s.trim())
        .map_err(|e| format!("invalid duration '{s}': {e} (examples: 1s, 250ms, 1.5)"))
}
