//! Properties of the echo modes over real TCP and Unix sockets: any bytes,
//! split into any chunks, come back as each mode promises.
//!
//! One in-process server per mode and transport, started on first use and
//! shared by every case; every network wait is bounded by `common::WAIT`.

#[path = "../common/mod.rs"]
mod common;
mod line_model;

use std::cell::RefCell;
use std::future::Future;
use std::sync::OnceLock;

use proptest::prelude::*;
use ricochet::{LineEcho, Mode, OnceEcho, StreamEcho};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use common::{bounded, must_connect, ThreadServer};

/// Small, so that random input crosses it often.
const MAX_LINE: usize = 64;
/// The once-mode server's single read.
const MAX_READ: usize = 4096;
const MAX_INPUT: usize = 64 * 1024;

/// A server of one mode on TCP and on a Unix socket.
struct Servers {
    tcp: ThreadServer,
    unix: ThreadServer,
}

impl Servers {
    fn start(mode: Mode) -> Servers {
        Servers {
            tcp: ThreadServer::ricochet(mode.clone(), false),
            unix: ThreadServer::ricochet(mode, true),
        }
    }

    fn endpoints(&self) -> [String; 2] {
        [
            self.tcp.endpoint.to_string(),
            self.unix.endpoint.to_string(),
        ]
    }
}

fn stream_servers() -> &'static Servers {
    static SERVERS: OnceLock<Servers> = OnceLock::new();
    SERVERS.get_or_init(|| Servers::start(Mode::Stream(StreamEcho)))
}

fn line_servers() -> &'static Servers {
    static SERVERS: OnceLock<Servers> = OnceLock::new();
    SERVERS.get_or_init(|| Servers::start(Mode::Line(LineEcho { max_line: MAX_LINE })))
}

fn once_servers() -> &'static Servers {
    static SERVERS: OnceLock<Servers> = OnceLock::new();
    SERVERS.get_or_init(|| {
        Servers::start(Mode::Once(OnceEcho {
            max_read: MAX_READ,
            delay: None,
        }))
    })
}

/// Runs the client side on this test thread's runtime.
fn block_on<F: Future>(fut: F) -> F::Output {
    thread_local! {
        static RUNTIME: RefCell<Option<tokio::runtime::Runtime>> = const { RefCell::new(None) };
    }
    RUNTIME.with(|rt| {
        let mut rt = rt.borrow_mut();
        let rt = rt.get_or_insert_with(|| {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
        });
        rt.block_on(fut)
    })
}

/// What one connection sent back, and whether sending or receiving failed.
#[derive(Debug)]
struct Exchange {
    echo: Vec<u8>,
    write_error: Option<std::io::Error>,
    read_error: Option<std::io::Error>,
}

/// Writes `data` in chunks of `sizes` (used in turn) while reading,
/// half-closes, reads to EOF.
async fn exchange(endpoint: &str, data: &[u8], sizes: &[usize]) -> Exchange {
    let (mut rd, mut wr) = tokio::io::split(must_connect(endpoint).await);
    let send = async {
        let mut rest = data;
        for &size in sizes.iter().cycle() {
            if rest.is_empty() {
                break;
            }
            let (chunk, tail) = rest.split_at(size.min(rest.len()));
            wr.write_all(chunk).await?;
            rest = tail;
        }
        wr.shutdown().await
    };
    let recv = async {
        let mut echo = Vec::with_capacity(data.len());
        let result = rd.read_to_end(&mut echo).await;
        (echo, result.err())
    };
    let what = format!("exchange of {} bytes with {endpoint}", data.len());
    let (sent, (echo, read_error)) = bounded(&what, async { tokio::join!(send, recv) }).await;
    Exchange {
        echo,
        write_error: sent.err(),
        read_error,
    }
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..=256),
        prop::collection::vec(any::<u8>(), 0..=max),
    ]
}

/// Lines of 0..=80 content bytes (some over `MAX_LINE`), with or without a
/// final unterminated tail.
fn lines() -> impl Strategy<Value = Vec<u8>> {
    let content = || prop::collection::vec(prop_oneof![0u8..=9, 11u8..=255], 0..=80);
    (prop::collection::vec(content(), 0..=64), content()).prop_map(|(lines, tail)| {
        let mut out = Vec::new();
        for line in lines {
            out.extend_from_slice(&line);
            out.push(b'\n');
        }
        out.extend_from_slice(&tail);
        out
    })
}

fn chunk_sizes() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(1usize..=4096, 1..=16)
}

/// Abbreviates a byte string for failure messages.
fn show(bytes: &[u8]) -> String {
    let text = String::from_utf8_lossy(&bytes[..bytes.len().min(200)]);
    format!(
        "{} bytes {text:?}{}",
        bytes.len(),
        if bytes.len() > 200 { "…" } else { "" }
    )
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Stream mode (RFC 862): every byte comes back, in order, then EOF.
    #[test]
    fn stream_mode_echoes_every_byte(data in bytes(MAX_INPUT), sizes in chunk_sizes()) {
        for endpoint in stream_servers().endpoints() {
            let got = block_on(exchange(&endpoint, &data, &sizes));
            prop_assert!(got.write_error.is_none() && got.read_error.is_none(), "{endpoint}: {got:?}");
            prop_assert!(got.echo == data, "{endpoint}: sent {}, got {}", show(&data), show(&got.echo));
        }
    }

    /// Line mode: exactly what the reference model says, for lines around
    /// the limit and for arbitrary bytes.
    #[test]
    fn line_mode_matches_the_model(
        data in prop_oneof![lines(), bytes(MAX_INPUT)],
        sizes in chunk_sizes(),
    ) {
        let expected = line_model::expected_echo(&data, MAX_LINE);
        for endpoint in line_servers().endpoints() {
            let got = block_on(exchange(&endpoint, &data, &sizes));
            prop_assert!(got.read_error.is_none(), "{endpoint}: {got:?}");
            prop_assert!(
                got.echo == expected,
                "{endpoint}: sent {}\n got {}\nwant {}",
                show(&data), show(&got.echo), show(&expected)
            );
        }
    }

    /// Once mode: one read's worth comes back, which is a non-empty prefix
    /// of what was sent (how much one read returns is up to the kernel),
    /// at most `max_read` bytes, then EOF.
    #[test]
    fn once_mode_echoes_a_prefix_of_one_read(data in bytes(2 * MAX_READ), sizes in chunk_sizes()) {
        for endpoint in once_servers().endpoints() {
            let got = block_on(exchange(&endpoint, &data, &sizes));
            prop_assert!(got.read_error.is_none(), "{endpoint}: {got:?}");
            prop_assert!(got.echo.len() <= MAX_READ, "{endpoint}: {}", show(&got.echo));
            prop_assert!(data.starts_with(&got.echo), "{endpoint}: sent {}, got {}", show(&data), show(&got.echo));
            prop_assert_eq!(got.echo.is_empty(), data.is_empty(), "{}: got {}", endpoint, show(&got.echo));
        }
    }
}
