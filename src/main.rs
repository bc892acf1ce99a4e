//! The `ricochet` binary: parse arguments, run, turn errors into one line
//! on stderr and a documented exit code.
#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

use clap::Parser;
use ricochet::client::SendError;
use ricochet::transport::ConnectError;

use cli::exit;

/// jemalloc instead of the system allocator: tokio allocates every task and
/// every socket's readiness state 128-byte aligned, which glibc serves with
/// ~300 bytes of padding per idle connection. With jemalloc's size classes
/// an idle connection costs ~790 bytes instead of ~1,140 (bench/idle_rss.py
/// at 10,000 connections). The library leaves the choice to its users.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli.run() {
        Ok(code) => code,
        Err(err) => {
            eprintln!("ricochet: error: {err:#}");
            ExitCode::from(exit_code(&err))
        }
    }
}

/// Maps the first error in the chain that we know to its exit code.
fn exit_code(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if cause
            .downcast_ref::<ricochet::transport::ParseError>()
            .is_some()
        {
            return exit::USAGE;
        }
        let connect = cause.downcast_ref::<ConnectError>().or_else(|| {
            match cause.downcast_ref::<SendError>() {
                Some(SendError::Connect(c)) => Some(c),
                _ => None,
            }
        });
        if let Some(c) = connect {
            return match c {
                ConnectError::Resolve { .. } => exit::UNKNOWN_HOST,
                ConnectError::Refused { .. } => exit::REFUSED,
                ConnectError::Timeout { .. } => exit::TIMEOUT,
                ConnectError::Io { .. } => exit::REFUSED,
            };
        }
        if let Some(s) = cause.downcast_ref::<SendError>() {
            return match s {
                SendError::Timeout { .. } => exit::TIMEOUT,
                SendError::Mismatch { .. }
                | SendError::ShortEcho { .. }
                | SendError::Extra { .. } => exit::MISMATCH,
                _ => exit::FAILURE,
            };
        }
    }
    exit::FAILURE
}
