//! `ricochet::units`: no input panics a parser; what is accepted lies in
//! the caller's range and the documented caps; an accepted duration can be
//! added to `Instant::now()`.
#![no_main]

use std::time::{Duration, Instant};

use arbitrary::Arbitrary;
use libfuzzer_sys::fuzz_target;
use ricochet::units::{parse_duration, parse_rate, parse_size, MAX_DURATION, MAX_RATE, MIN_RATE};

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    /// Caller ranges, fuzzed too: any bounds, including empty and huge ones.
    min_nanos: u64,
    max_nanos: u64,
    min_size: usize,
    max_size: usize,
    min_rate: f64,
    max_rate: f64,
    text: &'a str,
}

fuzz_target!(|input: Input<'_>| {
    let text = input.text;

    // The ranges the CLI will use, then the fuzzed ones.
    let durations = [
        Duration::ZERO..=MAX_DURATION,
        Duration::from_millis(1)..=MAX_DURATION,
        Duration::ZERO..=Duration::MAX,
        Duration::from_nanos(input.min_nanos)..=Duration::from_nanos(input.max_nanos),
    ];
    for range in durations {
        if let Ok(d) = parse_duration(text, range.clone()) {
            assert!(range.contains(&d), "{text:?}: {d:?} outside {range:?}");
            assert!(d <= MAX_DURATION, "{text:?}: {d:?} above MAX_DURATION");
            assert!(
                Instant::now().checked_add(d).is_some(),
                "{text:?}: {d:?} overflows an Instant"
            );
        }
    }

    let sizes = [
        1..=64 << 20,
        0..=usize::MAX,
        input.min_size..=input.max_size,
    ];
    for range in sizes {
        if let Ok(n) = parse_size(text, range.clone()) {
            assert!(range.contains(&n), "{text:?}: {n} outside {range:?}");
        }
    }

    let rates = [
        MIN_RATE..=MAX_RATE,
        0.0..=f64::INFINITY,
        input.min_rate..=input.max_rate,
    ];
    for range in rates {
        if let Ok(r) = parse_rate(text, range.clone()) {
            assert!(r.is_finite() && r > 0.0, "{text:?}: rate {r}");
            assert!(
                (MIN_RATE..=MAX_RATE).contains(&r),
                "{text:?}: {r} outside the caps"
            );
            assert!(
                !(r < *range.start() || r > *range.end()),
                "{text:?}: {r} outside {range:?}"
            );
            let interval = Duration::try_from_secs_f64(1.0 / r);
            assert!(
                interval.is_ok_and(|i| !i.is_zero()),
                "{text:?}: rate {r} has no usable interval"
            );
        }
    }
});
