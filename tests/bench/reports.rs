//! Reports: the JSON schema round trip, the HDR interval log, the SVG, and
//! comparisons that interleave rounds.

use std::time::Duration;

use crate::common::*;
use crate::{config, echo_server, expect, ricochet, run};
use hdrhistogram::serialization::interval_log::{IntervalLogIterator, LogEntry};
use hdrhistogram::serialization::Deserializer;
use hdrhistogram::Histogram;
use ricochet::bench::report::json::{JsonReport, SCHEMA_VERSION};
use ricochet::bench::report::{HdrLog, Json, Report, Svg, Text};
use ricochet::bench::BenchConfig;
use ricochet::{Mode, StreamEcho};

#[test]
fn json_report_round_trips_through_its_schema() {
    let server = echo_server();
    let r = run(&BenchConfig {
        duration: Duration::from_millis(200),
        ..config(vec![server.endpoint.clone()])
    });
    let json = Json.render(&r).unwrap();
    let parsed: JsonReport = serde_json::from_slice(&json).unwrap();
    assert_eq!(parsed.schema_version, SCHEMA_VERSION);
    assert_eq!(parsed.tool, "ricochet");
    assert_eq!(parsed.config.loop_kind, "closed");
    assert_eq!(parsed.config.connections, 4);
    let total = r.targets[0].total();
    let t = &parsed.targets[0];
    assert_eq!(t.endpoint, server.endpoint.to_string());
    assert_eq!(t.total.messages, total.messages);
    assert_eq!(t.total.latency_ns.count, total.messages);
    assert_eq!(t.total.latency_ns.p99, total.latency_at(99.0));
    assert_eq!(t.total.errors.mismatch, 0);
    assert_eq!(t.rounds.len(), 1);
    assert!(parsed.comparison.is_none());
    assert!(!parsed.verification_failed);
    // Serialising what was read gives back the same document.
    let again: JsonReport = serde_json::from_slice(&serde_json::to_vec(&parsed).unwrap()).unwrap();
    assert_eq!(
        again.targets[0].total.messages,
        parsed.targets[0].total.messages
    );
    assert_eq!(again.config, parsed.config);
}

#[test]
fn comparison_interleaves_rounds_and_reports_ratios() {
    let tcp = echo_server();
    let unix = ThreadServer::ricochet(Mode::Stream(StreamEcho), true);
    let r = run(&BenchConfig {
        rounds: 2,
        duration: Duration::from_millis(150),
        warmup: Duration::from_millis(50),
        ..config(vec![tcp.endpoint.clone(), unix.endpoint.clone()])
    });
    // Interleaved: A1 B1 A2 B2.
    let starts: Vec<Duration> = [(0, 0), (1, 0), (0, 1), (1, 1)]
        .iter()
        .map(|&(t, round)| r.targets[t].rounds[round].started)
        .collect();
    assert!(starts.windows(2).all(|w| w[0] < w[1]), "{starts:?}");
    let c = r.comparison.as_ref().expect("two targets compare");
    assert_eq!(c.rounds, 2);
    let base = c.targets[0].ratio_messages_per_sec.unwrap();
    assert!((base.mean - 1.0).abs() < 1e-9);
    let b = c.targets[1].ratio_messages_per_sec.unwrap();
    assert!(b.mean > 0.0 && b.interval.is_some());
    // Tail latency is compared too: p99.9 is the mean of the rounds' p99.9.
    let p999: Vec<f64> = r.targets[1]
        .rounds
        .iter()
        .map(|round| round.stats.latency_at(99.9) as f64)
        .collect();
    assert!((c.targets[1].p99_9_ns.mean - (p999[0] + p999[1]) / 2.0).abs() < 1e-6);
    assert!(c.targets[1].ratio_p99_9.is_some());
    let text = String::from_utf8(Text.render(&r).unwrap()).unwrap();
    assert!(
        text.contains("Comparison over 2 interleaved rounds"),
        "{text}"
    );
    let header = text
        .lines()
        .find(|l| l.contains("ratio") && l.contains("p50"))
        .unwrap();
    assert!(header.contains("p99.9"), "{text}");
    let json: JsonReport = serde_json::from_slice(&Json.render(&r).unwrap()).unwrap();
    let jc = json.comparison.expect("comparison in JSON");
    assert_eq!(jc.targets[1].p99_9_ns.mean, c.targets[1].p99_9_ns.mean);
    assert!(jc.targets[1].ratio_p99_9.is_some());

    // The HdrHistogram log holds one interval per target and round, and
    // reads back to the same counts.
    let log = HdrLog.render(&r).unwrap();
    let mut deserializer = Deserializer::new();
    let mut per_tag = std::collections::HashMap::<String, u64>::new();
    let mut intervals = 0;
    for entry in IntervalLogIterator::new(&log) {
        if let LogEntry::Interval(h) = entry.expect("log parses") {
            let bytes = base64_decode(h.encoded_histogram());
            let hist: Histogram<u64> = deserializer.deserialize(&mut bytes.as_slice()).unwrap();
            *per_tag.entry(h.tag().unwrap().to_string()).or_default() += hist.len();
            intervals += 1;
        }
    }
    assert_eq!(intervals, 4);
    for t in &r.targets {
        assert_eq!(per_tag[&t.endpoint.to_string()], t.total().histogram.len());
    }

    // Two machines' logs merge into exactly twice the counts, per target
    // and overall, in the library and through `bench --merge`.
    let dir = tempfile::tempdir().unwrap();
    let logs: Vec<_> = ["a.hlog", "b.hlog"]
        .iter()
        .map(|n| dir.path().join(n))
        .collect();
    for path in &logs {
        std::fs::write(path, &log).unwrap();
    }
    let merged = ricochet::bench::merge::merge_logs(&logs).unwrap();
    assert_eq!(merged.intervals, 8);
    let total: u64 = r.targets.iter().map(|t| t.total().histogram.len()).sum();
    assert_eq!(merged.all.len(), 2 * total);
    for t in &r.targets {
        assert_eq!(
            merged.per_tag[&t.endpoint.to_string()].len(),
            2 * t.total().histogram.len()
        );
    }
    let out = ricochet()
        .arg("bench")
        .arg("--merge")
        .args(&logs)
        .output()
        .unwrap();
    expect(
        &out,
        0,
        &out.stdout,
        &["all", "p99.9", "8 intervals from 2 logs"],
    );
    let not_a_log = dir.path().join("notes.txt");
    std::fs::write(&not_a_log, "hello\n").unwrap();
    let out = ricochet()
        .arg("bench")
        .arg("--merge")
        .arg(&not_a_log)
        .output()
        .unwrap();
    expect(&out, 1, &out.stderr, &["notes.txt"]);

    let svg = String::from_utf8(Svg.render(&r).unwrap()).unwrap();
    assert!(
        svg.starts_with("<svg") && svg.contains("99%"),
        "{}",
        &svg[..200]
    );
    assert!(svg.contains(&tcp.endpoint.to_string()));
}

/// Standard base64, as the interval log encodes histograms.
fn base64_decode(s: &str) -> Vec<u8> {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = ALPHABET.iter().position(|&a| a == c).expect("base64") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}
