//! The live view while a benchmark runs: what one implements.
//!
//! [`crate::bench::run`] reports through the [`Progress`] trait, so the
//! library never decides where (or whether) anything is drawn. [`Silent`]
//! shows nothing; the command line's terminal bar and plain lines live
//! with the command line, which is the only place that knows about
//! terminals.

use std::time::Duration;

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

/// Receives progress while a benchmark runs. Every method has an empty
/// default, so a view implements only what it shows.
pub trait Progress {
    /// A target's round begins.
    fn round_started(&mut self, round: Round<'_>) {
        let _ = round;
    }

    /// Totals so far in this round (warm-up included), about ten times a
    /// second.
    fn tick(&mut self, elapsed: Duration, messages: u64, errors: u64) {
        let _ = (elapsed, messages, errors);
    }

    /// The round is over.
    fn round_finished(&mut self) {}
}

/// Shows nothing.
#[derive(Debug, Default)]
pub struct Silent;

impl Progress for Silent {}
