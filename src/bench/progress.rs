//! The live view while a benchmark runs.
//!
//! [`crate::bench::run`] reports through the [`Progress`] trait, so the
//! library never decides where (or whether) anything is drawn. [`Bar`] is an
//! `indicatif` progress bar for terminals; [`Silent`] shows nothing, which is
//! what `ricochet bench` uses when stderr is not a terminal: logs and pipes
//! get the results and nothing else.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::bench::BenchConfig;
use crate::endpoint::Endpoint;

/// Receives progress while a benchmark runs. Every method has an empty
/// default, so a view implements only what it shows.
pub trait Progress {
    /// A target's round begins (`index` counts targets from 0, `round`
    /// counts rounds from 1).
    fn round_started(
        &mut self,
        endpoint: &Endpoint,
        index: usize,
        round: usize,
        config: &BenchConfig,
    ) {
        let _ = (endpoint, index, round, config);
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

/// A progress bar on stderr: target, round, phase, live rate and errors.
#[derive(Debug, Default)]
pub struct Bar {
    bar: Option<ProgressBar>,
    warmup: Duration,
    unit: &'static str,
    last: Option<(Duration, u64)>,
}

impl Bar {
    /// A bar drawn on stderr.
    pub fn new() -> Self {
        Bar::default()
    }
}

impl Progress for Bar {
    fn round_started(
        &mut self,
        endpoint: &Endpoint,
        index: usize,
        round: usize,
        config: &BenchConfig,
    ) {
        let total = config.warmup + config.duration;
        let bar = ProgressBar::with_draw_target(
            Some(total.as_millis() as u64),
            ProgressDrawTarget::stderr_with_hz(10),
        );
        bar.set_style(
            ProgressStyle::with_template("{prefix} [{bar:30}] {msg}")
                .expect("static template is valid")
                .progress_chars("=> "),
        );
        let name = if config.targets.len() > 1 {
            format!("{} {endpoint}", target_letter(index))
        } else {
            endpoint.to_string()
        };
        let prefix = if config.rounds > 1 {
            format!("{name} round {round}/{}", config.rounds)
        } else {
            name
        };
        bar.set_prefix(prefix);
        bar.set_message(if config.warmup.is_zero() {
            "starting"
        } else {
            "warming up"
        });
        self.warmup = config.warmup;
        self.unit = if config.workload == crate::bench::Workload::Echo {
            "msg/s"
        } else {
            "conn/s"
        };
        self.last = None;
        self.bar = Some(bar);
    }

    fn tick(&mut self, elapsed: Duration, messages: u64, errors: u64) {
        let Some(bar) = &self.bar else { return };
        bar.set_position(elapsed.as_millis() as u64);
        let rate = match self.last {
            Some((t, m)) if elapsed > t => (messages - m) as f64 / (elapsed - t).as_secs_f64(),
            _ => 0.0,
        };
        self.last = Some((elapsed, messages));
        let phase = if elapsed < self.warmup {
            "warming up, "
        } else {
            ""
        };
        bar.set_message(format!(
            "{phase}{} {}, {errors} errors",
            crate::bench::report::format::si(rate),
            self.unit
        ));
    }

    fn round_finished(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// `A`, `B`, ... `Z`, then `T27`...: how reports name compared targets.
pub fn target_letter(index: usize) -> String {
    match u8::try_from(index) {
        Ok(i) if i < 26 => char::from(b'A' + i).to_string(),
        _ => format!("T{}", index + 1),
    }
}
