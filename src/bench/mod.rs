//! Load generation: `ricochet bench` as a library.
//!
//! [`run`] takes a [`BenchConfig`] (plain data, no command-line types),
//! probes every target, runs the rounds, and returns [`BenchResults`]; the
//! [`report`] formats turn those into text, JSON, an HdrHistogram log or an
//! SVG plot. The pieces, each in its own module:
//! - `target`: a target resolved once, source addresses to spread over;
//! - `probe`: reachable? an echo server? (fail fast, never hang);
//! - `driver`: load threads, the closed and open loops — moves bytes only;
//! - `payload`: the messages (line-safe, built once);
//! - [`stats`]: per-thread histograms and error counts, merged at the end;
//! - [`compare`]: several targets in interleaved rounds, with confidence
//!   intervals;
//! - [`merge`]: HdrHistogram logs of several runs, added up;
//! - [`progress`]: what a live view implements (the views themselves are
//!   the command line's).
//!
//! Echoes are judged with [`crate::echo`], like `send`'s: the probe runs
//! whole [`crate::echo::exchange`]s, the load threads feed every chunk
//! they read to an [`crate::echo::Expect`] and count each
//! [`crate::echo::EchoError`] under its [`ErrorKind`].
//!
//! [`run`] blocks the calling thread until the run is over ([`run_until`]
//! also stops early when a [`CancellationToken`] is cancelled); call it
//! from outside any async runtime (from async code, use `spawn_blocking`).
//!
//! ```no_run
//! use std::time::Duration;
//! use ricochet::bench::{self, progress::Silent, report::{Report, Text}, BenchConfig};
//!
//! let config = BenchConfig {
//!     targets: vec!["tcp://127.0.0.1:1234".parse()?],
//!     connections: 10,
//!     size: 1024,
//!     duration: Duration::from_secs(5),
//!     ..BenchConfig::default()
//! };
//! let results = bench::run(&config, &mut Silent)?;
//! print!("{}", String::from_utf8_lossy(&Text.render(&results)?));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod compare;
mod driver;
pub mod merge;
mod payload;
mod probe;
pub mod progress;
pub mod report;
pub mod stats;
mod target;

use std::io;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

pub use tokio_util::sync::CancellationToken;

use crate::echo::EchoError;
use crate::failure::Failure;
use crate::transport::{ConnectError, Endpoint};
use crate::units::{MAX_DURATION, MAX_RATE, MIN_RATE};

pub use compare::Comparison;
pub use payload::PayloadKind;
pub use progress::Progress;
pub use stats::{ErrorKind, RoundResult, Stats, TargetResult};
pub use target::{SourceFamilyError, SourceIps, SourceIpsError};

/// Largest message, and largest batch (`size × pipeline`).
pub const MAX_BATCH: usize = 64 * 1024 * 1024;
/// Persistent connections above which `--source-ips auto` spreads them.
pub(crate) const MANY_CONNECTIONS: usize = 10_000;
/// How often progress is updated while a round runs.
const TICK: Duration = Duration::from_millis(100);

/// What traffic each connection slot generates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Workload {
    /// Persistent connections exchanging messages (the default).
    #[default]
    Echo,
    /// The tutorial's client, over and over: connect, send one message,
    /// read the echo, close. Measures connections per second.
    OneShot,
    /// Connect and close, nothing sent: the accept path alone.
    ConnectOnly,
}

impl Workload {
    /// The name used in reports and the JSON schema.
    pub fn name(self) -> &'static str {
        match self {
            Workload::Echo => "echo",
            Workload::OneShot => "one_shot",
            Workload::ConnectOnly => "connect_only",
        }
    }

    /// What one counted unit is: a message, or a whole connection.
    pub fn unit(self) -> &'static str {
        match self {
            Workload::Echo => "messages",
            Workload::OneShot | Workload::ConnectOnly => "connections",
        }
    }
}

/// A benchmark, independent of any command line.
#[derive(Debug, Clone)]
pub struct BenchConfig {
    /// Servers to measure; several make a comparison.
    pub targets: Vec<Endpoint>,
    /// What each connection slot does.
    pub workload: Workload,
    /// Concurrent connection slots.
    pub connections: usize,
    /// Bytes per message (the last one is `\n`).
    pub size: usize,
    /// Messages in flight per connection: written together in the closed
    /// loop, the most outstanding in the open loop.
    pub pipeline: usize,
    /// Message content.
    pub payload: PayloadKind,
    /// Open loop at this many messages per second across all connections;
    /// `None` is the closed loop.
    pub rate: Option<f64>,
    /// Measured time per target and round.
    pub duration: Duration,
    /// Unmeasured time before each measured window (connections open here).
    pub warmup: Duration,
    /// Rounds; each runs every target once, in order.
    pub rounds: usize,
    /// Load threads (at most one per connection is used).
    pub threads: usize,
    /// Longest wait for a connection or for echo bytes owed.
    pub timeout: Duration,
    /// Source addresses for TCP connections.
    pub source_ips: SourceIps,
}

impl Default for BenchConfig {
    fn default() -> Self {
        BenchConfig {
            targets: Vec::new(),
            workload: Workload::Echo,
            connections: 10,
            size: 1024,
            pipeline: 1,
            payload: PayloadKind::Fixed,
            rate: None,
            duration: Duration::from_secs(10),
            warmup: Duration::from_secs(1),
            rounds: 1,
            threads: default_threads(),
            timeout: Duration::from_secs(5),
            source_ips: SourceIps::Auto,
        }
    }
}

/// One load thread per core available to this process.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

impl BenchConfig {
    /// Checks the options fit together.
    pub fn validate(&self) -> Result<(), BenchError> {
        let bad = |why: &'static str| Err(BenchError::Config(why));
        if self.targets.is_empty() {
            return bad("at least one target is needed");
        }
        if self.connections == 0 {
            return bad("--connections must be at least 1");
        }
        if self.size == 0 || self.pipeline == 0 {
            return bad("--size and --pipeline must be at least 1");
        }
        if self.size.saturating_mul(self.pipeline) > MAX_BATCH {
            return bad("--size × --pipeline must be at most 64 MiB");
        }
        if self.pipeline > 1 && self.workload != Workload::Echo {
            return bad(
                "--pipeline needs persistent connections (not --one-shot or --connect-only)",
            );
        }
        if let Some(rate) = self.rate {
            if !(MIN_RATE..=MAX_RATE).contains(&rate) {
                return bad("--rate must be from 0.001 to 1e9 messages per second");
            }
        }
        if self.duration.is_zero() {
            return bad("--duration must be more than 0");
        }
        // Every deadline is an `Instant` plus these: keep them addable.
        if self.duration > MAX_DURATION || self.warmup > MAX_DURATION || self.timeout > MAX_DURATION
        {
            return bad("--duration, --warmup and --timeout must be at most 365 days");
        }
        if self.rounds == 0 || self.threads == 0 {
            return bad("--rounds and --threads must be at least 1");
        }
        if self.timeout.is_zero() {
            return bad("--timeout must be more than 0");
        }
        Ok(())
    }

    /// Threads actually used: no more than connections.
    pub fn effective_threads(&self) -> usize {
        self.threads.min(self.connections).max(1)
    }

    /// Whether this is the open loop.
    pub fn is_open_loop(&self) -> bool {
        self.rate.is_some()
    }
}

/// Why a benchmark could not run. Failures *during* the run are not errors:
/// they are counted in [`Stats::errors`].
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// The options contradict each other.
    #[error("invalid benchmark options: {0}")]
    Config(&'static str),
    /// A target is unreachable.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// A target answers, but not like an echo server.
    #[error("{endpoint} does not look like an echo server: {reason}")]
    NotEcho {
        /// The target.
        endpoint: Endpoint,
        /// What its echo did instead.
        reason: EchoError,
    },
    /// A target echoes once per connection, then closes.
    #[error("{endpoint} closed the connection after its first echo: it looks like a one-message server (such as `ricochet serve --mode once`); measure it with --one-shot")]
    OneMessageServer {
        /// The target.
        endpoint: Endpoint,
    },
    /// `--source-ips` cannot reach a target.
    #[error(transparent)]
    SourceFamily(#[from] SourceFamilyError),
    /// The probe could not learn the target's address.
    #[error("probing {endpoint}: {error}")]
    Probe {
        /// The target.
        endpoint: Endpoint,
        /// The system error.
        error: io::Error,
    },
    /// A load thread or runtime could not start.
    #[error("could not run the load threads: {0}")]
    Threads(io::Error),
    /// [`run`] was called from async code; it blocks, and would stall the
    /// runtime driving the caller.
    #[error("bench::run blocks until the benchmark is over: call it outside the async runtime (e.g. in spawn_blocking)")]
    InsideRuntime,
}

impl BenchError {
    /// What this failure means to a script. Options that contradict each
    /// other (such as `--size` × `--pipeline` over 64 MiB) are a usage
    /// error, like any bad flag. A target that answers but not like an echo
    /// server is a plain failure, whatever its echo did: the benchmark
    /// never started.
    pub fn failure(&self) -> Failure {
        match self {
            BenchError::Connect(e) => e.failure(),
            BenchError::Config(_) => Failure::Usage,
            BenchError::SourceFamily(_)
            | BenchError::NotEcho { .. }
            | BenchError::OneMessageServer { .. }
            | BenchError::Probe { .. }
            | BenchError::Threads(_)
            | BenchError::InsideRuntime => Failure::Other,
        }
    }
}

/// Everything a run measured, ready for any report.
#[derive(Debug, Clone)]
pub struct BenchResults {
    /// The configuration that ran.
    pub config: BenchConfig,
    /// When the run started (wall clock, for logs that merge runs).
    pub started: SystemTime,
    /// Load threads used.
    pub threads: usize,
    /// Per target, in the order given.
    pub targets: Vec<TargetResult>,
    /// Source addresses each target's connections used (empty: the
    /// system's choice), in target order.
    pub sources: Vec<Vec<std::net::IpAddr>>,
    /// With several targets: each against the first.
    pub comparison: Option<Comparison>,
    /// The run was stopped early (Ctrl-C): the last round measured may be
    /// partial ([`RoundResult::interrupted`]) and later ones never ran.
    pub interrupted: bool,
}

impl BenchResults {
    /// Mismatches plus short echoes over all targets and rounds. Non-zero
    /// means some server did not echo faithfully.
    pub fn verification_errors(&self) -> u64 {
        self.targets
            .iter()
            .flat_map(|t| &t.rounds)
            .map(|r| r.stats.errors.verification())
            .sum()
    }
}

/// Runs the benchmark: probes each target, then `rounds` rounds of every
/// target in turn (A B A B ...), so drift on a shared machine hits all of
/// them alike.
///
/// Blocks the calling thread until the run is over (it starts its own load
/// threads and runtimes). Called from within a tokio runtime it returns
/// [`BenchError::InsideRuntime`] instead of stalling that runtime.
pub fn run(config: &BenchConfig, progress: &mut dyn Progress) -> Result<BenchResults, BenchError> {
    run_until(config, progress, &CancellationToken::new())
}

/// [`run`], stopping early when `stop` is cancelled (the command line
/// cancels it on Ctrl-C): the load threads stop at once, the round they
/// were in is kept as [`RoundResult::interrupted`] with the time it really
/// measured, no further round starts, and the results say
/// [`BenchResults::interrupted`].
pub fn run_until(
    config: &BenchConfig,
    progress: &mut dyn Progress,
    stop: &CancellationToken,
) -> Result<BenchResults, BenchError> {
    if tokio::runtime::Handle::try_current().is_ok() {
        return Err(BenchError::InsideRuntime);
    }
    config.validate()?;
    let started = SystemTime::now();
    let t0 = Instant::now();
    let targets = probe_all(config)?;
    let threads = config.effective_threads();
    let mut results: Vec<TargetResult> = targets
        .iter()
        .map(|t| TargetResult {
            endpoint: t.endpoint.clone(),
            rounds: Vec::new(),
        })
        .collect();
    'rounds: for round in 1..=config.rounds {
        for (i, target) in targets.iter().enumerate() {
            if stop.is_cancelled() {
                break 'rounds;
            }
            progress.round_started(progress::Round {
                endpoint: &target.endpoint,
                index: i,
                number: round,
                config,
            });
            let start = Instant::now();
            let measure_from = start + config.warmup;
            let end = measure_from + config.duration;
            let plan = Arc::new(driver::Plan {
                target: target.clone(),
                workload: config.workload,
                connections: config.connections,
                threads,
                size: config.size,
                pipeline: config.pipeline,
                payload: config.payload,
                rate: config.rate,
                timeout: config.timeout,
                start,
                measure_from,
                end,
                stop: stop.clone(),
            });
            let stats = driver::start(plan)
                .and_then(|running| {
                    running.wait(TICK, |mut now| {
                        now.elapsed = start.elapsed();
                        progress.tick(&now);
                    })
                })
                .map_err(BenchError::Threads)?;
            // The threads stop within moments of a cancellation: the
            // window ran until now.
            let interrupted = stop.is_cancelled() && Instant::now() < end;
            let stopped = if interrupted { Instant::now() } else { end };
            let result = stats::RoundResult {
                round,
                started: measure_from.saturating_duration_since(t0),
                seconds: stopped
                    .saturating_duration_since(measure_from)
                    .as_secs_f64(),
                stats,
                interrupted,
            };
            progress.round_finished(&result);
            results[i].rounds.push(result);
            if interrupted {
                break 'rounds;
            }
        }
    }
    let comparison = (results.len() > 1).then(|| compare::compare(&results));
    Ok(BenchResults {
        config: config.clone(),
        started,
        threads,
        sources: targets.iter().map(|t| t.sources().to_vec()).collect(),
        targets: results,
        comparison,
        interrupted: stop.is_cancelled(),
    })
}

/// Probes every target before any load, so a typo in the last target fails
/// the run at once, not after the first ones have been measured.
fn probe_all(config: &BenchConfig) -> Result<Vec<Arc<target::Target>>, BenchError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(BenchError::Threads)?;
    let message = payload::Payload::new(config.payload, config.size, 1, u64::MAX);
    // New connections all the time, or more than one source's port range
    // comfortably holds: spread them over source addresses.
    let many_connections =
        config.workload != Workload::Echo || config.connections > MANY_CONNECTIONS;
    rt.block_on(async {
        let mut targets = Vec::new();
        for endpoint in &config.targets {
            let address = probe::probe(
                endpoint,
                message.message(0),
                config.workload,
                config.timeout,
            )
            .await?;
            let target = target::Target::new(
                endpoint.clone(),
                address,
                &config.source_ips,
                many_connections,
            )?;
            targets.push(Arc::new(target));
        }
        Ok(targets)
    })
}
