//! The JSON report: a stable, versioned schema for scripts and dashboards,
//! documented field by field in `docs/bench-json-schema.md`.
//!
//! The schema types here are separate from the internal result types on
//! purpose: the internals may change, the schema only with a new
//! [`SCHEMA_VERSION`]. Adding a field is compatible; renaming, removing or
//! changing the meaning of one is not. Every type is `Deserialize` too, so
//! consumers written in Rust (and our tests) can read a report back.

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use crate::bench::compare::{self, Estimate, RobustRatio};
use crate::bench::report::{Report, ReportError};
use crate::bench::stats::{per_sec, percentile_of, ErrorCounts, ErrorKind, Stats};
use crate::bench::BenchResults;

/// The version of the schema below; bumped on incompatible changes.
pub const SCHEMA_VERSION: u32 = 1;

/// Pretty-printed JSON following [`JsonReport`].
#[derive(Debug, Default, Clone, Copy)]
pub struct Json;

impl Report for Json {
    fn render(&self, results: &BenchResults) -> Result<Vec<u8>, ReportError> {
        let mut out = serde_json::to_vec_pretty(&JsonReport::from(results))?;
        out.push(b'\n');
        Ok(out)
    }
}

/// The whole report.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonReport {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Always `"ricochet"`.
    pub tool: String,
    /// The ricochet version that ran.
    pub tool_version: String,
    /// When the run started, seconds since the Unix epoch.
    pub started_unix_secs: f64,
    /// What ran.
    pub config: JsonConfig,
    /// Per target, in the order given.
    pub targets: Vec<JsonTarget>,
    /// With several targets: each against the first; otherwise `null`.
    pub comparison: Option<JsonComparison>,
    /// True if any echo was wrong or short (the process then exits 6).
    pub verification_failed: bool,
    /// True if the run was stopped early (Ctrl-C; the process then exits
    /// 130): the last round may be partial and later ones are missing.
    /// Absent (so `false`) in reports written before it was added.
    #[serde(default)]
    pub interrupted: bool,
}

/// The workload and options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonConfig {
    /// `"echo"`, `"one_shot"` or `"connect_only"`.
    pub workload: String,
    /// `"closed"` or `"open"`.
    pub loop_kind: String,
    /// Open loop: requested messages per second across all connections.
    pub rate: Option<f64>,
    /// Concurrent connection slots.
    pub connections: u64,
    /// Messages in flight per connection.
    pub pipeline: u64,
    /// Bytes per message.
    pub size: u64,
    /// `"fixed"` or `"random"`.
    pub payload: String,
    /// Load threads used.
    pub threads: u64,
    /// Measured seconds per target and round.
    pub duration_secs: f64,
    /// Warm-up seconds before each measured window.
    pub warmup_secs: f64,
    /// Rounds.
    pub rounds: u64,
    /// Connect and echo timeout, seconds.
    pub timeout_secs: f64,
}

/// One target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonTarget {
    /// The endpoint, e.g. `tcp://127.0.0.1:1234` or `unix:/tmp/e.sock`.
    pub endpoint: String,
    /// Source addresses its connections were spread over (empty: the
    /// system's choice).
    pub source_ips: Vec<String>,
    /// All rounds together.
    pub total: JsonSummary,
    /// Round by round.
    pub rounds: Vec<JsonRound>,
}

/// One round of one target.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonRound {
    /// Round number, from 1.
    pub round: u64,
    /// When its measured window began, seconds after the run started.
    pub started_secs: f64,
    /// What it measured.
    pub summary: JsonSummary,
    /// The run was interrupted (Ctrl-C) during this round: its summary
    /// covers only `summary.seconds`, and comparisons leave it out
    /// (absent, so `false`, in reports written before it was added).
    #[serde(default)]
    pub interrupted: bool,
}

/// The figures of one measured window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonSummary {
    /// Length of the measured window(s).
    pub seconds: f64,
    /// Completed, verified messages (connections in one-shot and
    /// connect-only runs).
    pub messages: u64,
    /// `messages / seconds`.
    pub messages_per_sec: f64,
    /// Verified echoed bytes (one direction).
    pub bytes: u64,
    /// `bytes / seconds`.
    pub bytes_per_sec: f64,
    /// Connections opened, warm-up included.
    pub connections: u64,
    /// Errors by kind, warm-up included.
    pub errors: JsonErrors,
    /// Latency distribution, nanoseconds.
    pub latency_ns: JsonLatency,
}

/// Error counts by kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JsonErrors {
    /// Echo differed from what was sent (or was longer).
    pub mismatch: u64,
    /// Server closed before echoing everything.
    pub short_echo: u64,
    /// Connection reset or broken mid-exchange.
    pub reset: u64,
    /// No echo bytes for the timeout while some were owed.
    pub timeout: u64,
    /// Connection attempts that failed.
    pub connect: u64,
    /// Other socket errors.
    pub other: u64,
}

/// Latency distribution in nanoseconds (all 0 when nothing completed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonLatency {
    /// Samples (equals `messages`).
    pub count: u64,
    /// Smallest.
    pub min: u64,
    /// Mean.
    pub mean: f64,
    /// Standard deviation.
    pub stdev: f64,
    /// Median.
    pub p50: u64,
    /// 90th percentile.
    pub p90: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p99_9: u64,
    /// 99.99th percentile.
    pub p99_99: u64,
    /// Largest.
    pub max: u64,
}

/// The comparison of several targets.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonComparison {
    /// How intervals and ratios are computed.
    pub method: String,
    /// Confidence level of every interval (0.95).
    pub confidence: f64,
    /// Rounds compared.
    pub rounds: u64,
    /// Per target, in order; the first is the baseline.
    pub targets: Vec<JsonTargetComparison>,
}

/// One target against the first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonTargetComparison {
    /// The endpoint.
    pub endpoint: String,
    /// Messages per second over rounds.
    pub messages_per_sec: JsonEstimate,
    /// Median latency over rounds, nanoseconds.
    pub p50_ns: JsonEstimate,
    /// 99th percentile latency over rounds, nanoseconds.
    pub p99_ns: JsonEstimate,
    /// 99.9th percentile latency over rounds, nanoseconds (absent, so
    /// zero with `n` 0, in reports written before it was added).
    #[serde(default)]
    pub p99_9_ns: JsonEstimate,
    /// Messages per second relative to the first target, paired per round.
    pub ratio_messages_per_sec: Option<JsonEstimate>,
    /// p50 relative to the first target.
    pub ratio_p50: Option<JsonEstimate>,
    /// p99 relative to the first target.
    pub ratio_p99: Option<JsonEstimate>,
    /// p99.9 relative to the first target.
    #[serde(default)]
    pub ratio_p99_9: Option<JsonEstimate>,
    /// p99 relative to the first target as a ratio of medians over rounds
    /// with a bootstrap interval: robust to one noisy round (absent in
    /// reports written before it was added).
    #[serde(default)]
    pub ratio_p99_robust: Option<JsonRobustRatio>,
    /// p99.9 relative to the first target, the same way.
    #[serde(default)]
    pub ratio_p99_9_robust: Option<JsonRobustRatio>,
}

/// A ratio of medians over rounds with a percentile-bootstrap interval.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonRobustRatio {
    /// `median(target_r) / median(first_r)` over the rounds.
    pub ratio: f64,
    /// Lower bound of the 95% bootstrap interval; `null` with one round.
    pub ci_low: Option<f64>,
    /// Upper bound; `null` with one round.
    pub ci_high: Option<f64>,
    /// Rounds used.
    pub n: u64,
    /// Bootstrap resamples behind the interval (2000).
    pub resamples: u64,
}

/// A mean with a 95% confidence interval.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct JsonEstimate {
    /// Mean over rounds.
    pub mean: f64,
    /// Lower bound; `null` with fewer than two rounds.
    pub ci_low: Option<f64>,
    /// Upper bound; `null` with fewer than two rounds.
    pub ci_high: Option<f64>,
    /// Rounds used.
    pub n: u64,
}

impl From<&BenchResults> for JsonReport {
    fn from(r: &BenchResults) -> Self {
        let c = &r.config;
        let started_unix_secs = r
            .started
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        JsonReport {
            schema_version: SCHEMA_VERSION,
            tool: "ricochet".to_owned(),
            tool_version: env!("CARGO_PKG_VERSION").to_owned(),
            started_unix_secs,
            config: JsonConfig {
                workload: c.workload.name().to_owned(),
                loop_kind: if c.is_open_loop() { "open" } else { "closed" }.to_owned(),
                rate: c.rate,
                connections: c.connections as u64,
                pipeline: c.pipeline as u64,
                size: c.size as u64,
                payload: c.payload.name().to_owned(),
                threads: r.threads as u64,
                duration_secs: c.duration.as_secs_f64(),
                warmup_secs: c.warmup.as_secs_f64(),
                rounds: c.rounds as u64,
                timeout_secs: c.timeout.as_secs_f64(),
            },
            targets: r
                .targets
                .iter()
                .enumerate()
                .map(|(i, t)| JsonTarget {
                    endpoint: t.endpoint.to_string(),
                    source_ips: r
                        .sources
                        .get(i)
                        .map(|s| s.iter().map(ToString::to_string).collect())
                        .unwrap_or_default(),
                    total: summary(&t.total(), t.seconds()),
                    rounds: t
                        .rounds
                        .iter()
                        .map(|round| JsonRound {
                            round: round.round as u64,
                            started_secs: round.started.as_secs_f64(),
                            summary: summary(&round.stats, round.seconds),
                            interrupted: round.interrupted,
                        })
                        .collect(),
                })
                .collect(),
            comparison: r.comparison.as_ref().map(|cmp| JsonComparison {
                method: compare::METHOD.to_owned(),
                confidence: compare::CONFIDENCE,
                rounds: cmp.rounds as u64,
                targets: cmp
                    .targets
                    .iter()
                    .map(|t| JsonTargetComparison {
                        endpoint: t.endpoint.to_string(),
                        messages_per_sec: estimate(&t.messages_per_sec),
                        p50_ns: estimate(&t.p50_ns),
                        p99_ns: estimate(&t.p99_ns),
                        p99_9_ns: estimate(&t.p99_9_ns),
                        ratio_messages_per_sec: t.ratio_messages_per_sec.as_ref().map(estimate),
                        ratio_p50: t.ratio_p50.as_ref().map(estimate),
                        ratio_p99: t.ratio_p99.as_ref().map(estimate),
                        ratio_p99_9: t.ratio_p99_9.as_ref().map(estimate),
                        ratio_p99_robust: t.ratio_p99_robust.as_ref().map(robust),
                        ratio_p99_9_robust: t.ratio_p99_9_robust.as_ref().map(robust),
                    })
                    .collect(),
            }),
            verification_failed: r.verification_errors() > 0,
            interrupted: r.interrupted,
        }
    }
}

fn summary(s: &Stats, seconds: f64) -> JsonSummary {
    JsonSummary {
        seconds,
        messages: s.messages,
        messages_per_sec: per_sec(s.messages, seconds),
        bytes: s.bytes,
        bytes_per_sec: per_sec(s.bytes, seconds),
        connections: s.connections,
        errors: errors(&s.errors),
        latency_ns: latency_of(&s.histogram),
    }
}

/// Summary of one latency histogram (nanoseconds); zeros when empty.
pub(crate) fn latency_of(h: &Histogram<u64>) -> JsonLatency {
    let empty = h.is_empty();
    let at = |p: f64| percentile_of(h, p);
    JsonLatency {
        count: h.len(),
        min: if empty { 0 } else { h.min() },
        mean: if empty { 0.0 } else { h.mean() },
        stdev: if empty { 0.0 } else { h.stdev() },
        p50: at(50.0),
        p90: at(90.0),
        p99: at(99.0),
        p99_9: at(99.9),
        p99_99: at(99.99),
        max: at(100.0),
    }
}

/// `ricochet bench --merge` output: merged latency per tag and overall.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JsonMerge {
    /// [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// Intervals read from all logs.
    pub intervals: usize,
    /// Merged latency per interval tag (target endpoint).
    pub tags: std::collections::BTreeMap<String, JsonLatency>,
    /// Every interval together.
    pub all: JsonLatency,
    /// The workload the logs name (`"workload=echo loop=closed"`), or
    /// `null` if none does (absent in output written before it was added).
    #[serde(default)]
    pub workload: Option<String>,
}

impl JsonMerge {
    /// Summarises merged logs.
    pub fn new(m: &crate::bench::merge::Merged) -> Self {
        JsonMerge {
            schema_version: SCHEMA_VERSION,
            intervals: m.intervals,
            tags: m
                .per_tag
                .iter()
                .map(|(t, h)| (t.clone(), latency_of(h)))
                .collect(),
            all: latency_of(&m.all),
            workload: m.workload.clone(),
        }
    }
}

fn errors(e: &ErrorCounts) -> JsonErrors {
    JsonErrors {
        mismatch: e.get(ErrorKind::Mismatch),
        short_echo: e.get(ErrorKind::ShortEcho),
        reset: e.get(ErrorKind::Reset),
        timeout: e.get(ErrorKind::Timeout),
        connect: e.get(ErrorKind::Connect),
        other: e.get(ErrorKind::Other),
    }
}

fn robust(r: &RobustRatio) -> JsonRobustRatio {
    JsonRobustRatio {
        ratio: r.ratio,
        ci_low: r.interval.map(|i| i.0),
        ci_high: r.interval.map(|i| i.1),
        n: r.n as u64,
        resamples: compare::BOOTSTRAP_RESAMPLES as u64,
    }
}

fn estimate(e: &Estimate) -> JsonEstimate {
    JsonEstimate {
        mean: e.mean,
        ci_low: e.interval.map(|i| i.0),
        ci_high: e.interval.map(|i| i.1),
        n: e.n as u64,
    }
}
