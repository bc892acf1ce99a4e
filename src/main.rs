//! The `ricochet` binary: parse arguments, run, turn the typed error into
//! one line on stderr and its documented exit code (a closed stdout is a
//! normal end: exit 0, nothing printed).
#![forbid(unsafe_code)]

mod cli;

use std::process::ExitCode;

use std::io::Write;

use clap::Parser;

/// jemalloc instead of the system allocator: tokio allocates every task and
/// every socket's readiness state 128-byte aligned, which glibc serves with
/// ~300 bytes of padding per idle connection. With jemalloc's size classes
/// an idle connection costs ~790 bytes instead of ~1,140 (bench/idle_rss.py
/// at 10,000 connections). The library leaves the choice to its users.
#[global_allocator]
static GLOBAL: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    match cli::Cli::parse().run() {
        Ok(code) => code,
        Err(cli::Error::StdoutClosed) => ExitCode::SUCCESS,
        Err(cli::Error::Failed { code, error }) => {
            // Best effort: with stderr closed too there is no one to tell.
            let _ = writeln!(std::io::stderr(), "ricochet: error: {error:#}");
            ExitCode::from(code)
        }
    }
}
