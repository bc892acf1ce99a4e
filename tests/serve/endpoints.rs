//! Endpoints and their "listening on" lines: IPv4, IPv6, Unix, host names that
//! resolve to several addresses, bare forms.

use std::collections::HashSet;
use std::net::ToSocketAddrs;

use crate::common::*;

#[tokio::test]
async fn listens_on_ipv4_ipv6_and_unix_and_reports_real_ports() {
    let (_dir, path, unix) = unix_endpoint("echo.sock");
    let endpoints = every_transport(&unix);
    let server = ServerProc::ricochet(&endpoints, &[]);
    assert_eq!(
        server.endpoints.len(),
        endpoints.len(),
        "{:?}",
        server.endpoints
    );

    let v4 = &server.endpoints[0];
    assert!(v4.starts_with("tcp://127.0.0.1:"), "{v4}");
    assert_ne!(port_of(v4), 0, "port 0 must be reported as the real port");
    assert_eq!(server.endpoints[1], unix);
    assert!(path.exists(), "socket file not created");
    if let Some(v6) = server.endpoints.get(2) {
        assert!(v6.starts_with("tcp://[::1]:"), "{v6}");
        assert_ne!(port_of(v6), 0);
    }
    for ep in &server.endpoints {
        assert_eq!(exchange(ep, b"Hello World!").await, b"Hello World!", "{ep}");
    }
}

#[tokio::test]
async fn localhost_binds_every_resolved_address_on_one_port() {
    let resolved: HashSet<_> = ("localhost", 0)
        .to_socket_addrs()
        .expect("resolve localhost")
        .map(|a| a.ip())
        .collect();
    let server = ServerProc::ricochet(&["tcp://localhost:0"], &[]);
    assert_eq!(
        server.endpoints.len(),
        resolved.len(),
        "{:?}",
        server.endpoints
    );
    let ports: HashSet<u16> = server.endpoints.iter().map(|e| port_of(e)).collect();
    assert_eq!(ports.len(), 1, "one name, one port: {:?}", server.endpoints);
    assert!(!ports.contains(&0));
    let bound: HashSet<_> = server
        .endpoints
        .iter()
        .map(|e| {
            let hostport = e.strip_prefix("tcp://").expect("tcp endpoint");
            hostport
                .to_socket_addrs()
                .expect("announced endpoint is an address")
                .next()
                .expect("one address")
                .ip()
        })
        .collect();
    assert_eq!(bound, resolved);
    for ep in &server.endpoints {
        assert_eq!(exchange(ep, b"ping").await, b"ping", "{ep}");
    }
}

#[tokio::test]
async fn bare_host_port_is_tcp_and_bare_path_is_unix() {
    let (_dir, path, _) = unix_endpoint("bare.sock");
    let bare_path = path.to_str().expect("utf-8 temp path");
    let server = ServerProc::ricochet(&["127.0.0.1:0", bare_path], &[]);
    assert!(
        server.endpoints[0].starts_with("tcp://127.0.0.1:"),
        "{:?}",
        server.endpoints
    );
    assert_eq!(server.endpoints[1], format!("unix:{bare_path}"));
    for ep in &server.endpoints {
        assert_eq!(exchange(ep, b"bare").await, b"bare", "{ep}");
    }
}

/// A comma is part of a Unix socket path on the command line; only the
/// RICOCHET_LISTEN variable is a comma-separated list.
#[tokio::test]
async fn commas_split_endpoints_only_in_ricochet_listen() {
    let (_dir, path, _) = unix_endpoint("a,b.sock");
    let unix = format!("unix:{}", path.display());
    let server = ServerProc::ricochet(&[&unix], &[]);
    assert_eq!(server.endpoints, std::slice::from_ref(&unix));
    assert_eq!(exchange(&unix, b"comma").await, b"comma");
    drop(server);

    let (_dir2, _, other) = unix_endpoint("listen.sock");
    let server = ServeCmd::new(&[])
        .env("RICOCHET_LISTEN", &format!("tcp://127.0.0.1:0,{other}"))
        .spawn_expecting(2);
    assert_eq!(server.endpoints.len(), 2, "{:?}", server.endpoints);
    for ep in &server.endpoints {
        assert_eq!(exchange(ep, b"env").await, b"env", "{ep}");
    }
}

#[test]
fn a_bare_port_is_named_as_a_port_without_a_host() {
    let out = ricochet().args(["serve", "41012"]).output().expect("run");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("port without a host") && err.contains("localhost:41012"),
        "{err}"
    );
}
