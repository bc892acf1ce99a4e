//! What a benchmark measured: latency histograms, message and byte counts,
//! and errors sorted by kind.
//!
//! Each load thread owns a `Recorder` and writes to it without locks; the
//! recorders are merged into one [`Stats`] per target and round when the
//! threads finish. Latencies go into an HdrHistogram in nanoseconds with 3
//! significant figures, recorded as measured: no coordinated-omission
//! correction is applied here, because the open loop already measures from
//! each message's *intended* send time (see the `driver` module).
//!
//! Errors are never folded into latency: a message that was not echoed, or
//! echoed wrong, is counted under its [`ErrorKind`] and contributes no
//! latency sample.

use std::fmt;
use std::io;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;

use crate::echo::EchoError;
use crate::transport::Endpoint;

/// Largest latency the histograms track (one hour, in nanoseconds); larger
/// samples are recorded as this value.
pub(crate) const MAX_LATENCY_NS: u64 = 3_600 * 1_000_000_000;
/// Significant figures the histograms keep.
pub(crate) const SIGFIG: u8 = 3;

/// The latency percentiles every report shows, with their display names.
pub const PERCENTILES: [(&str, f64); 6] = [
    ("p50", 50.0),
    ("p90", 90.0),
    ("p99", 99.0),
    ("p99.9", 99.9),
    ("p99.99", 99.99),
    ("max", 100.0),
];

/// Why a message (or a connection) failed. Each kind is counted apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A connection attempt failed (refused, timed out, no free port...).
    Connect,
    /// No echo bytes arrived for `--timeout` while some were owed (the
    /// rule of the echo watchdog).
    Timeout,
    /// The connection was reset (or the pipe broke), or the server closed
    /// it while nothing was owed.
    Reset,
    /// An echoed byte differed from what was sent, or more came back than
    /// was sent.
    Mismatch,
    /// The server closed the connection before echoing everything.
    ShortEcho,
    /// Any other socket error.
    Other,
}

impl ErrorKind {
    /// Every kind, in report order.
    pub const ALL: [ErrorKind; 6] = [
        ErrorKind::Mismatch,
        ErrorKind::ShortEcho,
        ErrorKind::Reset,
        ErrorKind::Timeout,
        ErrorKind::Connect,
        ErrorKind::Other,
    ];

    /// The name used in reports and the JSON schema.
    pub fn name(self) -> &'static str {
        match self {
            ErrorKind::Connect => "connect",
            ErrorKind::Timeout => "timeout",
            ErrorKind::Reset => "reset",
            ErrorKind::Mismatch => "mismatch",
            ErrorKind::ShortEcho => "short_echo",
            ErrorKind::Other => "other",
        }
    }

    /// Whether this kind means the echo itself was wrong (these set a
    /// non-zero exit code), as opposed to a failing connection.
    pub fn is_verification(self) -> bool {
        matches!(self, ErrorKind::Mismatch | ErrorKind::ShortEcho)
    }
}

impl From<&EchoError> for ErrorKind {
    /// The kind an echo failure is counted under.
    fn from(error: &EchoError) -> Self {
        match error {
            EchoError::Connect(_) => ErrorKind::Connect,
            EchoError::Timeout { .. } => ErrorKind::Timeout,
            EchoError::Mismatch { .. } | EchoError::Extra { .. } => ErrorKind::Mismatch,
            EchoError::Short { .. } => ErrorKind::ShortEcho,
            EchoError::Io { error, .. } => match error.kind() {
                io::ErrorKind::ConnectionReset
                | io::ErrorKind::ConnectionAborted
                | io::ErrorKind::BrokenPipe
                | io::ErrorKind::UnexpectedEof => ErrorKind::Reset,
                io::ErrorKind::TimedOut => ErrorKind::Timeout,
                _ => ErrorKind::Other,
            },
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Error counts by kind.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ErrorCounts {
    counts: [u64; ErrorKind::ALL.len()],
}

impl ErrorCounts {
    fn slot(kind: ErrorKind) -> usize {
        kind as usize
    }

    /// Counts one error.
    pub fn add(&mut self, kind: ErrorKind) {
        self.counts[Self::slot(kind)] += 1;
    }

    /// How many errors of `kind`.
    pub fn get(&self, kind: ErrorKind) -> u64 {
        self.counts[Self::slot(kind)]
    }

    /// All errors.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Mismatches plus short echoes: the errors that fail a run.
    pub fn verification(&self) -> u64 {
        ErrorKind::ALL
            .iter()
            .filter(|k| k.is_verification())
            .map(|&k| self.get(k))
            .sum()
    }

    /// Adds another set of counts to this one.
    pub fn merge(&mut self, other: &ErrorCounts) {
        for (a, b) in self.counts.iter_mut().zip(other.counts) {
            *a += b;
        }
    }
}

/// Everything measured for one target in one window.
#[derive(Debug, Clone)]
pub struct Stats {
    /// Round-trip latency of every completed message, in nanoseconds.
    pub histogram: Histogram<u64>,
    /// Messages (or, in one-shot and connect-only runs, connections)
    /// completed and verified inside the measured window.
    pub messages: u64,
    /// Echoed and verified bytes inside the measured window (one direction).
    pub bytes: u64,
    /// Connections opened, warm-up included.
    pub connections: u64,
    /// Errors by kind, warm-up included: a wrong echo is never warm-up noise.
    pub errors: ErrorCounts,
}

impl Default for Stats {
    fn default() -> Self {
        Stats {
            histogram: Histogram::new_with_bounds(1, MAX_LATENCY_NS, SIGFIG)
                .expect("static histogram bounds are valid"),
            messages: 0,
            bytes: 0,
            connections: 0,
            errors: ErrorCounts::default(),
        }
    }
}

impl Stats {
    /// Adds `other` to this one.
    pub fn merge(&mut self, other: &Stats) {
        self.histogram
            .add(&other.histogram)
            .expect("histograms share bounds");
        self.messages += other.messages;
        self.bytes += other.bytes;
        self.connections += other.connections;
        self.errors.merge(&other.errors);
    }

    /// Latency at `percentile` (0..=100) in nanoseconds; 0 when empty.
    pub fn latency_at(&self, percentile: f64) -> u64 {
        percentile_of(&self.histogram, percentile)
    }
}

/// Counters a load thread publishes so a progress display can read them
/// while the run goes on. One per thread, written only by that thread (plain
/// stores, no read-modify-write), so the hot path pays no atomic increment.
#[derive(Debug, Default)]
pub(crate) struct Live {
    warmup_messages: AtomicU64,
    messages: AtomicU64,
    errors: [AtomicU64; ErrorKind::ALL.len()],
}

impl Live {
    /// Messages completed during warm-up.
    pub(crate) fn warmup_messages(&self) -> u64 {
        self.warmup_messages.load(Ordering::Relaxed)
    }

    /// Messages completed inside the measured window.
    pub(crate) fn messages(&self) -> u64 {
        self.messages.load(Ordering::Relaxed)
    }

    /// Adds this thread's errors so far to `to`.
    pub(crate) fn add_errors(&self, to: &mut ErrorCounts) {
        for (total, live) in to.counts.iter_mut().zip(&self.errors) {
            *total += live.load(Ordering::Relaxed);
        }
    }
}

/// One thread's recording: plain fields, no locks.
#[derive(Debug)]
pub(crate) struct Recorder {
    stats: Stats,
    measure_from: Instant,
    end: Instant,
    live: Arc<Live>,
    /// Messages completed during warm-up (what `live` shows).
    warmup_messages: u64,
}

impl Recorder {
    /// Records into a window that starts after warm-up and ends at `end`.
    pub(crate) fn new(measure_from: Instant, end: Instant, live: Arc<Live>) -> Self {
        Recorder {
            stats: Stats::default(),
            measure_from,
            end,
            live,
            warmup_messages: 0,
        }
    }

    /// `messages` messages of `bytes` bytes in all completed at `now`, each
    /// after `latency`. Completions outside the window are not counted.
    pub(crate) fn record(&mut self, latency: Duration, messages: u64, bytes: u64, now: Instant) {
        if now < self.measure_from {
            self.warmup_messages += messages;
            self.live
                .warmup_messages
                .store(self.warmup_messages, Ordering::Relaxed);
            return;
        }
        if now >= self.end {
            return;
        }
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.stats.histogram.saturating_record_n(ns, messages);
        self.stats.messages += messages;
        self.stats.bytes += bytes;
        self.live
            .messages
            .store(self.stats.messages, Ordering::Relaxed);
    }

    /// Counts one error.
    pub(crate) fn error(&mut self, kind: ErrorKind) {
        self.stats.errors.add(kind);
        let slot = ErrorCounts::slot(kind);
        self.live.errors[slot].store(self.stats.errors.counts[slot], Ordering::Relaxed);
    }

    /// Counts one connection opened.
    pub(crate) fn connected(&mut self) {
        self.stats.connections += 1;
    }

    /// Takes what was recorded, leaving an empty recording.
    pub(crate) fn take(&mut self) -> Stats {
        std::mem::take(&mut self.stats)
    }
}

/// One target's measurements in one round.
#[derive(Debug, Clone)]
pub struct RoundResult {
    /// Round number, from 1.
    pub round: usize,
    /// When the measured window began, relative to the start of the run.
    pub started: Duration,
    /// Length of the measured window (warm-up excluded); shorter than
    /// `--duration` if the run was interrupted during it.
    pub seconds: f64,
    /// What was measured.
    pub stats: Stats,
    /// The run was interrupted (Ctrl-C) before this window's end: it
    /// covers only `seconds`, and comparisons leave it out.
    pub interrupted: bool,
}

impl RoundResult {
    /// Messages per second in this round.
    pub fn messages_per_sec(&self) -> f64 {
        per_sec(self.stats.messages, self.seconds)
    }
}

/// Everything measured for one target, round by round.
#[derive(Debug, Clone)]
pub struct TargetResult {
    /// The target as given.
    pub endpoint: Endpoint,
    /// One entry per round, in order.
    pub rounds: Vec<RoundResult>,
}

impl TargetResult {
    /// All rounds merged.
    pub fn total(&self) -> Stats {
        let mut total = Stats::default();
        for round in &self.rounds {
            total.merge(&round.stats);
        }
        total
    }

    /// Measured seconds over all rounds.
    pub fn seconds(&self) -> f64 {
        self.rounds.iter().map(|r| r.seconds).sum()
    }
}

/// `count / seconds`, or 0 for an empty window.
pub(crate) fn per_sec(count: u64, seconds: f64) -> f64 {
    if seconds > 0.0 {
        count as f64 / seconds
    } else {
        0.0
    }
}

/// The value at `percentile` (100 means the maximum), or 0 for an empty
/// histogram.
pub fn percentile_of(h: &Histogram<u64>, percentile: f64) -> u64 {
    if h.is_empty() {
        0
    } else if percentile >= 100.0 {
        h.max()
    } else {
        h.value_at_percentile(percentile)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_only_inside_the_window() {
        let t0 = Instant::now();
        let live = Arc::new(Live::default());
        let mut r = Recorder::new(
            t0 + Duration::from_secs(1),
            t0 + Duration::from_secs(2),
            live.clone(),
        );
        r.record(Duration::from_micros(5), 3, 30, t0);
        r.record(
            Duration::from_micros(5),
            2,
            20,
            t0 + Duration::from_millis(1500),
        );
        r.record(Duration::from_micros(5), 1, 10, t0 + Duration::from_secs(2));
        r.error(ErrorKind::Mismatch);
        let s = r.take();
        assert_eq!((s.messages, s.bytes, s.histogram.len()), (2, 20, 2));
        assert_eq!((live.warmup_messages(), live.messages()), (3, 2));
        let mut errors = ErrorCounts::default();
        live.add_errors(&mut errors);
        assert_eq!(errors.get(ErrorKind::Mismatch), 1);
        assert_eq!(s.errors.verification(), 1);
        assert_eq!(s.errors.get(ErrorKind::Mismatch), 1);
    }

    #[test]
    fn error_kinds_have_distinct_slots() {
        let mut e = ErrorCounts::default();
        for (i, kind) in ErrorKind::ALL.iter().enumerate() {
            for _ in 0..=i {
                e.add(*kind);
            }
        }
        for (i, kind) in ErrorKind::ALL.iter().enumerate() {
            assert_eq!(e.get(*kind), i as u64 + 1, "{kind}");
        }
    }
}
