//! Report formats: one trait, one small file per format (hyperfine's
//! `export/` layout).
//!
//! Every format turns the same [`BenchResults`] into bytes; the caller
//! decides where they go (stdout or a file). Nothing here moves a byte on
//! the network, and nothing in the driver knows these formats exist.
//! - [`Text`]: the human summary (stdout);
//! - [`Json`]: a stable, versioned schema (`docs/bench-json-schema.md`);
//! - [`HdrLog`]: an HdrHistogram interval log, mergeable across machines;
//! - [`Svg`]: a latency-by-percentile plot.

pub mod format;
mod hdr_log;
pub mod json;
mod svg;
mod text;

pub use hdr_log::HdrLog;
pub use json::Json;
pub use svg::Svg;
pub use text::Text;

use crate::bench::BenchResults;

/// Why a report could not be produced.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// JSON serialisation failed.
    #[error("could not write the JSON report: {0}")]
    Json(#[from] serde_json::Error),
    /// The HdrHistogram log could not be encoded.
    #[error("could not write the HdrHistogram log: {0}")]
    HdrLog(String),
    /// The plot could not be drawn.
    #[error("could not draw the SVG plot: {0}")]
    Svg(String),
}

/// A way to present benchmark results.
pub trait Report {
    /// The report, as the bytes of a file.
    fn render(&self, results: &BenchResults) -> Result<Vec<u8>, ReportError>;
}
