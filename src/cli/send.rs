//! `ricochet send`: the tutorial's client, and a binary-safe pipe.

use std::io::{IsTerminal, Write};
use std::net::IpAddr;
use std::process::ExitCode;

use anyhow::Context;
use clap::builder::BoolishValueParser;
use clap::Args;
use ricochet::client::{pipe, send_message};
use ricochet::echo::{self, AfterEcho, EchoError, Expect};
use ricochet::failure::Failure;
use ricochet::Endpoint;

use super::{parse_timeout, Error, Result, Timeout};

/// Options for `ricochet send`.
#[derive(Debug, Args)]
#[command(after_help = "\
With MESSAGE, prints 'sent: MESSAGE' and 'received: ECHO' like the tutorial;
several MESSAGE words are joined with spaces, as echo(1) does. Without
MESSAGE (or with -), copies stdin to the server and the echo to stdout,
binary-safe; half-closes at the end of stdin and exits once the echo is
complete.

Which argument is which: with two or more arguments the first is the
endpoint. A lone argument is the endpoint (and stdin is piped) when it is a
URL (tcp://..., unix:...), HOST:PORT with a numeric port, or a path starting
with / or ./ that is a socket file; anything else is the message, sent to
tcp://localhost:1234. When a lone argument could be read either way, a note
on stderr says how it was taken.

Echo checks: a short or empty echo (the server closed before echoing
everything) exits 6, with or without --check. --check also fails (exit 6) on
any differing byte, and on bytes beyond what was sent, including ones that
arrive after the echo: with --check, send waits once the echo is complete
until the server closes (RFC 862 servers close after the client half-closes),
at most --timeout; a server that stays open and silent that long passes.

  ricochet send 'Hello World!'                   # to tcp://localhost:1234
  ricochet send unix:/tmp/echo.sock Hello there  # sends 'Hello there'
  ricochet send 127.0.0.1:7 < request.bin        # lone endpoint: pipe stdin
  ricochet send tcp://[::1]:7 - --check < file.bin > echo.bin")]
pub struct SendArgs {
    /// [ENDPOINT] [MESSAGE...]: the endpoint defaults to tcp://localhost:1234
    /// and the message to stdin ('-'); see below for how a lone argument is
    /// read.
    #[arg(value_names = ["ENDPOINT", "MESSAGE"])]
    pub args: Vec<String>,

    /// Give up when connecting, or waiting for owed echo bytes, takes longer
    /// (1ms to 365days; 0 for no timeout).
    #[arg(long, value_parser = parse_timeout, default_value = "10s", env = "RICOCHET_SEND_TIMEOUT")]
    pub timeout: Timeout,

    /// Fail (exit 6) unless the echo is exactly what was sent: no differing,
    /// missing or surplus byte, even one sent after the echo.
    #[arg(long, env = "RICOCHET_CHECK", value_parser = BoolishValueParser::new())]
    pub check: bool,
}

/// Sends, prints, and reports the outcome as an exit code.
pub fn run(args: SendArgs) -> Result<ExitCode> {
    super::warn_renamed("RICOCHET_TIMEOUT", "RICOCHET_SEND_TIMEOUT");
    let (endpoint, message) = split_args(&args.args)?;
    let message = message.filter(|m| m != "-");
    if message.is_none() && std::io::stdin().is_terminal() {
        note_on_stderr(&format!(
            "reading what to send to {endpoint} from the terminal; end it with Ctrl-D"
        ));
    }
    let timeout = args.timeout.0;
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    // Connect errors name the endpoint already; the others get it in front.
    let named = |e: EchoError| {
        let timed_out = e.failure() == Failure::Timeout;
        let error = match e {
            EchoError::Connect(_) => Error::from(e),
            _ => Error::from(e).context(endpoint.to_string()),
        };
        if timed_out {
            error.with_hint("; raise --timeout (0 for none) to wait longer")
        } else {
            error
        }
    };
    let outcome = rt.block_on(async {
        match message {
            Some(message) => {
                let after = if args.check {
                    AfterEcho::UntilClose
                } else {
                    AfterEcho::Stop
                };
                let echo = send_message(&endpoint, message.as_bytes(), timeout, after)
                    .await
                    .map_err(named)?;
                let mut out = std::io::stdout().lock();
                writeln!(out, "sent: {message}")
                    .and_then(|()| writeln!(out, "received: {}", String::from_utf8_lossy(&echo)))
                    .and_then(|()| out.flush())
                    .map_err(Error::stdout)?;
                if args.check {
                    echo::compare(message.as_bytes(), &echo).map_err(named)?;
                } else if echo.len() < message.len() {
                    // Not judged byte for byte, but an empty or short echo
                    // must not look like success.
                    let mut expect = Expect::new(message.len() as u64);
                    expect.skip(echo.len() as u64);
                    expect.finish().map_err(named)?;
                }
            }
            None => {
                pipe(
                    &endpoint,
                    tokio::io::stdin(),
                    tokio::io::stdout(),
                    args.check,
                    timeout,
                )
                .await
                .map_err(named)?;
            }
        }
        Ok(ExitCode::SUCCESS)
    });
    // tokio reads stdin on a blocking thread that cannot be cancelled:
    // waiting for it would hang a failed pipe until stdin closes.
    rt.shutdown_background();
    outcome
}

/// The endpoint and the message (`None`: stdin) the arguments name.
fn split_args(args: &[String]) -> Result<(Endpoint, Option<String>)> {
    match args {
        [] => Ok((Endpoint::default_serve(), None)),
        [lone] => Ok(match lone_argument(lone)? {
            Lone::Endpoint(endpoint, note) => {
                if let Some(note) = note {
                    note_on_stderr(&format!(
                        "'{lone}' taken as the endpoint {endpoint}, piping stdin to it{note}; \
                         to send it as a message: ricochet send {} '{lone}'",
                        Endpoint::default_serve()
                    ));
                }
                (endpoint, None)
            }
            Lone::Message(note) => {
                if let Some(note) = note {
                    note_on_stderr(&format!(
                        "'{lone}' taken as the message to {}{note}",
                        Endpoint::default_serve()
                    ));
                }
                (Endpoint::default_serve(), Some(lone.clone()))
            }
        }),
        [endpoint, words @ ..] => {
            let endpoint = endpoint.parse::<Endpoint>().map_err(|e| {
                Error::from(e).context(format!(
                    "bad endpoint '{endpoint}' (with two or more arguments the first is the \
                     endpoint; quote a message that has spaces)"
                ))
            })?;
            Ok((endpoint, Some(words.join(" "))))
        }
    }
}

/// How a lone argument was read, with a note when it could have been read
/// the other way.
enum Lone {
    Endpoint(Endpoint, Option<&'static str>),
    Message(Option<String>),
}

fn lone_argument(arg: &str) -> Result<Lone> {
    // An explicit URL: nobody means to send the text "tcp://host:7", so
    // one that does not parse is a bad endpoint, not a message.
    if arg.starts_with("tcp://") || arg.starts_with("unix:") {
        return Ok(Lone::Endpoint(parse_endpoint(arg)?, None));
    }
    if arg.starts_with('/') || arg.starts_with("./") {
        use std::os::unix::fs::FileTypeExt;
        let is_socket = std::fs::metadata(arg).is_ok_and(|m| m.file_type().is_socket());
        return Ok(if is_socket {
            Lone::Endpoint(Endpoint::unix(arg), None)
        } else {
            Lone::Message(Some(format!(
                " (no socket file there; for the socket write unix:{arg})"
            )))
        });
    }
    if arg.chars().any(char::is_whitespace) {
        return Ok(Lone::Message(None));
    }
    Ok(match arg.parse::<Endpoint>() {
        Ok(endpoint @ Endpoint::Tcp { .. }) => {
            // An IP literal or localhost is surely an address; a name might
            // be a word ("ratio:3"), so the note says how it was read.
            let surely = matches!(&endpoint, Endpoint::Tcp { host, .. }
                if host.parse::<IpAddr>().is_ok() || host == "localhost");
            Lone::Endpoint(endpoint, (!surely).then_some(" (it reads as HOST:PORT)"))
        }
        _ => Lone::Message(None),
    })
}

fn parse_endpoint(s: &str) -> Result<Endpoint> {
    s.parse::<Endpoint>()
        .map_err(|e| Error::from(e).context(format!("bad endpoint '{s}'")))
}

fn note_on_stderr(note: &str) {
    // Best effort, like every diagnostic: a closed stderr is no reason to
    // fail the exchange.
    let _ = writeln!(std::io::stderr(), "ricochet: note: {note}");
}
