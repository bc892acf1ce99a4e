//! Merging HdrHistogram interval logs written by `bench --hdr-log`.
//!
//! Latency percentiles cannot be averaged across load machines, but
//! histograms add up exactly: run `ricochet bench --hdr-log` on each load
//! machine at once, gather the logs, and `ricochet bench --merge` them into
//! one distribution per tag (target endpoint) and one over everything. Any
//! V2 interval log works, including ones from HdrHistogram's other tools.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

use crate::bench::stats::SIGFIG;

/// Auto-resizing, so logs from other tools with wider ranges still merge.
fn new_histogram() -> Histogram<u64> {
    Histogram::new(SIGFIG).expect("SIGFIG is a valid precision")
}

/// The merged distributions.
#[derive(Debug, Clone)]
pub struct Merged {
    /// One histogram per interval tag; untagged intervals under `""`.
    pub per_tag: BTreeMap<String, Histogram<u64>>,
    /// Every interval of every file.
    pub all: Histogram<u64>,
    /// Intervals read.
    pub intervals: usize,
}

/// Why a log could not be merged; each names the file.
#[derive(Debug, thiserror::Error)]
pub enum MergeError {
    /// The file could not be read.
    #[error("could not read {path}: {error}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The system error.
        error: std::io::Error,
    },
    /// The file is not a well-formed interval log.
    #[error("{path} is not an HdrHistogram interval log: {why}")]
    Format {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        why: String,
    },
    /// The file holds no histogram at all.
    #[error("{path} holds no histogram intervals")]
    Empty {
        /// The file.
        path: PathBuf,
    },
}

/// Reads and adds up every interval of every file.
pub fn merge_logs(paths: &[PathBuf]) -> Result<Merged, MergeError> {
    let mut merged = Merged {
        per_tag: BTreeMap::new(),
        all: new_histogram(),
        intervals: 0,
    };
    for path in paths {
        let bytes = std::fs::read(path).map_err(|error| MergeError::Read {
            path: path.clone(),
            error,
        })?;
        let before = merged.intervals;
        merge_one(&bytes, path, &mut merged)?;
        if merged.intervals == before {
            return Err(MergeError::Empty { path: path.clone() });
        }
    }
    Ok(merged)
}

fn merge_one(bytes: &[u8], path: &Path, merged: &mut Merged) -> Result<(), MergeError> {
    let bad = |why: String| MergeError::Format {
        path: path.to_owned(),
        why,
    };
    let mut deserializer = Deserializer::new();
    for entry in IntervalLogIterator::new(bytes) {
        let LogEntry::Interval(interval) = entry.map_err(|e| bad(format!("{e:?}")))? else {
            continue;
        };
        let raw = base64::engine::general_purpose::STANDARD
            .decode(interval.encoded_histogram())
            .map_err(|e| bad(format!("bad base64: {e}")))?;
        let h: Histogram<u64> = deserializer
            .deserialize(&mut raw.as_slice())
            .map_err(|e| bad(format!("bad histogram: {e:?}")))?;
        let tag = interval
            .tag()
            .map(|t| t.as_str().to_owned())
            .unwrap_or_default();
        let slot = merged.per_tag.entry(tag).or_insert_with(new_histogram);
        slot.add(&h).map_err(|e| bad(format!("{e:?}")))?;
        merged.all.add(&h).map_err(|e| bad(format!("{e:?}")))?;
        merged.intervals += 1;
    }
    Ok(())
}
