//! The command line's numbers: durations, sizes and rates, parsed and
//! range-checked in one place.
//!
//! Every parser takes the range the caller accepts and rejects anything
//! outside it *at parse time*, with an error that names the input, says
//! what is wrong and shows a value that would work. A value that got
//! through can be used without further checks: a duration is never so
//! large that `Instant::now() + d` overflows ([`MAX_DURATION`]), and a
//! rate is never so small that its per-message interval stops being a
//! representable [`Duration`] ([`MIN_RATE`]).

use std::fmt;
use std::ops::RangeInclusive;
use std::time::Duration;

/// The longest duration any parser here accepts, whatever range the caller
/// asks for: 365 days. Far beyond any sensible timeout or run, and small
/// enough that adding it to an `Instant` or a `SystemTime` cannot overflow.
pub const MAX_DURATION: Duration = Duration::from_secs(365 * 24 * 60 * 60);

/// The smallest rate [`parse_rate`] accepts: one message every 1000 s.
pub const MIN_RATE: f64 = 0.001;

/// The largest rate [`parse_rate`] accepts: 10⁹ messages per second, one
/// per nanosecond, the finest interval a [`Duration`] can express.
pub const MAX_RATE: f64 = 1e9;

/// What a parser was reading, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Quantity {
    /// A time span (`1.5`, `250ms`, `2m 30s`).
    Duration,
    /// A number of bytes (`1024`, `1KiB`, `1M`).
    Size,
    /// Messages per second (`10000`, `0.5`).
    Rate,
}

impl Quantity {
    /// Valid examples, for error messages.
    pub fn examples(self) -> &'static str {
        match self {
            Quantity::Duration => "1.5 (seconds), 250ms or 2m 30s",
            Quantity::Size => "1024, 1KiB, 100K or 1MiB",
            Quantity::Rate => "10000 or 0.5 (messages per second)",
        }
    }
}

impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Quantity::Duration => "duration",
            Quantity::Size => "size",
            Quantity::Rate => "rate",
        })
    }
}

/// Why a string is not an acceptable number. Each message names the input
/// and shows a valid value; the limits are written so that they parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// Not a number in a known notation, or not a finite, positive one.
    #[error("invalid {quantity} '{input}': {why}; expected e.g. {}", quantity.examples())]
    Malformed {
        /// What was being parsed.
        quantity: Quantity,
        /// The input as given.
        input: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// Below the smallest accepted value.
    #[error("{quantity} '{input}' is too small: it must be at least {min}")]
    TooSmall {
        /// What was being parsed.
        quantity: Quantity,
        /// The input as given.
        input: String,
        /// The smallest accepted value, in the quantity's notation.
        min: String,
    },
    /// Above the largest accepted value.
    #[error("{quantity} '{input}' is too large: it must be at most {max}")]
    TooLarge {
        /// What was being parsed.
        quantity: Quantity,
        /// The input as given.
        input: String,
        /// The largest accepted value, in the quantity's notation.
        max: String,
    },
}

/// Parses a duration: plain seconds (`1.5`, `0`, `1e-3`) or humantime
/// (`250ms`, `2m 30s`, `1h`), within `range`. The range is also capped at
/// [`MAX_DURATION`], so any accepted value can be added to an `Instant`.
/// NaN, infinities and negative numbers are rejected.
///
/// ```
/// use std::time::Duration;
/// use ricochet::units::{parse_duration, MAX_DURATION};
///
/// let run = Duration::from_millis(1)..=MAX_DURATION;
/// assert_eq!(parse_duration("1.5", run.clone()), Ok(Duration::from_millis(1500)));
/// assert_eq!(parse_duration("2m 30s", run.clone()), Ok(Duration::from_secs(150)));
/// assert!(parse_duration("0", run.clone()).is_err()); // a run needs some time
/// assert!(parse_duration("1e19", run).is_err()); // would overflow an Instant
///
/// let grace = Duration::ZERO..=MAX_DURATION;
/// assert_eq!(parse_duration("0", grace), Ok(Duration::ZERO));
/// ```
pub fn parse_duration(s: &str, range: RangeInclusive<Duration>) -> Result<Duration, UnitError> {
    let q = Quantity::Duration;
    let (min, max) = (*range.start(), (*range.end()).min(MAX_DURATION));
    let t = s.trim();
    let d = if let Ok(secs) = t.parse::<f64>() {
        if !secs.is_finite() {
            return Err(malformed(q, s, "not a finite number"));
        }
        if secs < 0.0 {
            return Err(malformed(q, s, "negative"));
        }
        // Compare as floats first: converting 1e19 s would not fit.
        if secs > max.as_secs_f64() {
            return Err(too_large(q, s, show_duration(max)));
        }
        Duration::try_from_secs_f64(secs.abs()).map_err(|_| too_large(q, s, show_duration(max)))?
    } else {
        humantime::parse_duration(t).map_err(|e| match e {
            humantime::DurationError::NumberOverflow => too_large(q, s, show_duration(max)),
            _ => malformed(q, s, "not a number of seconds or a duration like 250ms"),
        })?
    };
    if d > max {
        Err(too_large(q, s, show_duration(max)))
    } else if d < min {
        Err(too_small(q, s, show_duration(min)))
    } else {
        Ok(d)
    }
}

/// Parses a size in bytes: `1024`, `1K`, `1KiB`, `10k`, `1M`, `1MiB`, `1G`
/// (every unit 1024-based, case-insensitive, `B` optional), within `range`.
/// Arithmetic is checked: `99999999999999999999G` is too large, not a
/// wrapped-around small number.
///
/// ```
/// use ricochet::units::parse_size;
///
/// let payload = 1..=64 << 20; // 1 B to 64 MiB
/// assert_eq!(parse_size("1024", payload.clone()), Ok(1024));
/// assert_eq!(parse_size("10k", payload.clone()), Ok(10 * 1024));
/// assert_eq!(parse_size("1MiB", payload.clone()), Ok(1 << 20));
/// assert!(parse_size("0", payload.clone()).is_err());
/// assert!(parse_size("65MiB", payload).is_err());
/// ```
pub fn parse_size(s: &str, range: RangeInclusive<usize>) -> Result<usize, UnitError> {
    let q = Quantity::Size;
    let (min, max) = (*range.start(), *range.end());
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let multiplier: usize = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return Err(malformed(q, s, "not a whole number with a unit K, M or G")),
    };
    if digits.is_empty() {
        return Err(malformed(q, s, "no number"));
    }
    // Only ASCII digits are left, so a parse failure means overflow.
    let size = digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| too_large(q, s, show_size(max)))?;
    if size > max {
        Err(too_large(q, s, show_size(max)))
    } else if size < min {
        Err(too_small(q, s, show_size(min)))
    } else {
        Ok(size)
    }
}

/// Parses a rate in messages per second (`10000`, `0.5`, `1e6`), within
/// `range`. The range is also capped to [`MIN_RATE`]`..=`[`MAX_RATE`], so
/// `Duration::from_secs_f64(1.0 / rate)` is always a valid, non-zero
/// interval. NaN, infinities, zero and negative numbers are rejected.
///
/// ```
/// use ricochet::units::{parse_rate, MAX_RATE, MIN_RATE};
///
/// assert_eq!(parse_rate("10000", MIN_RATE..=MAX_RATE), Ok(10000.0));
/// assert_eq!(parse_rate("0.5", MIN_RATE..=MAX_RATE), Ok(0.5));
/// assert!(parse_rate("1e-300", MIN_RATE..=MAX_RATE).is_err());
/// assert!(parse_rate("0", MIN_RATE..=MAX_RATE).is_err());
/// assert!(parse_rate("NaN", MIN_RATE..=MAX_RATE).is_err());
/// ```
pub fn parse_rate(s: &str, range: RangeInclusive<f64>) -> Result<f64, UnitError> {
    let q = Quantity::Rate;
    // `f64::max`/`min` ignore a NaN bound, so a NaN range means the caps.
    let min = range.start().max(MIN_RATE);
    let max = range.end().min(MAX_RATE);
    let rate = s
        .trim()
        .parse::<f64>()
        .map_err(|_| malformed(q, s, "not a number"))?;
    if !rate.is_finite() {
        return Err(malformed(q, s, "not a finite number"));
    }
    if rate < 0.0 {
        return Err(malformed(q, s, "negative"));
    }
    if rate > max {
        Err(too_large(q, s, max.to_string()))
    } else if rate < min {
        Err(too_small(q, s, min.to_string()))
    } else {
        Ok(rate)
    }
}

fn malformed(quantity: Quantity, input: &str, why: &'static str) -> UnitError {
    UnitError::Malformed {
        quantity,
        input: input.to_owned(),
        why,
    }
}

fn too_small(quantity: Quantity, input: &str, min: String) -> UnitError {
    UnitError::TooSmall {
        quantity,
        input: input.to_owned(),
        min,
    }
}

fn too_large(quantity: Quantity, input: &str, max: String) -> UnitError {
    UnitError::TooLarge {
        quantity,
        input: input.to_owned(),
        max,
    }
}

/// `365days`, `1ms`, `0s`: the largest unit that divides evenly, in a
/// notation that parses back.
fn show_duration(d: Duration) -> String {
    let ns = d.as_nanos();
    if ns == 0 {
        return "0s".to_owned();
    }
    const S: u128 = 1_000_000_000;
    for (unit, per) in [
        ("days", 86_400 * S),
        ("h", 3_600 * S),
        ("m", 60 * S),
        ("s", S),
        ("ms", 1_000_000),
        ("us", 1_000),
    ] {
        if ns % per == 0 {
            return format!("{}{unit}", ns / per);
        }
    }
    format!("{ns}ns")
}

/// `64MiB`, `1KiB`, `1000B`: the largest unit that divides evenly.
fn show_size(n: usize) -> String {
    for (unit, shift) in [("GiB", 30), ("MiB", 20), ("KiB", 10)] {
        if n != 0 && n % (1 << shift) == 0 {
            return format!("{}{unit}", n >> shift);
        }
    }
    format!("{n}B")
}

#[cfg(test)]
mod tests {
    use super::*;

    const RUN: RangeInclusive<Duration> = Duration::from_millis(1)..=MAX_DURATION;
    const ANY: RangeInclusive<Duration> = Duration::ZERO..=MAX_DURATION;
    const PAYLOAD: RangeInclusive<usize> = 1..=64 << 20;
    const RATE: RangeInclusive<f64> = MIN_RATE..=MAX_RATE;

    #[test]
    fn durations() {
        let ok = |s| parse_duration(s, ANY).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ok("1.5"), Duration::from_millis(1500));
        assert_eq!(ok(" 250ms "), Duration::from_millis(250));
        assert_eq!(ok("2m 30s"), Duration::from_secs(150));
        assert_eq!(ok("0"), Duration::ZERO);
        assert_eq!(ok("-0"), Duration::ZERO);
        assert_eq!(ok("0s"), Duration::ZERO);
        assert_eq!(ok("1e-3"), Duration::from_millis(1));
        assert_eq!(ok("365days"), MAX_DURATION);
        assert_eq!(ok("31536000"), MAX_DURATION);
    }

    #[test]
    fn durations_out_of_range_are_errors_not_panics() {
        let err = |s, r| parse_duration(s, r).unwrap_err();
        for s in ["1e19", "1e300", "31536000.5", "366days", "10000000000years"] {
            assert!(matches!(err(s, ANY), UnitError::TooLarge { .. }), "{s}");
        }
        for s in ["NaN", "inf", "-inf", "-1", "-0.001", "", "x", "1 parsec"] {
            assert!(matches!(err(s, ANY), UnitError::Malformed { .. }), "{s}");
        }
        assert!(matches!(err("0", RUN), UnitError::TooSmall { .. }));
        assert!(matches!(err("0.0001", RUN), UnitError::TooSmall { .. }));
        // A caller's maximum above the cap is capped.
        let huge = Duration::ZERO..=Duration::MAX;
        assert!(matches!(err("1e19", huge), UnitError::TooLarge { .. }));
        // And any accepted duration fits after now.
        let max = parse_duration("365days", ANY).unwrap();
        assert!(std::time::Instant::now().checked_add(max).is_some());
    }

    #[test]
    fn duration_errors_say_what_and_how() {
        let msg = parse_duration("1e19", RUN).unwrap_err().to_string();
        assert_eq!(
            msg,
            "duration '1e19' is too large: it must be at most 365days"
        );
        let msg = parse_duration("0", RUN).unwrap_err().to_string();
        assert_eq!(msg, "duration '0' is too small: it must be at least 1ms");
        let msg = parse_duration("soon", RUN).unwrap_err().to_string();
        assert!(msg.contains("'soon'") && msg.contains("250ms"), "{msg}");
    }

    #[test]
    fn sizes() {
        let ok = |s| parse_size(s, PAYLOAD).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ok("1024"), 1024);
        assert_eq!(ok("1K"), 1024);
        assert_eq!(ok("1KiB"), 1024);
        assert_eq!(ok("10k"), 10 * 1024);
        assert_eq!(ok("100 kb"), 100 * 1024);
        assert_eq!(ok("1M"), 1 << 20);
        assert_eq!(ok("1MiB"), 1 << 20);
        assert_eq!(ok("64MiB"), 64 << 20);
        assert_eq!(ok("1b"), 1);
    }

    #[test]
    fn sizes_out_of_range_are_errors_not_panics() {
        let err = |s| parse_size(s, PAYLOAD).unwrap_err();
        for s in ["0", "0K"] {
            assert!(matches!(err(s), UnitError::TooSmall { .. }), "{s}");
        }
        for s in [
            "65MiB",
            "1G",
            "67108865",
            "18446744073709551615",
            "18446744073709551616",
            "99999999999999999999999G",
            "17179869184G",
        ] {
            assert!(matches!(err(s), UnitError::TooLarge { .. }), "{s}");
        }
        for s in ["", "x", "K", "1T", "-1", "+1", "1.5K", "1 K B"] {
            assert!(matches!(err(s), UnitError::Malformed { .. }), "{s}");
        }
        assert_eq!(
            err("65MiB").to_string(),
            "size '65MiB' is too large: it must be at most 64MiB"
        );
        assert_eq!(
            err("0").to_string(),
            "size '0' is too small: it must be at least 1B"
        );
        assert_eq!(parse_size("0", 0..=usize::MAX), Ok(0));
        assert_eq!(parse_size("1000", 0..=1000), Ok(1000));
        assert_eq!(show_size(1000), "1000B");
    }

    #[test]
    fn limits_in_messages_parse_back() {
        for d in [
            MAX_DURATION,
            Duration::from_millis(1),
            Duration::from_micros(1500),
            Duration::from_nanos(7),
            Duration::from_secs(90),
        ] {
            assert_eq!(parse_duration(&show_duration(d), ANY), Ok(d));
        }
        for n in [1, 1000, 1024, 64 << 20, 3 << 30] {
            assert_eq!(parse_size(&show_size(n), 0..=usize::MAX), Ok(n));
        }
    }

    #[test]
    fn rates() {
        let ok = |s| parse_rate(s, RATE).unwrap_or_else(|e| panic!("{s}: {e}"));
        assert_eq!(ok("10000"), 10000.0);
        assert_eq!(ok("0.5"), 0.5);
        assert_eq!(ok("0.001"), MIN_RATE);
        assert_eq!(ok("1e9"), MAX_RATE);
        let err = |s| parse_rate(s, RATE).unwrap_err();
        for s in ["1e-300", "0", "0.0009", "5e-324"] {
            assert!(matches!(err(s), UnitError::TooSmall { .. }), "{s}");
        }
        for s in ["1e9.5", "", "x", "NaN", "inf", "-1", "-0.5"] {
            assert!(matches!(err(s), UnitError::Malformed { .. }), "{s}");
        }
        for s in ["1e10", "1e308", "1.0000001e9"] {
            assert!(matches!(err(s), UnitError::TooLarge { .. }), "{s}");
        }
        // Caller ranges outside the caps are capped.
        assert!(parse_rate("1e-300", 0.0..=f64::MAX).is_err());
        assert!(parse_rate("1e300", 0.0..=f64::INFINITY).is_err());
        assert!(parse_rate("1", f64::NAN..=f64::NAN).is_ok());
        assert_eq!(
            err("1e-300").to_string(),
            "rate '1e-300' is too small: it must be at least 0.001"
        );
        // Every accepted rate has a representable, non-zero interval.
        for r in [MIN_RATE, MAX_RATE] {
            let interval = Duration::try_from_secs_f64(1.0 / r).unwrap();
            assert!(!interval.is_zero());
        }
    }
}
