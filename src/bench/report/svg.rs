//! The latency plot: latency against percentile on HdrHistogram's classic
//! "nines" axis (50%, 90%, 99%, 99.9%... evenly spaced), one line per
//! target, drawn with `plotters` as SVG.

use hdrhistogram::Histogram;
use plotters::prelude::*;

use crate::bench::report::format::target_letter;
use crate::bench::report::{Report, ReportError};
use crate::bench::BenchResults;

/// An SVG plot of latency by percentile.
#[derive(Debug, Default, Clone, Copy)]
pub struct Svg;

const WIDTH: u32 = 900;
const HEIGHT: u32 = 520;

impl Report for Svg {
    fn render(&self, results: &BenchResults) -> Result<Vec<u8>, ReportError> {
        let several = results.targets.len() > 1;
        let curves: Vec<(String, Vec<(f64, f64)>)> = results
            .targets
            .iter()
            .enumerate()
            .map(|(i, t)| {
                let name = if several {
                    format!("{} {}", target_letter(i), t.endpoint)
                } else {
                    t.endpoint.to_string()
                };
                (name, curve(&t.total().histogram))
            })
            .collect();
        let count = results
            .targets
            .iter()
            .map(|t| t.total().histogram.len())
            .max()
            .unwrap_or(0);
        // Show as many nines as the samples can support (at least 99%).
        let max_nines = ((count.max(1) as f64).log10().floor()).clamp(2.0, 6.0);
        let y_max = curves
            .iter()
            .flat_map(|(_, pts)| pts.iter().map(|p| p.1))
            .fold(0.0f64, f64::max)
            .max(1.0)
            * 1.05;

        let mut svg = String::new();
        {
            let err = |e: &dyn std::fmt::Display| ReportError::Svg(e.to_string());
            let root = SVGBackend::with_string(&mut svg, (WIDTH, HEIGHT)).into_drawing_area();
            root.fill(&WHITE).map_err(|e| err(&e))?;
            let loop_kind = if results.config.is_open_loop() {
                "open loop"
            } else {
                "closed loop"
            };
            let caption = format!(
                "ricochet bench: latency by percentile ({loop_kind}, {} connections, {} B messages)",
                results.config.connections, results.config.size
            );
            let mut chart = ChartBuilder::on(&root)
                .caption(caption, ("sans-serif", 18))
                .margin(16)
                .margin_right(40)
                .x_label_area_size(45)
                .y_label_area_size(70)
                .build_cartesian_2d(0f64..max_nines, 0f64..y_max)
                .map_err(|e| err(&e))?;
            chart
                .configure_mesh()
                .x_labels(max_nines as usize + 1)
                .x_label_formatter(&|x| percentile_label(*x))
                .y_label_formatter(&|y| format!("{y:.0}"))
                .x_desc("percentile")
                .y_desc("latency (µs)")
                .draw()
                .map_err(|e| err(&e))?;
            for (i, (name, points)) in curves.into_iter().enumerate() {
                if points.is_empty() {
                    continue;
                }
                let color = Palette99::pick(i).to_rgba();
                chart
                    .draw_series(LineSeries::new(
                        points.into_iter().map(|(x, y)| (x.min(max_nines), y)),
                        color.stroke_width(2),
                    ))
                    .map_err(|e| err(&e))?
                    .label(name)
                    .legend(move |(x, y)| {
                        PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2))
                    });
            }
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperLeft)
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(|e| err(&e))?;
            root.present().map_err(|e| err(&e))?;
        }
        Ok(svg.into_bytes())
    }
}

/// (nines, latency in µs) points along the distribution.
fn curve(h: &Histogram<u64>) -> Vec<(f64, f64)> {
    if h.is_empty() {
        return Vec::new();
    }
    let mut points: Vec<(f64, f64)> = h
        .iter_quantiles(5)
        .map(|v| {
            (
                nines(v.quantile_iterated_to()),
                v.value_iterated_to() as f64 / 1e3,
            )
        })
        .filter(|p| p.0.is_finite())
        .collect();
    points.push((f64::MAX, h.max() as f64 / 1e3));
    points
}

/// `0.99` → `2.0`: how many nines a quantile has.
fn nines(q: f64) -> f64 {
    if q >= 1.0 {
        f64::INFINITY
    } else {
        -(1.0 - q).log10()
    }
}

/// `2.0` → `99%`, `0.0` → `0%`.
fn percentile_label(x: f64) -> String {
    let p = 100.0 * (1.0 - 10f64.powf(-x));
    let decimals = (x - 2.0).ceil().max(0.0) as usize;
    format!("{p:.decimals$}%")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axis_labels() {
        assert_eq!(percentile_label(0.0), "0%");
        assert_eq!(percentile_label(1.0), "90%");
        assert_eq!(percentile_label(2.0), "99%");
        assert_eq!(percentile_label(4.0), "99.99%");
        assert!((nines(0.999) - 3.0).abs() < 1e-9);
    }
}
