//! The HdrHistogram interval log: the standard, lossless way to keep
//! latency distributions, so runs from several machines (or days) can be
//! merged and re-analysed with HdrHistogram's own tools.
//!
//! A comment line names the workload (`#ricochet-workload workload=echo
//! loop=closed unit=messages size=1024`), so `--merge` can refuse to add
//! up logs that measured different things. One interval per target and
//! round, in the order they ran, each tagged
//! with its target (`Tag=tcp://127.0.0.1:1234`), encoded as compressed V2
//! histograms of latency in nanoseconds. `BaseTime` and `StartTime` are the
//! run's wall-clock start; interval timestamps are seconds after it. The
//! `Interval_Max` column is in milliseconds (max value divisor 1e6), as
//! HdrHistogram's Java tools expect for nanosecond data.

use hdrhistogram::serialization::interval_log::{IntervalLogWriterBuilder, Tag};
use hdrhistogram::serialization::V2DeflateSerializer;

use crate::bench::merge::workload_line;
use crate::bench::report::{Report, ReportError};
use crate::bench::BenchResults;

/// An HdrHistogram interval log (text, one compressed histogram per line).
#[derive(Debug, Default, Clone, Copy)]
pub struct HdrLog;

impl Report for HdrLog {
    fn render(&self, results: &BenchResults) -> Result<Vec<u8>, ReportError> {
        let mut out = Vec::new();
        let mut serializer = V2DeflateSerializer::new();
        let err = |e: &dyn std::fmt::Display| ReportError::HdrLog(e.to_string());
        let mut writer = IntervalLogWriterBuilder::new()
            .add_comment(&format!(
                "ricochet bench {}: latency in nanoseconds, one interval per target and round",
                env!("CARGO_PKG_VERSION")
            ))
            .add_comment(&workload_line(&results.config))
            .with_start_time(results.started)
            .with_base_time(results.started)
            .with_max_value_divisor(1e6)
            .begin_log_with(&mut out, &mut serializer)
            .map_err(|e| err(&e))?;
        let rounds = results
            .targets
            .iter()
            .map(|t| t.rounds.len())
            .max()
            .unwrap_or(0);
        for round in 0..rounds {
            for target in &results.targets {
                let Some(r) = target.rounds.get(round) else {
                    continue;
                };
                let tag = tag_for(&target.endpoint.to_string());
                writer
                    .write_histogram(
                        &r.stats.histogram,
                        r.started,
                        std::time::Duration::from_secs_f64(r.seconds),
                        Tag::new(&tag),
                    )
                    .map_err(|e| err(&e))?;
            }
        }
        drop(writer);
        Ok(out)
    }
}

/// Tags may not contain `,`, space, or line breaks; those become `_`.
fn tag_for(endpoint: &str) -> String {
    endpoint
        .chars()
        .map(|c| {
            if matches!(c, ',' | ' ' | '\r' | '\n') {
                '_'
            } else {
                c
            }
        })
        .collect()
}
