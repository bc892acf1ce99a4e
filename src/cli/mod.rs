//! Command-line definitions (clap derive) and the glue from parsed
//! arguments to the library. One file per subcommand; `main.rs` only
//! dispatches. Every option can also be set with a `RICOCHET_*` variable.
//!
//! Errors reach `main` as one [`Error`]: the library's errors convert into
//! it with the exit code their [`Failure`] documents, anything else is
//! failure 1, and a closed stdout is a normal, silent end (as in ripgrep).

pub mod bench;
pub mod progress;
pub mod send;
pub mod serve;

use std::fmt::Display;
use std::io;
use std::ops::RangeInclusive;
use std::process::ExitCode;
use std::time::Duration;

use clap::builder::BoolishValueParser;
use clap::{ArgAction, Parser, Subcommand};
use ricochet::bench::BenchError;
use ricochet::echo::{EchoError, Step};
use ricochet::failure::Failure;
use ricochet::transport::{BindError, ConnectError, ParseError};
use ricochet::units::{self, UnitError};

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
    /// The echo did not match what was sent: different, longer, or shorter
    /// (an empty or short echo is exit 6 even without `--check`).
    pub const MISMATCH: u8 = 6;
}

/// How a subcommand ended other than by returning its exit code.
#[derive(Debug)]
pub enum Error {
    /// Whoever read stdout closed it (`| head`): a normal end, exit 0 and
    /// nothing on stderr.
    StdoutClosed,
    /// A failure to report as one line on stderr, with its exit code.
    Failed {
        /// One of [`exit`]'s codes.
        code: u8,
        /// What went wrong, with its context.
        error: anyhow::Error,
    },
}

/// What subcommands return.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// Exit code `code` with `error`.
    pub fn new(code: u8, error: impl Into<anyhow::Error>) -> Self {
        Error::Failed {
            code,
            error: error.into(),
        }
    }

    /// Adds context in front of the message, keeping the exit code.
    pub fn context(self, context: impl Display + Send + Sync + 'static) -> Self {
        match self {
            Error::Failed { code, error } => Error::Failed {
                code,
                error: error.context(context),
            },
            closed => closed,
        }
    }

    /// Adds `hint` after the message, keeping the exit code.
    pub fn with_hint(self, hint: &str) -> Self {
        match self {
            Error::Failed { code, error } => Error::Failed {
                code,
                error: anyhow::anyhow!("{error:#}{hint}"),
            },
            closed => closed,
        }
    }

    /// An error writing to stdout: a closed pipe ends quietly, anything
    /// else is failure 1.
    pub fn stdout(error: io::Error) -> Self {
        if error.kind() == io::ErrorKind::BrokenPipe {
            Error::StdoutClosed
        } else {
            Error::new(
                exit::FAILURE,
                anyhow::Error::new(error).context("writing to stdout"),
            )
        }
    }

    /// A library failure with the code its kind documents.
    fn classified(failure: Failure, error: impl Into<anyhow::Error>) -> Self {
        let code = match failure {
            Failure::Usage => exit::USAGE,
            Failure::Refused => exit::REFUSED,
            Failure::UnknownHost => exit::UNKNOWN_HOST,
            Failure::Timeout => exit::TIMEOUT,
            Failure::Mismatch => exit::MISMATCH,
            Failure::Other => exit::FAILURE,
        };
        Error::new(code, error)
    }
}

impl From<anyhow::Error> for Error {
    fn from(error: anyhow::Error) -> Self {
        Error::new(exit::FAILURE, error)
    }
}

impl From<EchoError> for Error {
    fn from(error: EchoError) -> Self {
        match &error {
            EchoError::Io {
                step: Step::WriteOutput,
                error: e,
            } if e.kind() == io::ErrorKind::BrokenPipe => Error::StdoutClosed,
            _ => Error::classified(error.failure(), error),
        }
    }
}

impl From<ConnectError> for Error {
    fn from(error: ConnectError) -> Self {
        Error::classified(error.failure(), error)
    }
}

impl From<BenchError> for Error {
    fn from(error: BenchError) -> Self {
        Error::classified(error.failure(), error)
    }
}

impl From<ParseError> for Error {
    fn from(error: ParseError) -> Self {
        Error::new(exit::USAGE, error)
    }
}

impl From<BindError> for Error {
    fn from(error: BindError) -> Self {
        Error::new(exit::FAILURE, error)
    }
}

const AFTER_HELP: &str = "\
Endpoints: tcp://HOST:PORT, HOST:PORT, tcp://[::1]:PORT, unix:/PATH (or /PATH).

Exit codes: 0 ok, 1 failure, 2 bad usage, 3 connection refused (nothing
            listening there, or no such socket file), 4 unknown host,
            5 timeout, 6 echo mismatch (short or empty echo; with --check
            also a different or longer one). A closed stdout (e.g. `| head`)
            ends the command quietly, with 0.

Environment: every option can also be set with the RICOCHET_* variable
shown next to it (`ricochet serve --help`, `ricochet send --help`...).
Yes/no variables take 1/0, true/false, yes/no, on/off.
  RICOCHET_LOG   log filter in tracing's syntax, overriding -q/-v, e.g.
                 RICOCHET_LOG=ricochet=debug or RICOCHET_LOG=warn,ricochet::server=trace
                 (a filter that does not parse is reported and the default used)

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
    #[arg(short, long, global = true, env = "RICOCHET_QUIET", value_parser = BoolishValueParser::new())]
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
    pub fn run(self) -> Result<ExitCode> {
        init_logging(self.quiet, self.verbose);
        match self.command {
            Command::Serve(args) => Ok(serve::run(args)?),
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
    // A filter that does not parse is reported once logging works, not
    // silently replaced: someone asked for logs they are not getting.
    let (filter, rejected) = match std::env::var("RICOCHET_LOG") {
        Ok(given) if !given.trim().is_empty() => match EnvFilter::try_new(&given) {
            Ok(filter) => (filter, None),
            Err(e) => (EnvFilter::new(directives), Some(format!("'{given}': {e}"))),
        },
        Err(std::env::VarError::NotUnicode(_)) => (
            EnvFilter::new(directives),
            Some("it is not valid UTF-8".to_owned()),
        ),
        _ => (EnvFilter::new(directives), None),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
    if let Some(why) = rejected {
        tracing::warn!(
            "ignoring RICOCHET_LOG {why}; using the default filter '{directives}' \
             (example: RICOCHET_LOG=ricochet=debug)"
        );
    }
}

/// Warns when `old`, a variable every subcommand once shared, is set but
/// this subcommand's own `new` is not: the setting is not silently lost.
pub fn warn_renamed(old: &str, new: &str) {
    if std::env::var_os(old).is_some() && std::env::var_os(new).is_none() {
        tracing::warn!("{old} is ignored here: this command reads {new}");
    }
}

/// A `clap` value parser for a [`units::parse_duration`] within `range`.
pub fn duration_in(
    range: RangeInclusive<Duration>,
) -> impl Fn(&str) -> Result<Duration, UnitError> + Clone + Send + Sync + 'static {
    move |s| units::parse_duration(s, range.clone())
}

/// A `clap` value parser for a [`units::parse_size`] within `range`.
pub fn size_in(
    range: RangeInclusive<usize>,
) -> impl Fn(&str) -> Result<usize, UnitError> + Clone + Send + Sync + 'static {
    move |s| units::parse_size(s, range.clone())
}

/// A timeout that may be none at all (`0`, `none`, `never`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeout(pub Option<Duration>);

/// A [`Timeout`]: `0` (or `none`, `never`) for none, else 1 ms to
/// [`units::MAX_DURATION`].
pub fn parse_timeout(s: &str) -> Result<Timeout, String> {
    const MIN: Duration = Duration::from_millis(1);
    if matches!(s.trim(), "none" | "never" | "off") {
        return Ok(Timeout(None));
    }
    match units::parse_duration(s, Duration::ZERO..=units::MAX_DURATION) {
        Ok(d) if d.is_zero() => Ok(Timeout(None)),
        Ok(d) if d < MIN => Err(format!(
            "duration '{s}' is too small: it must be at least 1ms, or 0 for no timeout"
        )),
        Ok(d) => Ok(Timeout(Some(d))),
        Err(e) => Err(e.to_string()),
    }
}

/// The open-file limit after raising it.
pub(crate) struct FdLimit {
    /// What this process may now open.
    pub(crate) soft: u64,
    /// The ceiling (`None`: unlimited).
    pub(crate) hard: Option<u64>,
}

/// Raises the soft open-file limit to the hard one (every connection is a
/// descriptor, for `serve` and `bench` alike); `None` when there is no
/// limit at all.
pub(crate) fn raise_fd_limit() -> Option<FdLimit> {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let limit = getrlimit(Resource::Nofile);
    let soft = limit.current?;
    let hard = limit.maximum;
    if hard.map_or(true, |hard| hard > soft) {
        let raised = Rlimit {
            current: hard,
            maximum: hard,
        };
        if setrlimit(Resource::Nofile, raised).is_ok() {
            return hard.map(|soft| FdLimit { soft, hard });
        }
    }
    Some(FdLimit { soft, hard })
}
