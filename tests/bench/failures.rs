//! What bench reports when the target misbehaves: corrupted echoes, resets,
//! stalls, a one-message server, an unreachable target.

use std::time::Duration;

use crate::common::*;
use crate::{config, corrupting_server, resetting_server, run, stalling_server};
use ricochet::bench::report::{Report, Text};
use ricochet::bench::{self, progress::Silent, BenchConfig, BenchError, ErrorKind, Workload};
use ricochet::{Endpoint, Mode, OnceEcho};

#[test]
fn verification_catches_a_corrupting_server() {
    // Clean for the probe (2 × 1 KiB), corrupt soon after.
    let server = corrupting_server(4096, 10_000);
    let r = run(&config(vec![server.endpoint.clone()]));
    let total = r.targets[0].total();
    assert!(
        total.errors.get(ErrorKind::Mismatch) > 0,
        "{:?}",
        total.errors
    );
    assert!(r.verification_errors() > 0);
    assert!(total.messages > 0, "clean messages still count");
    let text = String::from_utf8(Text.render(&r).unwrap()).unwrap();
    assert!(text.contains("VERIFICATION FAILED"), "{text}");
}

#[test]
fn a_server_that_corrupts_everything_is_named_not_an_echo_server() {
    let server = corrupting_server(0, 7);
    let err = bench::run(&config(vec![server.endpoint.clone()]), &mut Silent).unwrap_err();
    assert!(
        matches!(
            err,
            BenchError::NotEcho {
                reason: ricochet::echo::EchoError::Mismatch { offset: 0, .. },
                ..
            }
        ),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains(&server.endpoint.to_string())
            && msg.contains("does not look like an echo server"),
        "{msg}"
    );
}

#[test]
fn resets_are_counted_apart_from_verification() {
    let server = resetting_server(8 * 1024);
    let r = run(&config(vec![server.endpoint.clone()]));
    let total = r.targets[0].total();
    assert!(total.errors.get(ErrorKind::Reset) > 0, "{:?}", total.errors);
    assert_eq!(total.errors.get(ErrorKind::Mismatch), 0);
    assert!(total.messages > 0);
    assert!(total.connections > 4, "reconnects after each reset");
}

#[test]
fn timeouts_are_counted_when_echoes_stop() {
    let server = stalling_server(8 * 1024);
    for rate in [None, Some(2000.0)] {
        let r = run(&BenchConfig {
            rate,
            timeout: Duration::from_millis(100),
            warmup: Duration::ZERO,
            duration: Duration::from_millis(500),
            ..config(vec![server.endpoint.clone()])
        });
        let total = r.targets[0].total();
        assert!(
            total.errors.get(ErrorKind::Timeout) >= 4,
            "{rate:?}: {:?}",
            total.errors
        );
        assert_eq!(
            total.errors.verification(),
            0,
            "{rate:?}: {:?}",
            total.errors
        );
        assert!(total.messages > 0);
    }
}

#[test]
fn a_one_message_server_is_pointed_to_one_shot() {
    let server = ThreadServer::ricochet(
        Mode::Once(OnceEcho {
            max_read: 64 * 1024,
            delay: None,
        }),
        false,
    );
    let err = bench::run(&config(vec![server.endpoint.clone()]), &mut Silent).unwrap_err();
    assert!(
        matches!(err, BenchError::OneMessageServer { .. }),
        "{err:?}"
    );
    assert!(err.to_string().contains("--one-shot"));
    let r = run(&BenchConfig {
        workload: Workload::OneShot,
        duration: Duration::from_millis(200),
        ..config(vec![server.endpoint.clone()])
    });
    assert!(r.targets[0].total().messages > 0);
}

#[test]
fn an_unreachable_target_fails_fast() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let err = bench::run(&config(vec![Endpoint::tcp("127.0.0.1", port)]), &mut Silent).unwrap_err();
    assert!(matches!(err, BenchError::Connect(_)), "{err:?}");
}
