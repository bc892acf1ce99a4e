//! `ricochet bench`: placeholder until the load generator lands.

use std::process::ExitCode;

use clap::Args;

/// Options for `ricochet bench`.
#[derive(Debug, Args)]
pub struct BenchArgs {
    /// Targets.
    pub targets: Vec<String>,
}

/// Runs the benchmark.
pub fn run(_args: BenchArgs) -> anyhow::Result<ExitCode> {
    anyhow::bail!("bench is not implemented yet")
}
