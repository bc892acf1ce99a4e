//! `ricochet bench`: flags to a [`BenchConfig`], a progress bar on a
//! terminal, results to stdout (text or JSON) and optional files.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::builder::BoolishValueParser;
use clap::{ArgAction, Args, ValueEnum};
use ricochet::bench::merge::merge_logs;
use ricochet::bench::progress::Silent;
use ricochet::bench::report::json::JsonMerge;
use ricochet::bench::report::{format, HdrLog, Json, Report, Svg, Text};
use ricochet::bench::stats::{percentile_of, PERCENTILES};
use ricochet::bench::{self, BenchConfig, PayloadKind, SourceIps, Workload};
use ricochet::units::{
    parse_duration, parse_rate, parse_size, UnitError, MAX_DURATION, MAX_RATE, MIN_RATE,
};
use ricochet::Endpoint;

use super::progress::{Bar, Lines};
use super::{exit, Error, Result};

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

Boolean flags set from the environment (RICOCHET_JSON, RICOCHET_ONE_SHOT,
RICOCHET_CONNECT_ONLY) accept 1/0, true/false, yes/no, on/off.

Ctrl-C stops the run and prints the report for what was measured so far
(the round it stopped is marked as partial), then exits 130; a second
Ctrl-C exits at once.

Exit codes: 0 ok (connection errors are reported, not fatal), 1 failure
(e.g. the target is not an echo server), 2 bad usage, 3 connection refused,
4 unknown host, 5 timeout connecting, 6 some echo was wrong or short,
130 interrupted.

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
    #[arg(short = 's', long, default_value = "1KiB", env = "RICOCHET_SIZE", value_parser = message_size)]
    pub size: usize,

    /// Messages in flight per connection (written together in the closed loop).
    #[arg(short = 'p', long, default_value_t = 1, env = "RICOCHET_PIPELINE", value_parser = clap::value_parser!(u32).range(1..=65_536))]
    pub pipeline: u32,

    /// Message content: 'x'×(size-1)+'\n', or random printable bytes + '\n'.
    #[arg(long, value_enum, default_value_t = PayloadArg::Fixed, env = "RICOCHET_PAYLOAD")]
    pub payload: PayloadArg,

    /// Open loop: send this many messages per second across all connections.
    #[arg(short = 'r', long, env = "RICOCHET_RATE", value_parser = message_rate)]
    pub rate: Option<f64>,

    /// Measured time per target and round.
    #[arg(short = 'd', long, value_parser = run_time, default_value = "10s", env = "RICOCHET_DURATION")]
    pub duration: Duration,

    /// Unmeasured time before each measured window.
    #[arg(short = 'w', long, value_parser = warmup_time, default_value = "1s", env = "RICOCHET_WARMUP")]
    pub warmup: Duration,

    /// A new connection per message: connect, send, receive, close
    /// (measures connections per second).
    #[arg(long, conflicts_with_all = ["connect_only", "pipeline"], env = "RICOCHET_ONE_SHOT", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub one_shot: bool,

    /// Connect and close, sending nothing (measures the accept path).
    #[arg(long, conflicts_with = "pipeline", env = "RICOCHET_CONNECT_ONLY", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
    pub connect_only: bool,

    /// TCP source addresses: auto, none, a range (127.0.0.2-127.0.0.65)
    /// or a comma list.
    #[arg(long, default_value = "auto", env = "RICOCHET_SOURCE_IPS")]
    pub source_ips: SourceIps,

    /// Load threads, each with its share of connections [default: one per core]
    #[arg(short = 't', long, env = "RICOCHET_BENCH_THREADS", value_parser = clap::value_parser!(u16).range(1..))]
    pub threads: Option<u16>,

    /// Longest wait for a connection, or for echo bytes that are owed.
    #[arg(long, value_parser = run_time, default_value = "5s", env = "RICOCHET_BENCH_TIMEOUT")]
    pub timeout: Duration,

    /// Rounds of every target in turn [default: 1, or 5 when comparing]
    #[arg(long, env = "RICOCHET_ROUNDS", value_parser = clap::value_parser!(u16).range(1..))]
    pub rounds: Option<u16>,

    /// Print the results as JSON (docs/bench-json-schema.md) instead of text.
    #[arg(long, env = "RICOCHET_JSON", action = ArgAction::SetTrue, value_parser = BoolishValueParser::new())]
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
    // Everything that can be wrong with the command line is found before
    // any load: options, report paths, the open-file limit.
    config.validate()?;
    let hdr_log = args
        .hdr_log
        .as_deref()
        .map(|p| OutputFile::open("--hdr-log", p))
        .transpose()?;
    let svg = args
        .svg
        .as_deref()
        .map(|p| OutputFile::open("--svg", p))
        .transpose()?;
    check_fd_limit(&config)?;
    let mut view: Box<dyn bench::Progress> = if quiet {
        Box::new(Silent)
    } else if std::io::stderr().is_terminal() {
        Box::new(Bar::new())
    } else {
        Box::new(Lines::new(std::io::stderr(), PROGRESS_LINES_EVERY))
    };
    let stop = stop_on_ctrl_c().context("could not watch for Ctrl-C")?;
    let results = bench::run_until(&config, view.as_mut(), &stop)?;
    let stdout_report: &dyn Report = if args.json { &Json } else { &Text };
    to_stdout(
        &stdout_report
            .render(&results)
            .context("rendering the results")?,
    )?;
    if let Some(file) = hdr_log {
        file.write(&HdrLog.render(&results).context("rendering the log")?)?;
    }
    if let Some(file) = svg {
        file.write(&Svg.render(&results).context("rendering the plot")?)?;
    }
    if results.interrupted {
        let _ = writeln!(
            std::io::stderr(),
            "ricochet: interrupted: the report covers what was measured before Ctrl-C"
        );
        return Ok(ExitCode::from(INTERRUPTED));
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

/// The exit code after Ctrl-C: 128 + SIGINT, as shells report it.
const INTERRUPTED: u8 = 130;

/// Cancels the returned token on the first Ctrl-C, so the run stops and
/// reports what it measured; a second Ctrl-C exits at once.
fn stop_on_ctrl_c() -> std::io::Result<bench::CancellationToken> {
    use tokio::signal::unix::{signal, SignalKind};
    let stop = bench::CancellationToken::new();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_io()
        .build()?;
    // Registered here, before any load, so no Ctrl-C is lost; the guard is
    // dropped at once, as `bench::run` refuses to run inside a runtime.
    let mut interrupts = {
        let _runtime = rt.enter();
        signal(SignalKind::interrupt())?
    };
    let cancel = stop.clone();
    std::thread::Builder::new()
        .name("ricochet-ctrl-c".into())
        .spawn(move || {
            rt.block_on(async {
                interrupts.recv().await;
                cancel.cancel();
                interrupts.recv().await;
            });
            std::process::exit(INTERRUPTED.into());
        })?;
    Ok(stop)
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
    let merged = merge_logs(logs).map_err(|e| Error::classified(e.failure(), e))?;
    for warning in &merged.warnings {
        let _ = writeln!(std::io::stderr(), "ricochet: warning: {warning}");
    }
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
    write!(out, "{} intervals from {logs} logs", merged.intervals)?;
    match &merged.workload {
        Some(workload) => writeln!(out, " ({workload})"),
        None => writeln!(out),
    }
}

/// `-d`, `--timeout`: more than nothing, and small enough that adding it
/// to an `Instant` cannot overflow.
fn run_time(s: &str) -> Result<Duration, UnitError> {
    parse_duration(s, Duration::from_millis(1)..=MAX_DURATION)
}

/// `-w`: may be 0.
fn warmup_time(s: &str) -> Result<Duration, UnitError> {
    parse_duration(s, Duration::ZERO..=MAX_DURATION)
}

/// `--size`: 1 byte to 64 MiB.
fn message_size(s: &str) -> Result<usize, UnitError> {
    parse_size(s, 1..=bench::MAX_BATCH)
}

/// `--rate`: from one message every 1000 s to one per nanosecond.
fn message_rate(s: &str) -> Result<f64, UnitError> {
    parse_rate(s, MIN_RATE..=MAX_RATE)
}

/// Descriptors a run needs besides one per connection: stdio, the probe,
/// report files, and each load thread's runtime (epoll, wake-up).
const FD_HEADROOM: u64 = 32;
const FDS_PER_THREAD: u64 = 4;

/// Refuses a `-c` the open-file limit cannot hold (every connection is a
/// descriptor; past the limit each connect fails with EMFILE and the run
/// measures nothing but errors). Raises the soft limit to the hard one
/// first, as `serve` does.
fn check_fd_limit(config: &BenchConfig) -> Result<()> {
    let Some(limit) = super::raise_fd_limit() else {
        return Ok(());
    };
    let in_use = std::fs::read_dir("/proc/self/fd").map_or(3, |d| d.count() as u64);
    let needed = config.connections as u64
        + config.effective_threads() as u64 * FDS_PER_THREAD
        + FD_HEADROOM;
    if in_use + needed <= limit.soft {
        return Ok(());
    }
    let wanted = in_use + needed;
    let how = if limit.hard.map_or(true, |hard| hard >= wanted) {
        format!("`ulimit -n {wanted}` in the shell that runs it")
    } else {
        format!(
            "the hard limit is {}: raise it as root (e.g. `nofile` in /etc/security/limits.conf, or LimitNOFILE= for a systemd unit), then `ulimit -n {wanted}`",
            limit.hard.unwrap_or(limit.soft)
        )
    };
    Err(Error::new(
        exit::USAGE,
        anyhow::anyhow!(
            "-c {} needs about {needed} file descriptors, but the open-file limit is {} ({in_use} already open): use fewer connections, or raise the limit: {how}",
            config.connections,
            limit.soft
        ),
    ))
}

/// A report file, opened before any load so a bad path fails at once
/// rather than after the whole run. It is emptied only when the report is
/// written, so a run that fails leaves an existing file as it was.
struct OutputFile {
    path: PathBuf,
    file: std::fs::File,
}

impl OutputFile {
    fn open(flag: &str, path: &Path) -> Result<Self> {
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map(|file| OutputFile {
                path: path.to_owned(),
                file,
            })
            .map_err(|e| {
                Error::new(
                    exit::USAGE,
                    anyhow::anyhow!("cannot write {flag} {}: {e}", path.display()),
                )
            })
    }

    fn write(mut self, bytes: &[u8]) -> Result<()> {
        self.file
            .set_len(0)
            .and_then(|()| self.file.write_all(bytes))
            .and_then(|()| self.file.flush())
            .with_context(|| format!("could not write {}", self.path.display()))
            .map_err(Error::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn number_flags_have_ranges() {
        assert_eq!(message_size("1KiB").unwrap(), 1024);
        assert!(message_size("0").is_err());
        assert!(message_size("65MiB").is_err());
        assert!(run_time("0").is_err());
        assert!(run_time("1e19").is_err());
        assert_eq!(warmup_time("0").unwrap(), Duration::ZERO);
        assert!(message_rate("1e-300").is_err());
        assert!(message_rate("NaN").is_err());
    }
}
