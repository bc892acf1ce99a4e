//! Unix socket files: stale, live, foreign and replaced files, readiness right
//! after start, busy TCP ports, `--unix-mode`.

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::time::Duration;

use crate::common::*;

#[test]
fn unix_refuses_a_regular_file_and_leaves_it_alone() {
    let (_dir, path, unix) = unix_endpoint("precious.txt");
    std::fs::write(&path, "precious").expect("write file");
    let out = ricochet().args(["serve", &unix]).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_one_error_line(
        &out.stderr,
        &["not a socket", path.to_str().expect("utf-8")],
    );
    assert_eq!(
        std::fs::read_to_string(&path).expect("file still there"),
        "precious"
    );
}

#[tokio::test]
async fn unix_replaces_a_stale_socket_file() {
    let (_dir, path, unix) = unix_endpoint("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&path).expect("bind"));
    assert!(path.exists(), "std leaves the socket file behind");
    let mut server = ServerProc::ricochet(&[&unix], &[]);
    assert_eq!(exchange(&unix, b"fresh").await, b"fresh");
    assert!(server.stop("TERM").success());
    assert!(!path.exists());
}

#[tokio::test]
async fn unix_refuses_a_path_where_another_ricochet_is_live() {
    let (_dir, path, unix) = unix_endpoint("live.sock");
    let first = ServerProc::ricochet(&[&unix], &[]);
    let out = ricochet().args(["serve", &unix]).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_one_error_line(&out.stderr, &["another server is live"]);
    assert!(
        path.exists(),
        "the refused server removed the live server's socket"
    );
    assert_eq!(
        exchange(first.endpoint(), b"still mine").await,
        b"still mine"
    );
}

#[test]
fn unix_refuses_a_foreign_live_socket_and_leaves_it_working() {
    let (_dir, path, unix) = unix_endpoint("foreign.sock");
    let foreign = std::os::unix::net::UnixListener::bind(&path).expect("bind");
    let out = ricochet().args(["serve", &unix]).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_one_error_line(&out.stderr, &["another server is live"]);
    assert!(path.exists());
    std::os::unix::net::UnixStream::connect(&path).expect("foreign socket still reachable");
    drop(foreign);
}

#[tokio::test]
async fn unix_shutdown_does_not_remove_a_file_that_replaced_its_socket() {
    let (_dir, path, unix) = unix_endpoint("replaced.sock");
    let mut server = ServerProc::ricochet(&[&unix], &[]);
    std::fs::remove_file(&path).expect("remove ricochet's socket file");
    let foreign = std::os::unix::net::UnixListener::bind(&path).expect("bind foreign");
    assert!(server.stop("TERM").success());
    assert!(
        path.exists(),
        "ricochet removed a socket file it did not create"
    );
    std::os::unix::net::UnixStream::connect(&path).expect("foreign socket still reachable");
    drop(foreign);
}

/// Many Unix listeners bound at once, then a client on every one at the
/// same time: each must be served, and the idle server must not burn CPU.
async fn check_unix_listeners_accept_right_after_start(runtime_flags: &[&str]) {
    const LISTENERS: usize = 400;
    let dir = tempfile::tempdir().expect("temp dir");
    let endpoints: Vec<String> = (0..LISTENERS)
        .map(|i| format!("unix:{}", dir.path().join(format!("{i}.sock")).display()))
        .collect();
    let refs: Vec<&str> = endpoints.iter().map(String::as_str).collect();
    let server = ServerProc::ricochet(&refs, runtime_flags);

    let cpu_before = server.proc.cpu_ticks();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let busy = server.proc.cpu_ticks() - cpu_before;

    let mut clients = tokio::task::JoinSet::new();
    for ep in endpoints {
        clients.spawn(async move {
            let echo = tokio::time::timeout(Duration::from_secs(3), exchange(&ep, b"hi")).await;
            (echo.as_deref() != Ok(&b"hi"[..])).then_some(ep)
        });
    }
    let mut unserved = Vec::new();
    while let Some(r) = clients.join_next().await {
        unserved.extend(r.expect("client task"));
    }
    assert!(
        unserved.is_empty(),
        "{} of {LISTENERS} Unix listeners did not serve their first client, e.g. {:?}",
        unserved.len(),
        &unserved[..unserved.len().min(3)]
    );
    assert!(
        busy <= 10,
        "an idle server used {busy} ticks of CPU in 300 ms: an accept loop is spinning"
    );
}

#[tokio::test]
async fn unix_listeners_accept_right_after_start() {
    check_unix_listeners_accept_right_after_start(&[]).await;
}

#[tokio::test]
async fn unix_listeners_accept_right_after_start_work_stealing() {
    check_unix_listeners_accept_right_after_start(&["--runtime", "work-stealing"]).await;
}

#[test]
fn a_second_server_on_a_busy_tcp_port_is_refused() {
    let first = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &[]);
    let mut second = ricochet();
    second.args(["serve", first.endpoint()]);
    // Bounded so that the bug shows as a failure, not as a 15 s hang.
    let out = second
        .timeout(Duration::from_secs(3))
        .output()
        .expect("run");
    assert_eq!(
        out.status.code(),
        Some(1),
        "second server on {} was not refused; stdout: {}",
        first.endpoint(),
        String::from_utf8_lossy(&out.stdout)
    );
    assert_one_error_line(&out.stderr, &["address already in use"]);
}

#[test]
fn a_second_server_on_a_busy_tcp_port_is_refused_work_stealing() {
    let first = ServerProc::ricochet(&["tcp://127.0.0.1:0"], &["--runtime", "work-stealing"]);
    let out = ricochet()
        .args(["serve", "--runtime", "work-stealing", first.endpoint()])
        .timeout(Duration::from_secs(3))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_one_error_line(&out.stderr, &["address already in use"]);
}

#[test]
fn unix_mode_sets_socket_file_permissions() {
    for (flag, want) in [("600", 0o600), ("0640", 0o640)] {
        let (_dir, path, unix) = unix_endpoint("mode.sock");
        let _server = ServerProc::ricochet(&[&unix], &["--unix-mode", flag]);
        let meta = std::fs::metadata(&path).expect("socket file");
        assert!(meta.file_type().is_socket());
        assert_eq!(
            meta.permissions().mode() & 0o7777,
            want,
            "--unix-mode {flag}"
        );
    }
}

/// `--unix-mode` never changes another file's permissions, however the
/// socket path is swapped for a symlink while the server starts (it used to
/// chmod by path after bind: a symlink renamed over the socket in between
/// made it chmod the link's target, 4 times in 4 trials).
#[test]
fn unix_mode_never_follows_a_symlink_swapped_in_during_startup() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    let (dir, path, unix) = unix_endpoint("race.sock");
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "secret").expect("victim");
    std::fs::set_permissions(&victim, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    let stop = Arc::new(AtomicBool::new(false));
    // As fast as it can: the moment a socket appears at the path, rename a
    // ready-made symlink to the victim over it.
    let racer = {
        let (stop, path, link) = (stop.clone(), path.clone(), dir.path().join("link"));
        let victim = victim.clone();
        std::thread::spawn(move || {
            let mut swaps = 0u64;
            while !stop.load(Ordering::Relaxed) {
                if std::fs::symlink_metadata(&link).is_err() {
                    std::os::unix::fs::symlink(&victim, &link).expect("symlink");
                }
                let is_socket =
                    std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_socket());
                if is_socket && std::fs::rename(&link, &path).is_ok() {
                    swaps += 1;
                }
            }
            swaps
        })
    };
    let started = std::time::Instant::now();
    let mut starts = 0;
    while starts < 600 && started.elapsed() < Duration::from_secs(20) {
        let _ = std::fs::remove_file(&path);
        let mut child = std::process::Command::new(bin())
            .args(["serve", &unix, "--unix-mode", "666", "-q", "--grace", "0"])
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        // Started ("listening on") or failed (stdout closes): either way
        // the chmod, if any, has happened.
        let mut line = String::new();
        let _ = std::io::BufRead::read_line(
            &mut std::io::BufReader::new(child.stdout.take().expect("stdout")),
            &mut line,
        );
        let _ = child.kill();
        let _ = child.wait();
        starts += 1;
        let mode = std::fs::metadata(&victim)
            .expect("victim")
            .permissions()
            .mode()
            & 0o777;
        assert_eq!(mode, 0o600, "victim chmodded after {starts} starts");
    }
    stop.store(true, Ordering::Relaxed);
    let swaps = racer.join().expect("racer");
    assert!(
        swaps > 0,
        "the racer never swapped a symlink in ({starts} starts)"
    );
    assert_eq!(
        std::fs::read_to_string(&victim).expect("victim kept"),
        "secret"
    );
}

/// A live server whose backlog is full still counts as live: the probe
/// must not block (it used to hang forever, deaf to SIGTERM).
#[test]
fn unix_probe_of_a_live_socket_with_a_full_backlog_does_not_hang() {
    use socket2::{Domain, SockAddr, Socket, Type};
    let (_dir, path, unix) = unix_endpoint("full.sock");
    let listener = Socket::new(Domain::UNIX, Type::STREAM, None).expect("socket");
    listener
        .bind(&SockAddr::unix(&path).expect("addr"))
        .expect("bind");
    listener.listen(0).expect("listen");
    // Fill the backlog: connect without accepting until the kernel says
    // "try again".
    let mut waiting = Vec::new();
    for _ in 0..64 {
        let c = Socket::new(Domain::UNIX, Type::STREAM, None).expect("socket");
        c.set_nonblocking(true).expect("nonblocking");
        match c.connect(&SockAddr::unix(&path).expect("addr")) {
            Ok(()) => waiting.push(c),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
            Err(e) => panic!("filling the backlog: {e}"),
        }
    }
    let out = ricochet()
        .args(["serve", &unix])
        .timeout(Duration::from_secs(10))
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_one_error_line(&out.stderr, &["another server is live"]);
    assert!(path.exists());
}

#[test]
fn unix_errors_name_a_missing_directory_and_an_over_long_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let missing = dir.path().join("no-such-dir");
    let ep = format!("unix:{}/e.sock", missing.display());
    let out = ricochet().args(["serve", &ep]).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_one_error_line(
        &out.stderr,
        &[
            "does not exist",
            missing.to_str().expect("utf-8"),
            "create it",
        ],
    );
    let long = format!("unix:{}/{}.sock", dir.path().display(), "x".repeat(120));
    let out = ricochet().args(["serve", &long]).output().expect("run");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    assert_one_error_line(&out.stderr, &["too long", "107"]);
}
