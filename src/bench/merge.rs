//! Merging HdrHistogram interval logs written by `bench --hdr-log`.
//!
//! Latency percentiles cannot be averaged across load machines, but
//! histograms add up exactly: run `ricochet bench --hdr-log` on each load
//! machine at once, gather the logs, and `ricochet bench --merge` them into
//! one distribution per tag (target endpoint) and one over everything. Any
//! V2 interval log works, including ones from HdrHistogram's other tools.
//!
//! Logs written by `--hdr-log` carry their workload in a comment line
//! (a `#ricochet-workload` comment line): a one-shot log counts connections, a closed-loop
//! log messages, an open-loop log measures from intended send times, so
//! logs of different workloads are refused rather than silently added up.
//! A file that is not a log at all (a JSON report, say) is named as what it
//! looks like.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use base64::Engine;
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry, LogIteratorError};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;

use crate::bench::stats::SIGFIG;

/// Auto-resizing, so logs from other tools with wider ranges still merge.
fn new_histogram() -> Histogram<u64> {
    Histogram::new(SIGFIG).expect("SIGFIG is a valid precision")
}

/// How a `--hdr-log` comment line names the workload, followed by
/// `workload=echo loop=closed …` (see [`workload_line`]).
pub(crate) const WORKLOAD_COMMENT: &str = "ricochet-workload";

/// The comment `--hdr-log` writes so `--merge` can tell workloads apart:
/// `ricochet-workload workload=echo loop=closed unit=messages size=1024`.
pub(crate) fn workload_line(config: &crate::bench::BenchConfig) -> String {
    format!(
        "{WORKLOAD_COMMENT} workload={} loop={} unit={} size={}",
        config.workload.name(),
        if config.is_open_loop() {
            "open"
        } else {
            "closed"
        },
        config.workload.unit(),
        config.size
    )
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
    /// The logs' workload (`workload=echo loop=closed`), if they said.
    pub workload: Option<String>,
    /// Things to tell whoever merged (e.g. a log that does not say its
    /// workload, merged with ones that do).
    pub warnings: Vec<String>,
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
    /// The file is another kind of file altogether (a JSON or text report,
    /// a plot): the wrong file was given.
    #[error(
        "{path} looks like {looks_like}, not an --hdr-log file (an HdrHistogram interval log)"
    )]
    NotALog {
        /// The file.
        path: PathBuf,
        /// What it looks like, e.g. "a JSON report (ricochet bench --json)".
        looks_like: &'static str,
    },
    /// Two logs measured different things (e.g. one-shot connections and
    /// closed-loop messages): their latencies do not add up to anything.
    #[error("{first} ({first_workload}) and {other} ({other_workload}) measured different workloads: merging them would mix latencies that mean different things; merge logs of one workload at a time")]
    MixedWorkloads {
        /// The first log that named its workload.
        first: PathBuf,
        /// Its workload, e.g. `workload=echo loop=closed`.
        first_workload: String,
        /// The log that differs.
        other: PathBuf,
        /// Its workload.
        other_workload: String,
    },
}

impl MergeError {
    /// What this means to a script: the wrong files given is a usage
    /// error; an unreadable or damaged log is a plain failure.
    pub fn failure(&self) -> crate::failure::Failure {
        use crate::failure::Failure;
        match self {
            MergeError::NotALog { .. } | MergeError::MixedWorkloads { .. } => Failure::Usage,
            MergeError::Read { .. } | MergeError::Format { .. } | MergeError::Empty { .. } => {
                Failure::Other
            }
        }
    }
}

/// Reads and adds up every interval of every file.
pub fn merge_logs(paths: &[PathBuf]) -> Result<Merged, MergeError> {
    let mut merged = Merged {
        per_tag: BTreeMap::new(),
        all: new_histogram(),
        intervals: 0,
        workload: None,
        warnings: Vec::new(),
    };
    // The first log that named its workload, and the logs that did not.
    let mut named: Option<(&PathBuf, String)> = None;
    let mut unnamed = Vec::new();
    for path in paths {
        let bytes = std::fs::read(path).map_err(|error| MergeError::Read {
            path: path.clone(),
            error,
        })?;
        if let Some(looks_like) = looks_like(&bytes) {
            return Err(MergeError::NotALog {
                path: path.clone(),
                looks_like,
            });
        }
        match (workload_of(&bytes), &named) {
            (None, _) => unnamed.push(path),
            (Some(w), None) => named = Some((path, w)),
            (Some(w), Some((first, first_workload))) if &w != first_workload => {
                return Err(MergeError::MixedWorkloads {
                    first: (*first).clone(),
                    first_workload: first_workload.clone(),
                    other: path.clone(),
                    other_workload: w,
                })
            }
            (Some(_), Some(_)) => {}
        }
        let before = merged.intervals;
        merge_one(&bytes, path, &mut merged)?;
        if merged.intervals == before {
            return Err(MergeError::Empty { path: path.clone() });
        }
    }
    if let Some((first, workload)) = named {
        for path in unnamed {
            merged.warnings.push(format!(
                "{} does not say which workload it measured (not written by ricochet bench --hdr-log?): merged with {} ({workload}) as if it were the same",
                path.display(),
                first.display()
            ));
        }
        merged.workload = Some(workload);
    }
    Ok(merged)
}

/// The workload a `--hdr-log` file names in its comment (`workload=…
/// loop=…`, the part that must match), if it names one.
fn workload_of(bytes: &[u8]) -> Option<String> {
    let text = std::str::from_utf8(bytes).ok()?;
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix('#')?.trim().strip_prefix(WORKLOAD_COMMENT))?;
    let key: Vec<&str> = line
        .split_whitespace()
        .filter(|kv| kv.starts_with("workload=") || kv.starts_with("loop="))
        .collect();
    (!key.is_empty()).then(|| key.join(" "))
}

/// What a file that is plainly not an interval log looks like, judged by
/// its first bytes; `None` if it may be a log.
fn looks_like(bytes: &[u8]) -> Option<&'static str> {
    let start = bytes.trim_ascii_start();
    if start.is_empty() {
        return Some("an empty file");
    }
    if start.starts_with(b"{") || start.starts_with(b"[") {
        return Some("a JSON report (ricochet bench --json)");
    }
    if start.starts_with(b"<svg") || start.starts_with(b"<?xml") {
        return Some("an SVG plot (ricochet bench --svg)");
    }
    if start.starts_with(b"ricochet bench:") {
        return Some("a text report (ricochet bench's standard output)");
    }
    if bytes.contains(&0) || std::str::from_utf8(bytes).is_err() {
        return Some("a binary file");
    }
    None
}

/// `line 3 ("hello")`: where a parse failed, for the error message.
fn place(bytes: &[u8], offset: usize) -> String {
    let offset = offset.min(bytes.len());
    let line = bytes[..offset].iter().filter(|&&b| b == b'\n').count() + 1;
    let rest = &bytes[offset..];
    let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
    let shown: String = String::from_utf8_lossy(&rest[..end])
        .chars()
        .take(40)
        .collect();
    format!("line {line} ({shown:?}) is neither a comment, a header nor an interval")
}

fn merge_one(bytes: &[u8], path: &Path, merged: &mut Merged) -> Result<(), MergeError> {
    let bad = |why: String| MergeError::Format {
        path: path.to_owned(),
        why,
    };
    let mut deserializer = Deserializer::new();
    for entry in IntervalLogIterator::new(bytes) {
        let entry = entry.map_err(|e| match e {
            LogIteratorError::ParseError { offset } => bad(place(bytes, offset)),
        })?;
        let LogEntry::Interval(interval) = entry else {
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
