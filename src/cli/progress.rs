//! `bench`'s live view: a progress bar on a terminal, plain lines
//! elsewhere (logs, CI), both on stderr. They implement the library's
//! [`Progress`]; the library itself never draws anything.
//!
//! Both count what the report counts: messages inside the measured window
//! (warm-up is labelled as such and not added to them), errors by kind for
//! the whole round, and the closing line of a round is the round's own
//! result. With several targets or rounds they also say where the run is
//! overall.

use std::io::Write;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use ricochet::bench::progress::{Round, Snapshot};
use ricochet::bench::report::format::{self, target_letter};
use ricochet::bench::{BenchConfig, Progress, RoundResult, Workload};

/// The round being shown, owned so views can keep it between calls.
#[derive(Debug, Default)]
struct Current {
    config: BenchConfig,
    index: usize,
    number: usize,
    /// `A tcp://… round 2/5`.
    name: String,
    /// `msg`, or `conn` for one-shot and connect-only runs.
    unit: &'static str,
    /// The previous tick (elapsed, all messages), for the live rate.
    last: Option<(Duration, u64)>,
}

impl Current {
    fn new(round: Round<'_>) -> Self {
        let config = round.config;
        Current {
            config: config.clone(),
            index: round.index,
            number: round.number,
            name: round_name(round),
            unit: if config.workload == Workload::Echo {
                "msg"
            } else {
                "conn"
            },
            last: None,
        }
    }

    /// How far the whole run is, or `None` for a single window.
    fn overall(&self, elapsed: Duration) -> Option<f64> {
        let c = &self.config;
        (c.rounds * c.targets.len() > 1).then(|| {
            Round {
                endpoint: &c.targets[self.index],
                index: self.index,
                number: self.number,
                config: c,
            }
            .overall(elapsed)
        })
    }

    /// `12s, 10.0k msg/s, 120,000 msg measured, errors: 8 reset, 38% overall`
    /// (or `warming up` with the warm-up's own count).
    fn describe(&mut self, now: &Snapshot) -> String {
        let all = now.warmup_messages + now.messages;
        let rate = match self.last {
            Some((t, m)) if now.elapsed > t => {
                all.saturating_sub(m) as f64 / (now.elapsed - t).as_secs_f64()
            }
            _ => 0.0,
        };
        self.last = Some((now.elapsed, all));
        let unit = self.unit;
        let counted = if now.elapsed < self.config.warmup {
            format!(
                "warming up ({} {unit} not measured)",
                format::count(now.warmup_messages)
            )
        } else {
            format!("{} {unit} measured", format::count(now.messages))
        };
        let mut line = format!(
            "{:.0}s, {} {unit}/s, {counted}, errors: {}",
            now.elapsed.as_secs_f64(),
            format::si(rate),
            format::errors(&now.errors)
        );
        if let Some(overall) = self.overall(now.elapsed) {
            line.push_str(&format!(", {:.0}% overall", overall * 100.0));
        }
        line
    }

    /// The round's closing line: exactly the report's figures for it.
    fn finished(&self, result: &RoundResult) -> String {
        let stats = &result.stats;
        let partial = if result.interrupted {
            " (interrupted: partial round)"
        } else {
            ""
        };
        format!(
            "done, {} {} measured in {:.2}s{partial}, errors: {}",
            format::count(stats.messages),
            self.unit,
            result.seconds,
            format::errors(&stats.errors)
        )
    }
}

/// Plain progress lines, for output that is not a terminal: one every
/// `every` of a round's run time, and one when the round ends.
#[derive(Debug)]
pub struct Lines<W: Write> {
    out: W,
    every: Duration,
    current: Current,
    /// When the latest line was printed.
    printed: Duration,
}

impl<W: Write> Lines<W> {
    /// Lines written to `out`, one every `every` while a round runs.
    pub fn new(out: W, every: Duration) -> Self {
        Lines {
            out,
            every,
            current: Current::default(),
            printed: Duration::ZERO,
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
        self.current = Current::new(round);
        // The first line one interval after the round starts.
        self.current.last = Some((Duration::ZERO, 0));
        self.printed = Duration::ZERO;
    }

    fn tick(&mut self, now: &Snapshot) {
        if now.elapsed < self.printed + self.every {
            return;
        }
        let line = self.current.describe(now);
        // Progress is best effort: a closed stderr must not stop the run.
        let _ = writeln!(self.out, "{}: {line}", self.current.name);
        self.printed = now.elapsed;
    }

    fn round_finished(&mut self, result: &RoundResult) {
        let line = self.current.finished(result);
        let _ = writeln!(self.out, "{}: {line}", self.current.name);
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
        format!(
            "{} {endpoint} (target {}/{})",
            target_letter(index),
            index + 1,
            config.targets.len()
        )
    } else {
        endpoint.to_string()
    };
    if config.rounds > 1 {
        format!("{name} round {number}/{}", config.rounds)
    } else {
        name
    }
}

/// A progress bar on stderr: target, round, phase, live rate, errors by
/// kind, and the whole run's progress.
#[derive(Debug, Default)]
pub struct Bar {
    bar: Option<ProgressBar>,
    current: Current,
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
        self.current = Current::new(round);
        self.bar = Some(bar);
    }

    fn tick(&mut self, now: &Snapshot) {
        let Some(bar) = &self.bar else { return };
        bar.set_position(now.elapsed.as_millis() as u64);
        bar.set_message(self.current.describe(now));
    }

    fn round_finished(&mut self, result: &RoundResult) {
        if let Some(bar) = self.bar.take() {
            // Kept on screen: the round's figures, as the report has them.
            bar.finish_with_message(self.current.finished(result));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ricochet::bench::stats::Stats;
    use ricochet::bench::ErrorKind;
    use ricochet::Endpoint;

    #[test]
    fn lines_count_what_the_report_counts() {
        let endpoint = Endpoint::tcp("127.0.0.1", 7);
        let config = BenchConfig {
            targets: vec![endpoint.clone(), endpoint.clone()],
            rounds: 2,
            warmup: Duration::from_secs(1),
            duration: Duration::from_millis(1500),
            ..BenchConfig::default()
        };
        let mut lines = Lines::new(Vec::new(), Duration::from_secs(1));
        lines.round_started(Round {
            endpoint: &endpoint,
            index: 1,
            number: 2,
            config: &config,
        });
        let mut now = Snapshot::default();
        for tenth in 1..=25u64 {
            now.elapsed = Duration::from_millis(tenth * 100);
            if tenth <= 10 {
                now.warmup_messages = tenth * 1000;
            } else {
                now.messages = (tenth - 10) * 1000;
            }
            if tenth == 15 {
                now.errors.add(ErrorKind::Reset);
            }
            lines.tick(&now);
        }
        let mut stats = Stats {
            messages: 15_000,
            ..Stats::default()
        };
        stats.errors.add(ErrorKind::Reset);
        lines.round_finished(&RoundResult {
            round: 2,
            started: Duration::ZERO,
            seconds: 1.5,
            stats,
            interrupted: false,
        });
        let text = String::from_utf8(lines.into_inner()).unwrap();
        let got: Vec<&str> = text.lines().collect();
        let name = "B tcp://127.0.0.1:7 (target 2/2) round 2/2";
        assert_eq!(
            got,
            [
                format!("{name}: 1s, 10.0k msg/s, 0 msg measured, errors: none, 85% overall"),
                format!(
                    "{name}: 2s, 10.0k msg/s, 10,000 msg measured, errors: 1 reset, 95% overall"
                ),
                format!("{name}: done, 15,000 msg measured in 1.50s, errors: 1 reset"),
            ]
        );
    }
}
