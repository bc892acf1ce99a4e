//! The human summary: what ran, then per target throughput, latency
//! percentiles and errors by kind, then (with several targets) the
//! comparison table.

use std::fmt::Write;

use crate::bench::compare::{Comparison, Estimate, RobustRatio, BOOTSTRAP_RESAMPLES};
use crate::bench::report::format::target_letter;
use crate::bench::report::format::{bytes_per_sec, count, counted, errors, latency, si, size};
use crate::bench::report::{Report, ReportError};
use crate::bench::stats::{per_sec, TargetResult, PERCENTILES};
use crate::bench::target::SourcesDisplay;
use crate::bench::{BenchResults, Workload};

/// Plain text for a terminal or a log; no colours, so it pipes cleanly.
#[derive(Debug, Default, Clone, Copy)]
pub struct Text;

impl Report for Text {
    fn render(&self, results: &BenchResults) -> Result<Vec<u8>, ReportError> {
        let mut out = String::new();
        header(&mut out, results);
        let several = results.targets.len() > 1;
        for (i, target) in results.targets.iter().enumerate() {
            out.push('\n');
            target_block(&mut out, results, i, target, several);
        }
        if let Some(comparison) = &results.comparison {
            out.push('\n');
            comparison_table(&mut out, results, comparison);
        }
        out.push('\n');
        footer(&mut out, results);
        Ok(out.into_bytes())
    }
}

fn header(out: &mut String, r: &BenchResults) {
    let c = &r.config;
    let what = match c.workload {
        Workload::Echo => format!(
            "{} × pipeline {}, {} messages ({})",
            counted(c.connections as u64, "connection"),
            c.pipeline,
            size(c.size),
            c.payload
        ),
        Workload::OneShot => format!(
            "one-shot: {} concurrent connect-send-receive-close, {} messages ({})",
            c.connections,
            size(c.size),
            c.payload
        ),
        Workload::ConnectOnly => {
            format!("connect-only: {} concurrent connect-close", c.connections)
        }
    };
    let loop_kind = match c.rate {
        None => "closed loop".to_owned(),
        Some(rate) => format!("open loop at {}/s", si(rate)),
    };
    let _ = writeln!(
        out,
        "ricochet bench: {loop_kind}, {what}, {}",
        counted(r.threads as u64, "thread")
    );
    let rounds = if c.rounds > 1 {
        format!(", {} interleaved rounds", c.rounds)
    } else {
        String::new()
    };
    let _ = writeln!(
        out,
        "{} measured after {} warm-up per target{rounds}",
        humantime::format_duration(c.duration),
        humantime::format_duration(c.warmup)
    );
    if r.interrupted {
        let partial = r
            .targets
            .iter()
            .flat_map(|t| t.rounds.iter().map(move |round| (t, round)))
            .find(|(_, round)| round.interrupted);
        let what = match partial {
            Some((t, round)) => format!(
                "round {} of {} was partial ({:.2}s of {} measured); ",
                round.round,
                t.endpoint,
                round.seconds,
                humantime::format_duration(c.duration)
            ),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "INTERRUPTED (Ctrl-C): {what}the figures cover only what was measured"
        );
    }
}

fn target_block(out: &mut String, r: &BenchResults, i: usize, t: &TargetResult, several: bool) {
    let c = &r.config;
    let total = t.total();
    let seconds = t.seconds();
    let label = if several {
        format!("{} {}", target_letter(i), t.endpoint)
    } else {
        t.endpoint.to_string()
    };
    let _ = writeln!(out, "{label}");
    let unit = c.workload.unit();
    let rate = per_sec(total.messages, seconds);
    let _ = writeln!(
        out,
        "  {unit:<12} {}/s ({} in {seconds:.2}s)",
        si(rate),
        count(total.messages)
    );
    if t.rounds.len() > 1 {
        let per_round: Vec<f64> = t.rounds.iter().map(|r| r.messages_per_sec()).collect();
        if let Some(e) = Estimate::from_samples(&per_round) {
            let _ = writeln!(
                out,
                "  {:<12} {} /s over {} rounds",
                "per round",
                plus_minus(&e, si),
                e.n
            );
        }
    }
    if let Some(rate_asked) = c.rate {
        if rate < rate_asked * 0.95 {
            let _ = writeln!(
                out,
                "  {:<12} only {:.0}% of the requested {}/s was achieved",
                "warning",
                rate / rate_asked * 100.0,
                si(rate_asked)
            );
        }
    }
    if c.workload != Workload::ConnectOnly {
        let _ = writeln!(
            out,
            "  {:<12} {} (verified, one direction)",
            "echoed",
            bytes_per_sec(per_sec(total.bytes, seconds))
        );
    }
    let mut lat = String::new();
    for (name, p) in PERCENTILES {
        let _ = write!(lat, "{name} {}  ", latency(total.latency_at(p) as f64));
    }
    let _ = writeln!(out, "  {:<12} {}", "latency", lat.trim_end());
    let _ = writeln!(out, "  {:<12} {}", "errors", errors(&total.errors));
    let mut conns = counted(total.connections, "connection");
    if let Some(sources) = r.sources.get(i).filter(|s| !s.is_empty()) {
        let _ = write!(conns, " from {}", SourcesDisplay(sources));
    }
    let _ = writeln!(out, "  {:<12} {conns}", "opened");
}

fn plus_minus(e: &Estimate, f: fn(f64) -> String) -> String {
    match e.half_width() {
        Some(h) => format!("{} ± {}", f(e.mean), f(h)),
        None => f(e.mean),
    }
}

fn ratio(e: Option<&Estimate>) -> String {
    match e {
        None => "n/a".to_owned(),
        Some(e) => match e.half_width() {
            Some(h) => format!("{:.3} ± {:.3}", e.mean, h),
            None => format!("{:.3}", e.mean),
        },
    }
}

/// `1.020 [0.951–1.103]`: a robust ratio with its bootstrap interval.
fn robust_ratio(r: Option<&RobustRatio>) -> String {
    match r {
        None => "n/a".to_owned(),
        Some(r) => match r.interval {
            Some((lo, hi)) => format!("{:.3} [{lo:.3}–{hi:.3}]", r.ratio),
            None => format!("{:.3}", r.ratio),
        },
    }
}

fn comparison_table(out: &mut String, r: &BenchResults, c: &Comparison) {
    let _ = writeln!(
        out,
        "Comparison over {} interleaved rounds: ± is a 95% confidence interval over rounds",
        c.rounds
    );
    let _ = writeln!(
        out,
        "(Student t). Ratios are to A: for {}/s and p50, computed per round and then\n\
         averaged (paired); for p99 and p99.9, median over rounds / A's median, with a\n\
         95% bootstrap interval in [ ] ({} paired resamples), so one noisy round\n\
         cannot swing them.",
        r.config.workload.unit(),
        count(BOOTSTRAP_RESAMPLES as u64)
    );
    let unit = format!("{}/s", r.config.workload.unit());
    let lat = |ns: f64| latency(ns);
    let _ = writeln!(
        out,
        "  {:<3} {:>20} {:>14} {:>18} {:>14} {:>18} {:>22} {:>18} {:>22}",
        "", unit, "ratio", "p50", "ratio", "p99", "ratio", "p99.9", "ratio"
    );
    for (i, t) in c.targets.iter().enumerate() {
        let _ = writeln!(
            out,
            "  {:<3} {:>20} {:>14} {:>18} {:>14} {:>18} {:>22} {:>18} {:>22}",
            target_letter(i),
            plus_minus(&t.messages_per_sec, si),
            ratio(t.ratio_messages_per_sec.as_ref()),
            plus_minus(&t.p50_ns, lat),
            ratio(t.ratio_p50.as_ref()),
            plus_minus(&t.p99_ns, lat),
            robust_ratio(t.ratio_p99_robust.as_ref()),
            plus_minus(&t.p99_9_ns, lat),
            robust_ratio(t.ratio_p99_9_robust.as_ref()),
        );
    }
    for (i, t) in c.targets.iter().enumerate().skip(1) {
        let letter = target_letter(i);
        let verdict = match t.ratio_messages_per_sec {
            Some(e) if e.excludes(1.0) => {
                let (lo, hi) = e.interval.expect("excludes implies an interval");
                let word = if e.mean > 1.0 { "more" } else { "fewer" };
                format!(
                    "{letter} handles {:.2}× A's {unit} (95% CI {lo:.3}–{hi:.3}): significantly {word}",
                    e.mean
                )
            }
            Some(e) if e.interval.is_some() => format!(
                "{letter} vs A: {:.3}× {unit}, no significant difference at 95%",
                e.mean
            ),
            _ => format!(
                "{letter} vs A: more than one round is needed for a confidence interval (--rounds)"
            ),
        };
        let _ = writeln!(out, "{verdict}");
    }
}

fn footer(out: &mut String, r: &BenchResults) {
    let note = match (r.config.workload, r.config.rate) {
        (Workload::Echo, None) => {
            "Closed loop: each connection waits for its echoes before sending again, so\n\
             latency excludes the queueing a slow server would cause (use --rate for an\n\
             open loop)."
        }
        (_, Some(_)) => {
            "Open loop: latency is measured from each message's intended send time, so\n\
             stalls show up as latency instead of as fewer messages sent."
        }
        (_, None) => {
            "Closed loop: latency runs from connect to the echo (connect-only: to the\n\
             connect); each slot opens its next connection when the last one is done."
        }
    };
    let _ = writeln!(out, "{note}");
    let _ = writeln!(
        out,
        "Errors count the whole run, warm-up included; other figures only the\nmeasured window."
    );
}
