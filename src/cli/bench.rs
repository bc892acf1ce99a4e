//! `ricochet bench`: flags to a [`BenchConfig`], a progress bar on a
//! terminal, results to stdout (text or JSON) and optional files.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, ValueEnum};
use ricochet::bench::merge::merge_logs;
use ricochet::bench::progress::Silent;
use ricochet::bench::report::json::JsonMerge;
use ricochet::bench::report::{format, HdrLog, Json, Report, Svg, Text};
use ricochet::bench::stats::{percentile_of, PERCENTILES};
use ricochet::bench::{self, BenchConfig, PayloadKind, SourceIps, Workload};
use ricochet::Endpoint;

use super::progress::{Bar, Lines};
use super::{exit, parse_duration, Error, Result};

/// Options for `ricochet bench`.
#[derive(Debug, Args)]
#[command(after_help = "\
Loops: by default each connection sends --pipeline messages, waits for all of
their echoes, and sends again (closed loop, like vmbench): latency then
excludes the queueing that waiting prevents. With --rate the load is an open
loop: messages go out on a fixed schedule and latency is measured from each
message's intended send time, so a stalled server shows up as latency.

Every echoed byte is compared with what was sent. Errors are counted by kind
(mismatch, short echo, reset, timeout, connect) and never folded into latency.

Several targets are compared in interleaved rounds (A B A B ...), each figure
reported with a 95% confidence interval and as a ratio to the first target.

Source addresses: against an IPv4 loopback target, --one-shot and
--connect-only (and more than 10000 connections) spread connections over
127.0.0.2-127.0.0.65 by default, so the client's ephemeral-port search does
not cap the connection rate. --source-ips none turns this off.

Progress on stderr (none with -q): a live bar on a terminal, otherwise a plain
line every 5 s and one per finished round.

Exit codes: 0 ok (connection errors are reported, not fatal), 1 failure
(e.g. the target is not an echo server), 2 bad usage, 3 connection refused,
4 unknown host, 5 timeout connecting, 6 some echo was wrong or short.

Examples:
  ricochet bench tcp://127.0.0.1:1234 -c 10 --size 1KiB --duration 10s
  ricochet bench unix:/tmp/echo.sock --rate 50000 --json > run.json
  ricochet bench 127.0.0.1:1234 --one-shot -c 50 --hdr-log run.hlog
  ricochet bench 127.0.0.1:1234 unix:/tmp/echo.sock --rounds 5 -d 3s --svg cmp.svg
  ricochet bench --merge machine1.hlog machine2.hlog    # one distribution")]
pub struct BenchArgs {
    /// Echo servers to load: one to measure, several to compare.
    #[arg(required_unless_present = "merge", value_name = "ENDPOINT")]
    pub targets: Vec<Endpoint>,

    /// Instead of running load, merge HdrHistogram logs written with
    /// --hdr-log (e.g. one per load machine) and print the latency
    /// percentiles per target and overall.
    #[arg(long, value_name = "LOG", num_args = 1.., conflicts_with = "targets")]
    pub merge: Vec<PathBuf>,

    /// Concurrent connections (one-shot: concurrent connection slots).
    #[arg(short = 'c', long, default_value_t = 10, env = "RICOCHET_CONNECTIONS", value_parser = clap::value_parser!(u32).range(1..=1_000_000))]
    pub connections: u32,

    /// Message size: bytes, or with K/KiB, M/MiB (1024-based).
    #[arg(short = 's', long, default_value = "1KiB", env = "RICOCHET_SIZE", value_parser = parse_size)]
    pub size: usize,

    /// Messages in flight per connection (written together in the closed loop).
    #[arg(short = 'p', long, default_value_t = 1, env = "RICOCHET_PIPELINE", value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub pipeline: u32,

    /// Message content: 'x'×(size-1)+'\n', or random printable bytes + '\n'.
    #[arg(long, value_enum, default_value_t = PayloadArg::Fixed, env = "RICOCHET_PAYLOAD")]
    pub payload: PayloadArg,

    /// Open loop: send this many messages per second across all connections.
    #[arg(short = 'r', long, env = "RICOCHET_RATE", value_parser = parse_rate)]
    pub rate: Option<f64>,

    /// Measured time per target and round.
    #[arg(short = 'd', long, value_parser = parse_duration, default_value = "10s", env = "RICOCHET_DURATION")]
    pub duration: Duration,

    /// Unmeasured time before each measured window.
    #[arg(short = 'w', long, value_parser = parse_duration, default_value = "1s", env = "RICOCHET_WARMUP")]
    pub warmup: Duration,

    /// A new connection per message: connect, send, receive, close
    /// (measures connections per second).
    #[arg(long, conflicts_with_all = ["connect_only", "pipeline"], env = "RICOCHET_ONE_SHOT")]
    pub one_shot: bool,

    /// Connect and close, sending nothing (measures the accept path).
    #[arg(long, conflicts_with = "pipeline", env = "RICOCHET_CONNECT_ONLY")]
    pub connect_only: bool,

    /// TCP source addresses: auto, none, a range (127.0.0.2-127.0.0.65)
    /// or a comma list.
    #[arg(long, default_value = "auto", env = "RICOCHET_SOURCE_IPS")]
    pub source_ips: SourceIps,

    /// Load threads, each with its share of connections [default: one per core]
    #[arg(short = 't', long, env = "RICOCHET_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,

    /// Longest wait for a connection, or for echo bytes that are owed.
    #[arg(long, value_parser = parse_duration, default_value = "5s", env = "RICOCHET_TIMEOUT")]
    pub timeout: Duration,

    /// Rounds of every target in turn [default: 1, or 5 when comparing]
    #[arg(long, env = "RICOCHET_ROUNDS", value_parser = clap::value_parser!(u16).range(1..))]
    pub rounds: Option<u16>,

    /// Print the results as JSON (docs/bench-json-schema.md) instead of text.
    #[arg(long, env = "RICOCHET_JSON")]
    pub json: bool,

    /// Also write the latency histograms as an HdrHistogram interval log.
    #[arg(long, value_name = "FILE", env = "RICOCHET_HDR_LOG")]
    pub hdr_log: Option<PathBuf>,

    /// Also write a latency-by-percentile plot as SVG.
    #[arg(long, value_name = "FILE", env = "RICOCHET_SVG")]
    pub svg: Option<PathBuf>,
}

/// `--payload` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PayloadArg {
    /// 'x' repeated, then '\n' (vmbench's message).
    Fixed,
    /// Random printable bytes, then '\n'; different for every connection.
    Random,
}

impl BenchArgs {
    fn config(&self) -> BenchConfig {
        let workload = match (self.one_shot, self.connect_only) {
            (true, _) => Workload::OneShot,
            (_, true) => Workload::ConnectOnly,
            _ => Workload::Echo,
        };
        let default_rounds = if self.targets.len() > 1 { 5 } else { 1 };
        BenchConfig {
            targets: self.targets.clone(),
            workload,
            connections: self.connections as usize,
            size: self.size,
            pipeline: self.pipeline as usize,
            payload: match self.payload {
                PayloadArg::Fixed => PayloadKind::Fixed,
                PayloadArg::Random => PayloadKind::Random,
            },
            rate: self.rate,
            duration: self.duration,
            warmup: self.warmup,
            rounds: self.rounds.map_or(default_rounds, usize::from),
            threads: self
                .threads
                .map_or_else(bench::default_threads, usize::from),
            timeout: self.timeout,
            source_ips: self.source_ips.clone(),
        }
    }
}

/// How often plain progress lines are written when stderr is not a terminal.
const PROGRESS_LINES_EVERY: Duration = Duration::from_secs(5);

/// Runs the benchmark and prints the results; exit code 6 if any echo was
/// wrong or short.
pub fn run(args: BenchArgs, quiet: bool) -> Result<ExitCode> {
    if !args.merge.is_empty() {
        return merge(&args.merge, args.json);
    }
    let config = args.config();
    let mut view: Box<dyn bench::Progress> = if quiet {
        Box::new(Silent)
    } else if std::io::stderr().is_terminal() {
        Box::new(Bar::new())
    } else {
        Box::new(Lines::new(std::io::stderr(), PROGRESS_LINES_EVERY))
    };
    let results = bench::run(&config, view.as_mut())?;
    let stdout_report: &dyn Report = if args.json { &Json } else { &Text };
    to_stdout(
        &stdout_report
            .render(&results)
            .context("rendering the results")?,
    )?;
    if let Some(path) = &args.hdr_log {
        write_file(path, &HdrLog.render(&results).context("rendering the log")?)?;
    }
    if let Some(path) = &args.svg {
        write_file(path, &Svg.render(&results).context("rendering the plot")?)?;
    }
    let failed = results.verification_errors();
    if failed > 0 {
        let _ = writeln!(
            std::io::stderr(),
            "ricochet: {failed} echoes were wrong or short: verification failed"
        );
        return Ok(ExitCode::from(exit::MISMATCH));
    }
    Ok(ExitCode::SUCCESS)
}

/// Writes all of `bytes` to stdout (a closed stdout ends the run quietly).
fn to_stdout(bytes: &[u8]) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(bytes)
        .and_then(|()| stdout.flush())
        .map_err(Error::stdout)
}

/// `--merge`: adds up the logs' histograms and prints their percentiles.
fn merge(logs: &[PathBuf], json: bool) -> Result<ExitCode> {
    let merged = merge_logs(logs).map_err(anyhow::Error::from)?;
    let mut out = Vec::new();
    if json {
        serde_json::to_writer_pretty(&mut out, &JsonMerge::new(&merged))
            .context("rendering JSON")?;
        out.push(b'\n');
    } else {
        // Writing to a Vec cannot fail.
        write_merge_table(&mut out, &merged, logs.len()).expect("in memory");
    }
    to_stdout(&out)?;
    Ok(ExitCode::SUCCESS)
}

fn write_merge_table(
    out: &mut Vec<u8>,
    merged: &ricochet::bench::merge::Merged,
    logs: usize,
) -> std::io::Result<()> {
    let mut rows: Vec<(&str, &hdrhistogram::Histogram<u64>)> = merged
        .per_tag
        .iter()
        .map(|(t, h)| (t.as_str(), h))
        .collect();
    rows.push(("all", &merged.all));
    write!(out, "{:<32} {:>12}", "tag", "messages")?;
    for (name, _) in PERCENTILES {
        write!(out, " {name:>9}")?;
    }
    writeln!(out)?;
    for (tag, h) in rows {
        write!(
            out,
            "{:<32} {:>12}",
            if tag.is_empty() { "(untagged)" } else { tag },
            h.len()
        )?;
        for (_, p) in PERCENTILES {
            write!(out, " {:>9}", format::latency(percentile_of(h, p) as f64))?;
        }
        writeln!(out)?;
    }
    writeln!(out, "{} intervals from {logs} logs", merged.intervals)
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<()> {
    std::fs::write(path, bytes)
        .with_context(|| format!("could not write {}", path.display()))
        .map_err(Error::from)
}

/// `1024`, `1K`, `1KiB`, `10k`, `1M`, `1MiB` (all 1024-based).
fn parse_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let mult: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        _ => {
            return Err(format!(
                "invalid size '{s}': expected e.g. 1024, 1KiB, 100K or 1MiB"
            ))
        }
    };
    let n: usize = digits
        .parse()
        .map_err(|_| format!("invalid size '{s}': expected e.g. 1024, 1KiB, 100K or 1MiB"))?;
    match n.checked_mul(mult) {
        Some(size) if (1..=bench::MAX_BATCH).contains(&size) => Ok(size),
        _ => Err(format!("invalid size '{s}': must be from 1 byte to 64 MiB")),
    }
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 => Ok(r),
        _ => Err(format!(
            "invalid rate '{s}': expected messages per second, e.g. 10000"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024"), Ok(1024));
        assert_eq!(parse_size("1KiB"), Ok(1024));
        assert_eq!(parse_size("10k"), Ok(10 * 1024));
        assert_eq!(parse_size("100K"), Ok(100 * 1024));
        assert_eq!(parse_size("1M"), Ok(1 << 20));
        assert!(parse_size("0").is_err());
        assert!(parse_size("1G").is_err());
        assert!(parse_size("x").is_err());
        assert!(parse_size("65MiB").is_err());
    }
}
