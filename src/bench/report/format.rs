//! Numbers for humans: counts, rates, sizes and latencies, shared by the
//! text report, the plot and the progress bar.

use crate::bench::stats::{ErrorCounts, ErrorKind};

/// `1234567` → `1,234,567`.
///
/// ```
/// assert_eq!(ricochet::bench::report::format::count(1234567), "1,234,567");
/// assert_eq!(ricochet::bench::report::format::count(12), "12");
/// ```
pub fn count(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// `n` and a noun, pluralised with an `s` unless `n` is 1.
///
/// ```
/// use ricochet::bench::report::format::counted;
/// assert_eq!(counted(1, "thread"), "1 thread");
/// assert_eq!(counted(12000, "connection"), "12,000 connections");
/// ```
pub fn counted(n: u64, noun: &str) -> String {
    let s = if n == 1 { "" } else { "s" };
    format!("{} {noun}{s}", count(n))
}

/// A rate with an SI suffix: `123456.0` → `123.5k`.
///
/// ```
/// use ricochet::bench::report::format::si;
/// assert_eq!(si(950.0), "950");
/// assert_eq!(si(123_456.0), "123.5k");
/// assert_eq!(si(2_500_000.0), "2.50M");
/// ```
pub fn si(x: f64) -> String {
    match x {
        x if x >= 1e9 => format!("{:.2}G", x / 1e9),
        x if x >= 1e6 => format!("{:.2}M", x / 1e6),
        x if x >= 1e3 => format!("{:.1}k", x / 1e3),
        x => format!("{x:.0}"),
    }
}

/// A latency in nanoseconds, in the unit that keeps 3 significant digits.
///
/// ```
/// use ricochet::bench::report::format::latency;
/// assert_eq!(latency(850.0), "850ns");
/// assert_eq!(latency(12_345.0), "12.3µs");
/// assert_eq!(latency(1_234_567.0), "1.23ms");
/// ```
pub fn latency(ns: f64) -> String {
    let (value, unit) = match ns {
        ns if ns >= 1e9 => (ns / 1e9, "s"),
        ns if ns >= 1e6 => (ns / 1e6, "ms"),
        ns if ns >= 1e3 => (ns / 1e3, "µs"),
        ns => return format!("{ns:.0}ns"),
    };
    let decimals = if value >= 100.0 {
        0
    } else if value >= 10.0 {
        1
    } else {
        2
    };
    format!("{value:.decimals$}{unit}")
}

/// Bytes per second in binary units: `MiB/s`.
///
/// ```
/// assert_eq!(ricochet::bench::report::format::bytes_per_sec(3.0 * 1048576.0), "3.0 MiB/s");
/// ```
pub fn bytes_per_sec(x: f64) -> String {
    const K: f64 = 1024.0;
    match x {
        x if x >= K * K * K => format!("{:.2} GiB/s", x / (K * K * K)),
        x if x >= K * K => format!("{:.1} MiB/s", x / (K * K)),
        x if x >= K => format!("{:.1} KiB/s", x / K),
        x => format!("{x:.0} B/s"),
    }
}

/// A message size: `1024` → `1 KiB`, `1000` → `1000 B`.
///
/// ```
/// use ricochet::bench::report::format::size;
/// assert_eq!(size(1024), "1 KiB");
/// assert_eq!(size(100 * 1024), "100 KiB");
/// assert_eq!(size(1000), "1000 B");
/// ```
pub fn size(bytes: usize) -> String {
    match bytes {
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b if b >= 1 << 10 && b % (1 << 10) == 0 => format!("{} KiB", b >> 10),
        b => format!("{b} B"),
    }
}

/// `A`, `B`, ... `Z`, then `T27`...: how reports name compared targets.
pub fn target_letter(index: usize) -> String {
    match u8::try_from(index) {
        Ok(i) if i < 26 => char::from(b'A' + i).to_string(),
        _ => format!("T{}", index + 1),
    }
}

/// Errors by kind as every view shows them: `none`, or `8 reset, 84
/// connect`, with a warning when an echo was wrong.
///
/// ```
/// use ricochet::bench::{report::format::errors, stats::ErrorCounts, ErrorKind};
///
/// let mut e = ErrorCounts::default();
/// assert_eq!(errors(&e), "none");
/// e.add(ErrorKind::Reset);
/// e.add(ErrorKind::Connect);
/// assert_eq!(errors(&e), "1 reset, 1 connect");
/// ```
pub fn errors(e: &ErrorCounts) -> String {
    if e.total() == 0 {
        return "none".to_owned();
    }
    let mut parts: Vec<String> = ErrorKind::ALL
        .iter()
        .filter(|&&k| e.get(k) > 0)
        .map(|&k| format!("{} {}", count(e.get(k)), k.name().replace('_', " ")))
        .collect();
    if e.verification() > 0 {
        parts.push("— VERIFICATION FAILED".to_owned());
    }
    parts.join(", ")
}
