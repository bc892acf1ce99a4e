//! The live view while a benchmark runs: what one implements.
//!
//! [`crate::bench::run`] reports through the [`Progress`] trait, so the
//! library never decides where (or whether) anything is drawn. [`Silent`]
//! shows nothing; the command line's terminal bar and plain lines live
//! with the command line, which is the only place that knows about
//! terminals.
//!
//! A view sees the same figures the report will show: [`Snapshot`] counts
//! messages inside the measured window apart from warm-up ones, errors by
//! kind over the whole round (as the report does), and
//! [`Progress::round_finished`] gets the round's own result, so a view's
//! last line can only agree with the report.

use std::time::Duration;

use crate::bench::stats::{ErrorCounts, RoundResult};
use crate::bench::BenchConfig;
use crate::transport::Endpoint;

/// A target's round, as a progress view sees it.
#[derive(Debug, Clone, Copy)]
pub struct Round<'a> {
    /// The target.
    pub endpoint: &'a Endpoint,
    /// Which target, counting from 0.
    pub index: usize,
    /// Which round, counting from 1.
    pub number: usize,
    /// The benchmark's configuration.
    pub config: &'a BenchConfig,
}

impl Round<'_> {
    /// How much of the whole run (every target, every round) is done, from
    /// 0 to 1, when this round has run for `elapsed`.
    ///
    /// ```
    /// use std::time::Duration;
    /// use ricochet::bench::{progress::Round, BenchConfig};
    ///
    /// let a = "tcp://127.0.0.1:1".parse()?;
    /// let config = BenchConfig {
    ///     targets: vec![a, "tcp://127.0.0.1:2".parse()?],
    ///     rounds: 2,
    ///     warmup: Duration::ZERO,
    ///     duration: Duration::from_secs(10),
    ///     ..BenchConfig::default()
    /// };
    /// // Round 2 of target B (the fourth and last window), half way.
    /// let round = Round { endpoint: &config.targets[1], index: 1, number: 2, config: &config };
    /// assert_eq!(round.overall(Duration::from_secs(5)), 0.875);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn overall(&self, elapsed: Duration) -> f64 {
        let per_window = (self.config.warmup + self.config.duration).as_secs_f64();
        let windows = (self.config.rounds * self.config.targets.len()).max(1) as f64;
        let before = ((self.number - 1) * self.config.targets.len() + self.index) as f64;
        let this = if per_window > 0.0 {
            (elapsed.as_secs_f64() / per_window).min(1.0)
        } else {
            1.0
        };
        ((before + this) / windows).min(1.0)
    }
}

/// What a round has done so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// Time since the round started (warm-up included).
    pub elapsed: Duration,
    /// Messages completed during warm-up: not measured, not in the report.
    pub warmup_messages: u64,
    /// Messages completed inside the measured window: what the report
    /// counts (connections, in one-shot and connect-only runs).
    pub messages: u64,
    /// Errors by kind, warm-up included, as the report counts them.
    pub errors: ErrorCounts,
}

/// Receives progress while a benchmark runs. Every method has an empty
/// default, so a view implements only what it shows.
pub trait Progress {
    /// A target's round begins.
    fn round_started(&mut self, round: Round<'_>) {
        let _ = round;
    }

    /// The round so far, about ten times a second.
    fn tick(&mut self, now: &Snapshot) {
        let _ = now;
    }

    /// The round is over (or was interrupted): `result` is exactly what
    /// the report will show for it.
    fn round_finished(&mut self, result: &RoundResult) {
        let _ = result;
    }
}

/// Shows nothing.
#[derive(Debug, Default)]
pub struct Silent;

impl Progress for Silent {}
