//! Workloads against ricochet's own server: closed and open loops over TCP and
//! Unix, pipelining, random payloads, one-shot and connect-only.

use std::time::Duration;

use crate::common::*;
use crate::{config, echo_server, pausing_server, run};
use ricochet::bench::report::{Report, Text};
use ricochet::bench::{BenchConfig, PayloadKind, SourceIps, Workload};
use ricochet::{Mode, StreamEcho};

#[test]
fn closed_loop_over_tcp_measures_and_verifies() {
    let server = echo_server();
    let r = run(&config(vec![server.endpoint.clone()]));
    let total = r.targets[0].total();
    assert!(total.messages > 100, "only {} messages", total.messages);
    assert_eq!(total.errors.total(), 0, "{:?}", total.errors);
    assert_eq!(total.histogram.len(), total.messages);
    assert_eq!(total.bytes, total.messages * 1024);
    assert_eq!(total.connections, 4);
    assert!(total.latency_at(50.0) > 0);
    assert_eq!(r.verification_errors(), 0);
    let text = String::from_utf8(Text.render(&r).unwrap()).unwrap();
    assert!(
        text.contains("closed loop") && text.contains("p99.99"),
        "{text}"
    );
}

#[test]
fn closed_loop_over_unix_with_pipeline_and_random_payload() {
    let server = ThreadServer::ricochet(Mode::Stream(StreamEcho), true);
    let r = run(&BenchConfig {
        pipeline: 4,
        size: 100,
        payload: PayloadKind::Random,
        ..config(vec![server.endpoint.clone()])
    });
    let total = r.targets[0].total();
    assert!(total.messages > 100, "only {} messages", total.messages);
    assert_eq!(total.messages % 4, 0, "pipelined batches complete whole");
    assert_eq!(total.errors.total(), 0, "{:?}", total.errors);
}

#[test]
fn open_loop_keeps_its_schedule() {
    let server = echo_server();
    let r = run(&BenchConfig {
        rate: Some(2000.0),
        duration: Duration::from_millis(500),
        ..config(vec![server.endpoint.clone()])
    });
    let total = r.targets[0].total();
    // 2000/s for 0.5 s: about 1000 messages, however fast the server is.
    assert!(
        (700..=1300).contains(&total.messages),
        "{} messages",
        total.messages
    );
    assert_eq!(total.errors.total(), 0, "{:?}", total.errors);
    let text = String::from_utf8(Text.render(&r).unwrap()).unwrap();
    assert!(
        text.contains("open loop") && text.contains("intended"),
        "{text}"
    );
}

#[test]
fn open_loop_charges_a_stall_to_every_message_it_delayed() {
    // One connection, 1000 messages/s, and a 200 ms pause early on.
    let server = pausing_server(50 * 1024, Duration::from_millis(200));
    let base = BenchConfig {
        connections: 1,
        threads: 1,
        warmup: Duration::ZERO,
        duration: Duration::from_millis(600),
        ..config(vec![server.endpoint.clone()])
    };
    let open = run(&BenchConfig {
        rate: Some(1000.0),
        ..base.clone()
    });
    let open = open.targets[0].total();
    // Every message scheduled during the pause waited for it: ~200 of ~600
    // messages, so a tenth of them waited more than 50 ms.
    assert!(
        open.latency_at(100.0) >= 190_000_000,
        "{}",
        open.latency_at(100.0)
    );
    assert!(
        open.latency_at(90.0) >= 50_000_000,
        "{}",
        open.latency_at(90.0)
    );
    assert!(open.messages >= 400, "{} messages", open.messages);
    // The closed loop sees the same pause as one slow message.
    let closed = run(&base);
    let closed = closed.targets[0].total();
    assert!(closed.latency_at(100.0) >= 190_000_000);
    assert!(
        closed.latency_at(90.0) < 50_000_000,
        "{}",
        closed.latency_at(90.0)
    );
}

#[test]
fn one_shot_and_connect_only_count_connections() {
    let server = echo_server();
    // Connect-only never waits for the server, so a closed loop would just
    // overflow the accept backlog; pace it with the open loop instead.
    for (workload, rate) in [
        (Workload::OneShot, None),
        (Workload::ConnectOnly, Some(2000.0)),
    ] {
        let r = run(&BenchConfig {
            workload,
            rate,
            duration: Duration::from_millis(300),
            ..config(vec![server.endpoint.clone()])
        });
        let total = r.targets[0].total();
        assert!(
            total.messages > 10,
            "{workload:?}: {} done, {:?}",
            total.messages,
            total.errors
        );
        assert!(total.connections >= total.messages);
        assert_eq!(total.errors.total(), 0, "{workload:?}: {:?}", total.errors);
        // Loopback target: connections come from 127.0.0.2-127.0.0.65.
        assert_eq!(r.sources[0].len(), 64);
    }
    let r = run(&BenchConfig {
        workload: Workload::OneShot,
        source_ips: SourceIps::None,
        duration: Duration::from_millis(100),
        warmup: Duration::ZERO,
        ..config(vec![server.endpoint.clone()])
    });
    assert!(r.sources[0].is_empty());
    assert!(r.targets[0].total().messages > 0);
}
