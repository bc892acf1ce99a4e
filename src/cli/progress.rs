//! `bench`'s live view: a progress bar on a terminal, plain lines
//! elsewhere (logs, CI), both on stderr. They implement the library's
//! [`Progress`]; the library itself never draws anything.

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ricochet::bench::progress::Round;
use ricochet::bench::report::format::{self, target_letter};
use ricochet::bench::{BenchConfig, Progress, Workload};

/// Plain progress lines, for output that is not a terminal: one every
/// `every` of a round's run time, and one when the round ends.
#[derive(Debug)]
pub struct Lines<W: Write> {
    out: W,
    every: Duration,
    name: String,
    unit: &'static str,
    warmup: Duration,
    /// The latest tick: elapsed, messages, errors.
    latest: (Duration, u64, u64),
    /// The tick of the latest line printed: elapsed, messages.
    printed: (Duration, u64),
}

impl<W: Write> Lines<W> {
    /// Lines written to `out`, one every `every` while a round runs.
    pub fn new(out: W, every: Duration) -> Self {
        Lines {
            out,
            every,
            name: String::new(),
            unit: "",
            warmup: Duration::ZERO,
            latest: (Duration::ZERO, 0, 0),
            printed: (Duration::ZERO, 0),
        }
    }

    /// Gives the writer back.
    #[cfg(test)]
    pub fn into_inner(self) -> W {
        self.out
    }
}

impl<W: Write> Progress for Lines<W> {
    fn round_started(&mut self, round: Round<'_>) {
        let config = round.config;
        self.name = round_name(round);
        self.unit = unit(config);
        self.warmup = config.warmup;
        self.latest = (Duration::ZERO, 0, 0);
        self.printed = (Duration::ZERO, 0);
    }

    fn tick(&mut self, elapsed: Duration, messages: u64, errors: u64) {
        self.latest = (elapsed, messages, errors);
        if elapsed < self.printed.0 + self.every {
            return;
        }
        let (t, m) = self.printed;
        let rate = (messages - m.min(messages)) as f64 / (elapsed - t).as_secs_f64();
        let phase = if elapsed < self.warmup {
            ", warming up"
        } else {
            ""
        };
        // Progress is best effort: a closed stderr must not stop the run.
        let _ = writeln!(
            self.out,
            "{}: {:.0}s{phase}, {} {}, {errors} errors",
            self.name,
            elapsed.as_secs_f64(),
            format::si(rate),
            self.unit
        );
        self.printed = (elapsed, messages);
    }

    fn round_finished(&mut self) {
        let (elapsed, messages, errors) = self.latest;
        let unit = self.unit.trim_end_matches("/s");
        let _ = writeln!(
            self.out,
            "{}: done, {} {unit} in {:.1}s (warm-up included), {errors} errors",
            self.name,
            format::count(messages),
            elapsed.as_secs_f64(),
        );
        let _ = self.out.flush();
    }
}

/// `A tcp://… round 2/5`: how progress names a target's round.
fn round_name(round: Round<'_>) -> String {
    let Round {
        endpoint,
        index,
        number,
        config,
    } = round;
    let name = if config.targets.len() > 1 {
        format!("{} {endpoint}", target_letter(index))
    } else {
        endpoint.to_string()
    };
    if config.rounds > 1 {
        format!("{name} round {number}/{}", config.rounds)
    } else {
        name
    }
}

fn unit(config: &BenchConfig) -> &'static str {
    if config.workload == Workload::Echo {
        "msg/s"
    } else {
        "conn/s"
    }
}

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
    fn round_started(&mut self, round: Round<'_>) {
        let config = round.config;
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
        bar.set_prefix(round_name(round));
        bar.set_message(if config.warmup.is_zero() {
            "starting"
        } else {
            "warming up"
        });
        self.warmup = config.warmup;
        self.unit = unit(config);
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
            format::si(rate),
            self.unit
        ));
    }

    fn round_finished(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ricochet::Endpoint;

    #[test]
    fn lines_report_every_interval_and_each_round() {
        let endpoint = Endpoint::tcp("127.0.0.1", 7);
        let config = BenchConfig {
            targets: vec![endpoint.clone(), endpoint.clone()],
            rounds: 2,
            warmup: Duration::from_secs(1),
            ..BenchConfig::default()
        };
        let mut lines = Lines::new(Vec::new(), Duration::from_secs(1));
        lines.round_started(Round {
            endpoint: &endpoint,
            index: 1,
            number: 2,
            config: &config,
        });
        for tenth in 1..=25u64 {
            lines.tick(Duration::from_millis(tenth * 100), tenth * 1000, 0);
        }
        lines.round_finished();
        let text = String::from_utf8(lines.into_inner()).unwrap();
        let got: Vec<&str> = text.lines().collect();
        assert_eq!(
            got,
            [
                "B tcp://127.0.0.1:7 round 2/2: 1s, 10.0k msg/s, 0 errors",
                "B tcp://127.0.0.1:7 round 2/2: 2s, 10.0k msg/s, 0 errors",
                "B tcp://127.0.0.1:7 round 2/2: done, 25,000 msg in 2.5s (warm-up included), 0 errors",
            ]
        );
    }
}
