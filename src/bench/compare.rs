//! Comparing targets honestly: interleaved rounds, per-round ratios and
//! confidence intervals.
//!
//! [`crate::bench::run`] measures every target once per round, in order
//! (A B A B ...), so slow drift on a shared machine hits all targets alike.
//! From the rounds this module computes, for messages/s, p50, p99 and p99.9:
//! - per target, the mean over rounds ± a 95% confidence interval from
//!   Student's t: `mean ± t(0.975, n−1) · s / √n`;
//! - against the first target, the ratio *per round* (`B_r / A_r`, pairing
//!   runs that were adjacent in time, which cancels drift common to both)
//!   and the same interval over those ratios.
//!
//! Tail latencies (p99, p99.9) are ratios of rare events: one noisy round
//! (a GC pause, a neighbour's burst) multiplies that round's tail by 100
//! and a mean of per-round ratios with it. So they are also compared by a
//! robust estimator, [`RobustRatio`]: the ratio of the medians over rounds,
//! `median(X_r) / median(A_r)`, with a 95% percentile-bootstrap interval
//! (2,000 paired resamples of the rounds, fixed seed, so
//! the same rounds always give the same interval). That is what the text
//! report shows for p99 and p99.9; throughput and p50, which one round
//! cannot swing like that, keep the paired mean.
//!
//! With one round there is no interval: one sample says nothing about noise.
//! An interval that excludes 1 is what "X is faster than Y" should rest on.

use crate::bench::payload::SplitMix64;
use crate::bench::stats::TargetResult;
use crate::transport::Endpoint;

/// Confidence level of every interval.
pub const CONFIDENCE: f64 = 0.95;
/// How the intervals are computed, for reports.
pub const METHOD: &str = "mean over rounds ± t(0.975, n-1)·s/√n (Student t, 95%); ratios are paired per round (target_r / first_r); *_robust tail ratios are median(target_r) / median(first_r) with a 95% percentile-bootstrap interval (2000 paired resamples of the rounds, fixed seed)";
/// Resamples of the rounds behind each [`RobustRatio`] interval.
pub(crate) const BOOTSTRAP_RESAMPLES: usize = 2000;
/// The bootstrap's seed: the same rounds always give the same interval.
const BOOTSTRAP_SEED: u64 = 0x7269_636f_6368_6574; // "ricochet"

/// A ratio of medians over rounds with a bootstrap interval: robust to one
/// outlying round, as tail latencies need.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RobustRatio {
    /// `median(target_r) / median(first_r)` over the rounds.
    pub ratio: f64,
    /// 95% percentile-bootstrap interval (low, high); `None` with fewer
    /// than two rounds.
    pub interval: Option<(f64, f64)>,
    /// Rounds used.
    pub n: usize,
}

impl RobustRatio {
    /// The ratio of `target`'s median to `baseline`'s, over paired rounds;
    /// `None` without rounds or when the baseline's median is 0.
    ///
    /// ```
    /// use ricochet::bench::compare::RobustRatio;
    ///
    /// // One wild round in five: the mean of per-round ratios would be 20.8.
    /// let a = [100.0, 100.0, 100.0, 100.0, 100.0];
    /// let b = [110.0, 10_000.0, 105.0, 100.0, 108.0];
    /// let r = RobustRatio::from_rounds(&a, &b).unwrap();
    /// assert_eq!(r.ratio, 1.08);
    /// let (lo, hi) = r.interval.unwrap();
    /// assert!(lo <= 1.08 && 1.08 <= hi);
    /// assert_eq!(r, RobustRatio::from_rounds(&a, &b).unwrap()); // deterministic
    /// ```
    pub fn from_rounds(baseline: &[f64], target: &[f64]) -> Option<Self> {
        let n = baseline.len().min(target.len());
        let (baseline, target) = (&baseline[..n], &target[..n]);
        let ratio = ratio_of_medians(baseline, target)?;
        let interval = (n >= 2)
            .then(|| {
                let mut rng = SplitMix64(BOOTSTRAP_SEED);
                let (mut b, mut t) = (vec![0.0; n], vec![0.0; n]);
                let mut ratios = Vec::with_capacity(BOOTSTRAP_RESAMPLES);
                for _ in 0..BOOTSTRAP_RESAMPLES {
                    // Paired: a resampled round brings both targets' figures.
                    for k in 0..n {
                        let i = (rng.next() % n as u64) as usize;
                        (b[k], t[k]) = (baseline[i], target[i]);
                    }
                    ratios.extend(ratio_of_medians(&b, &t));
                }
                ratios.sort_by(f64::total_cmp);
                Some((quantile(&ratios, 0.025)?, quantile(&ratios, 0.975)?))
            })
            .flatten();
        Some(RobustRatio { ratio, interval, n })
    }

    /// Whether the interval lies wholly above or below `value`.
    pub fn excludes(&self, value: f64) -> bool {
        matches!(self.interval, Some((lo, hi)) if value < lo || value > hi)
    }
}

fn ratio_of_medians(baseline: &[f64], target: &[f64]) -> Option<f64> {
    let b = median(baseline)?;
    (b > 0.0).then_some(median(target)? / b)
}

fn median(xs: &[f64]) -> Option<f64> {
    let mut sorted = xs.to_vec();
    sorted.sort_by(f64::total_cmp);
    quantile(&sorted, 0.5)
}

/// The `q` quantile of sorted values, interpolating between neighbours.
fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    let last = sorted.len().checked_sub(1)?;
    let pos = q * last as f64;
    let (lo, frac) = (pos.floor() as usize, pos.fract());
    let hi = (lo + 1).min(last);
    Some(sorted[lo] + (sorted[hi] - sorted[lo]) * frac)
}

/// A mean with its confidence interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Estimate {
    /// Mean of the samples.
    pub mean: f64,
    /// 95% confidence interval (low, high); `None` with fewer than two samples.
    pub interval: Option<(f64, f64)>,
    /// Number of samples (rounds).
    pub n: usize,
}

impl Estimate {
    /// The estimate from `samples`; `None` if there are none.
    ///
    /// ```
    /// use ricochet::bench::compare::Estimate;
    ///
    /// let e = Estimate::from_samples(&[9.0, 10.0, 11.0]).unwrap();
    /// assert_eq!(e.mean, 10.0);
    /// let (lo, hi) = e.interval.unwrap();
    /// assert!((hi - 10.0 - 4.303 / 3f64.sqrt()).abs() < 1e-9 && lo < 10.0);
    /// assert!(Estimate::from_samples(&[1.0]).unwrap().interval.is_none());
    /// ```
    pub fn from_samples(samples: &[f64]) -> Option<Self> {
        let n = samples.len();
        if n == 0 {
            return None;
        }
        let mean = samples.iter().sum::<f64>() / n as f64;
        let interval = (n >= 2).then(|| {
            let var = samples.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64;
            let half = t_975(n - 1) * var.sqrt() / (n as f64).sqrt();
            (mean - half, mean + half)
        });
        Some(Estimate { mean, interval, n })
    }

    /// Half the interval's width, if there is one.
    pub fn half_width(&self) -> Option<f64> {
        self.interval.map(|(lo, hi)| (hi - lo) / 2.0)
    }

    /// Whether the interval lies wholly above or below `value`.
    pub fn excludes(&self, value: f64) -> bool {
        matches!(self.interval, Some((lo, hi)) if value < lo || value > hi)
    }
}

/// One target's figures and its ratios to the first target.
#[derive(Debug, Clone, PartialEq)]
pub struct TargetComparison {
    /// The target.
    pub endpoint: Endpoint,
    /// Messages (or connections) per second.
    pub messages_per_sec: Estimate,
    /// Median latency, nanoseconds.
    pub p50_ns: Estimate,
    /// 99th percentile latency, nanoseconds.
    pub p99_ns: Estimate,
    /// 99.9th percentile latency, nanoseconds.
    pub p99_9_ns: Estimate,
    /// Messages/s relative to the first target (higher is better).
    pub ratio_messages_per_sec: Option<Estimate>,
    /// p50 relative to the first target (lower is better).
    pub ratio_p50: Option<Estimate>,
    /// p99 relative to the first target (lower is better).
    pub ratio_p99: Option<Estimate>,
    /// p99.9 relative to the first target (lower is better).
    pub ratio_p99_9: Option<Estimate>,
    /// p99 relative to the first target, robust to a noisy round.
    pub ratio_p99_robust: Option<RobustRatio>,
    /// p99.9 relative to the first target, robust to a noisy round.
    pub ratio_p99_9_robust: Option<RobustRatio>,
}

/// Every target against the first.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// Rounds compared.
    pub rounds: usize,
    /// One entry per target; the first is the baseline.
    pub targets: Vec<TargetComparison>,
}

/// Compares `targets` to the first, over the rounds every target completed
/// (an interrupted round is partial, so it is left out).
pub(crate) fn compare(targets: &[TargetResult]) -> Comparison {
    let complete = targets
        .iter()
        .map(|t| t.rounds.iter().take_while(|r| !r.interrupted).count())
        .min()
        .unwrap_or(0);
    let complete: Vec<TargetResult> = targets
        .iter()
        .map(|t| TargetResult {
            endpoint: t.endpoint.clone(),
            rounds: t.rounds[..complete].to_vec(),
        })
        .collect();
    let targets = &complete[..];
    type Figure = fn(&crate::bench::stats::RoundResult) -> f64;
    let figures: [Figure; 4] = [
        |r| r.messages_per_sec(),
        |r| r.stats.latency_at(50.0) as f64,
        |r| r.stats.latency_at(99.0) as f64,
        |r| r.stats.latency_at(99.9) as f64,
    ];
    let baseline = targets.first();
    let tail = |t: &TargetResult, p: f64| -> Option<RobustRatio> {
        let at = |r: &TargetResult| -> Vec<f64> {
            r.rounds
                .iter()
                .map(|r| r.stats.latency_at(p) as f64)
                .collect()
        };
        RobustRatio::from_rounds(&at(baseline?), &at(t))
    };
    let per_target = targets.iter().map(|t| {
        let [msgs, p50, p99, p99_9] = figures.map(|f| {
            let values: Vec<f64> = t.rounds.iter().map(f).collect();
            let ratios: Vec<f64> = baseline
                .map(|b| {
                    b.rounds
                        .iter()
                        .zip(&t.rounds)
                        .map(|(b, r)| (f(b), f(r)))
                        .filter(|&(b, _)| b > 0.0)
                        .map(|(b, r)| r / b)
                        .collect()
                })
                .unwrap_or_default();
            (
                Estimate::from_samples(&values).unwrap_or(Estimate {
                    mean: 0.0,
                    interval: None,
                    n: 0,
                }),
                Estimate::from_samples(&ratios),
            )
        });
        TargetComparison {
            endpoint: t.endpoint.clone(),
            messages_per_sec: msgs.0,
            p50_ns: p50.0,
            p99_ns: p99.0,
            p99_9_ns: p99_9.0,
            ratio_messages_per_sec: msgs.1,
            ratio_p50: p50.1,
            ratio_p99: p99.1,
            ratio_p99_9: p99_9.1,
            ratio_p99_robust: tail(t, 99.0),
            ratio_p99_9_robust: tail(t, 99.9),
        }
    });
    Comparison {
        rounds: targets.first().map_or(0, |t| t.rounds.len()),
        targets: per_target.collect(),
    }
}

/// Student's t quantile for a two-sided 95% interval with `df` degrees of
/// freedom: a table up to 30, then the Cornish-Fisher expansion (error
/// below 0.001 there).
pub(crate) fn t_975(df: usize) -> f64 {
    const TABLE: [f64; 30] = [
        12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228, 2.201, 2.179, 2.160,
        2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086, 2.080, 2.074, 2.069, 2.064, 2.060, 2.056,
        2.052, 2.048, 2.045, 2.042,
    ];
    match df {
        0 => f64::INFINITY,
        1..=30 => TABLE[df - 1],
        _ => {
            let z: f64 = 1.959_964;
            let d = df as f64;
            z + (z.powi(3) + z) / (4.0 * d)
                + (5.0 * z.powi(5) + 16.0 * z.powi(3) + 3.0 * z) / (96.0 * d * d)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::stats::{RoundResult, Stats};
    use std::time::Duration;

    fn target(name: &str, msgs: &[u64]) -> TargetResult {
        TargetResult {
            endpoint: Endpoint::tcp(name, 1),
            rounds: msgs
                .iter()
                .enumerate()
                .map(|(i, &m)| RoundResult {
                    round: i + 1,
                    started: Duration::ZERO,
                    seconds: 1.0,
                    interrupted: false,
                    stats: Stats {
                        messages: m,
                        ..Stats::default()
                    },
                })
                .collect(),
        }
    }

    #[test]
    fn paired_ratios_cancel_common_drift() {
        // Both targets drift from 100 to 200 across rounds, B always 10% up:
        // the paired ratio is exactly 1.1 with a zero-width interval.
        let a = target("a", &[100, 150, 200]);
        let b = target("b", &[110, 165, 220]);
        let c = compare(&[a, b]);
        let r = c.targets[1].ratio_messages_per_sec.unwrap();
        assert!((r.mean - 1.1).abs() < 1e-9);
        assert!(r.half_width().unwrap() < 1e-9);
        assert!(r.excludes(1.0));
        let base = c.targets[0].ratio_messages_per_sec.unwrap();
        assert_eq!(base.mean, 1.0);
        // The unpaired means are far too noisy to say the same.
        assert!(!c.targets[1]
            .messages_per_sec
            .excludes(c.targets[0].messages_per_sec.mean));
    }

    #[test]
    fn t_quantiles_are_continuous_past_the_table() {
        assert!((t_975(30) - 2.042).abs() < 1e-3);
        assert!((t_975(31) - 2.040).abs() < 2e-3);
        assert!((t_975(1000) - 1.962).abs() < 1e-3);
    }
}
