//! `ricochet send`: the tutorial's client, and a binary-safe pipe.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use ricochet::client::{pipe, send_message};
use ricochet::echo::{self, EchoError};
use ricochet::Endpoint;

use super::{parse_duration, Error, Result};

/// Options for `ricochet send`.
#[derive(Debug, Args)]
#[command(after_help = "\
With MESSAGE, prints 'sent: MESSAGE' and 'received: ECHO' like the tutorial.
Without MESSAGE (or with -), copies stdin to the server and the echo to
stdout, binary-safe; half-closes at the end of stdin and exits once the echo
is complete.

  ricochet send 'Hello World!'                   # to tcp://localhost:1234
  ricochet send unix:/tmp/echo.sock 'Hello'
  ricochet send unix:/tmp/echo.sock < request.bin  # lone URL: pipe stdin
  ricochet send tcp://[::1]:7 - --check < file.bin > echo.bin")]
pub struct SendArgs {
    /// [ENDPOINT] [MESSAGE]: the endpoint defaults to tcp://localhost:1234
    /// and the message to stdin ('-'). A lone argument is the message,
    /// unless it starts with tcp:// or unix:.
    #[arg(num_args = 0..=2, value_names = ["ENDPOINT", "MESSAGE"])]
    pub args: Vec<String>,

    /// Give up when connecting, or waiting for the echo, takes longer.
    #[arg(long, value_parser = parse_duration, default_value = "10s", env = "RICOCHET_TIMEOUT")]
    pub timeout: Duration,

    /// Fail (exit 6) unless the echo is exactly what was sent.
    #[arg(long, env = "RICOCHET_CHECK")]
    pub check: bool,
}

/// Sends, prints, and reports the outcome as an exit code.
pub fn run(args: SendArgs) -> Result<ExitCode> {
    let (endpoint, message) = match args.args.as_slice() {
        [] => (Endpoint::default_serve(), None),
        // An explicit URL alone is an endpoint to pipe stdin to, not a
        // message: nobody means to send the text "tcp://host:7".
        [e] if e.starts_with("tcp://") || e.starts_with("unix:") => (parse_endpoint(e)?, None),
        [m] => (Endpoint::default_serve(), Some(m.as_str())),
        [e, m] => (parse_endpoint(e)?, Some(m.as_str())),
        _ => unreachable!("clap limits the count"),
    };
    let message = message.filter(|m| *m != "-");
    let timeout = Some(args.timeout).filter(|t| !t.is_zero());
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("could not start the async runtime")?;
    // Connect errors name the endpoint already; the others get it in front.
    let named = |e: EchoError| match e {
        EchoError::Connect(_) => Error::from(e),
        _ => Error::from(e).context(endpoint.to_string()),
    };
    rt.block_on(async {
        match message {
            Some(message) => {
                let echo = send_message(&endpoint, message.as_bytes(), timeout)
                    .await
                    .map_err(named)?;
                let mut out = std::io::stdout().lock();
                writeln!(out, "sent: {message}")
                    .and_then(|()| writeln!(out, "received: {}", String::from_utf8_lossy(&echo)))
                    .and_then(|()| out.flush())
                    .map_err(Error::stdout)?;
                if args.check {
                    echo::compare(message.as_bytes(), &echo).map_err(named)?;
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
    })
}

fn parse_endpoint(s: &str) -> Result<Endpoint> {
    s.parse::<Endpoint>()
        .map_err(|e| Error::from(e).context(format!("bad endpoint '{s}'")))
}
