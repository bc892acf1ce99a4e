//! Endpoints: where ricochet listens or connects, written as URLs.
//!
//! An [`Endpoint`] is parsed from and displayed as `tcp://HOST:PORT` or
//! `unix:/PATH`. A bare `HOST:PORT` means TCP and a bare absolute path means a
//! Unix socket, so the forms people type for ncat or socat mostly just work.
//! This module owns the grammar and name resolution; binding lives in
//! [`super::listen`] and connecting in [`super::connect`], so there is
//! exactly one place that knows what an address looks like. Future transports
//! (`udp://`, `tls://`) are new variants here, not new parsers elsewhere.

use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use super::connect::ConnectError;

/// The port the tutorial uses, and the default for `ricochet serve`.
pub const DEFAULT_PORT: u16 = 1234;

/// Where to listen or connect.
///
/// ```
/// use ricochet::Endpoint;
///
/// let tcp: Endpoint = "localhost:1234".parse().unwrap();
/// assert_eq!(tcp.to_string(), "tcp://localhost:1234");
///
/// let v6: Endpoint = "tcp://[::1]:7".parse().unwrap();
/// assert_eq!(v6.to_string(), "tcp://[::1]:7");
///
/// let unix: Endpoint = "unix:/tmp/echo.sock".parse().unwrap();
/// assert_eq!(unix.to_string(), "unix:/tmp/echo.sock");
///
/// assert!("tcp://localhost".parse::<Endpoint>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Endpoint {
    /// A TCP host (name or IP literal) and port; a name stands for every
    /// address it resolves to.
    Tcp {
        /// Host name or IP literal, without IPv6 brackets.
        host: String,
        /// Port number; 0 asks the system for a free one when binding.
        port: u16,
    },
    /// A Unix stream socket at a filesystem path.
    Unix(PathBuf),
}

/// Why a string is not an endpoint. Each message names the input and the
/// forms that would have worked.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ParseError {
    /// Nothing to parse.
    #[error("empty endpoint: expected tcp://HOST:PORT, HOST:PORT or unix:/PATH")]
    Empty,
    /// A scheme ricochet does not speak (yet).
    #[error("unsupported scheme '{scheme}' in '{input}': expected tcp://HOST:PORT or unix:/PATH")]
    UnknownScheme {
        /// The scheme as written.
        scheme: String,
        /// The whole input.
        input: String,
    },
    /// `host` without `:port`.
    #[error("missing port in '{input}': expected HOST:PORT, e.g. tcp://localhost:1234")]
    MissingPort {
        /// The whole input.
        input: String,
    },
    /// A bare number: a port without its host.
    #[error("'{input}' is a port without a host: write HOST:PORT, e.g. localhost:{input} (this machine only) or 0.0.0.0:{input} (every interface)")]
    PortWithoutHost {
        /// The whole input.
        input: String,
    },
    /// The port is not a number in 0..=65535.
    #[error("invalid port '{port}' in '{input}': expected a number from 0 to 65535")]
    BadPort {
        /// The port as written.
        port: String,
        /// The whole input.
        input: String,
    },
    /// An empty host, or a malformed bracketed IPv6 literal.
    #[error("invalid host in '{input}': {why}")]
    BadHost {
        /// What is wrong with it.
        why: &'static str,
        /// The whole input.
        input: String,
    },
    /// `unix:` with no path.
    #[error("missing path in '{input}': expected unix:/PATH, e.g. unix:/tmp/ricochet.sock")]
    EmptyPath {
        /// The whole input.
        input: String,
    },
}

impl Endpoint {
    /// A TCP endpoint.
    pub fn tcp(host: impl Into<String>, port: u16) -> Self {
        Endpoint::Tcp {
            host: host.into(),
            port,
        }
    }

    /// A Unix socket endpoint.
    pub fn unix(path: impl Into<PathBuf>) -> Self {
        Endpoint::Unix(path.into())
    }

    /// `tcp://localhost:1234`, the tutorial's address.
    pub fn default_serve() -> Self {
        Endpoint::tcp("localhost", DEFAULT_PORT)
    }

    /// The Unix socket path, if this is a Unix endpoint.
    pub fn unix_path(&self) -> Option<&Path> {
        match self {
            Endpoint::Unix(p) => Some(p),
            Endpoint::Tcp { .. } => None,
        }
    }

    /// Resolves a TCP endpoint to its socket addresses (all of them, in the
    /// resolver's order). Returns an empty list for Unix endpoints.
    pub async fn resolve(&self) -> Result<Vec<SocketAddr>, ConnectError> {
        let Endpoint::Tcp { host, port } = self else {
            return Ok(Vec::new());
        };
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![SocketAddr::new(ip, *port)]);
        }
        let resolved = tokio::net::lookup_host((host.as_str(), *port))
            .await
            .map_err(|error| ConnectError::Resolve {
                host: host.clone(),
                error,
            })?;
        let mut addrs: Vec<SocketAddr> = Vec::new();
        for addr in resolved {
            if !addrs.contains(&addr) {
                addrs.push(addr);
            }
        }
        if addrs.is_empty() {
            return Err(ConnectError::Resolve {
                host: host.clone(),
                error: io::Error::new(io::ErrorKind::NotFound, "no addresses"),
            });
        }
        Ok(addrs)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Endpoint::Tcp { host, port } if host.contains(':') => {
                write!(f, "tcp://[{host}]:{port}")
            }
            Endpoint::Tcp { host, port } => write!(f, "tcp://{host}:{port}"),
            // `unix://x` parses as `x` (the URL form `unix:///p` names
            // `/p`), so a path that itself starts with `//` keeps its
            // slashes behind an explicit `//`.
            Endpoint::Unix(path) if path.as_os_str().as_encoded_bytes().starts_with(b"//") => {
                write!(f, "unix://{}", path.display())
            }
            Endpoint::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// Written as its URL (`"tcp://localhost:1234"`) in config files.
impl serde::Serialize for Endpoint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Endpoint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

impl From<SocketAddr> for Endpoint {
    fn from(addr: SocketAddr) -> Self {
        Endpoint::tcp(addr.ip().to_string(), addr.port())
    }
}

impl FromStr for Endpoint {
    type Err = ParseError;

    fn from_str(input: &str) -> Result<Self, ParseError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(ParseError::Empty);
        }
        if let Some(rest) = input.strip_prefix("unix:") {
            // Accept unix:/p, unix:///p and unix:relative.
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(ParseError::EmptyPath {
                    input: input.to_owned(),
                });
            }
            return Ok(Endpoint::Unix(PathBuf::from(path)));
        }
        if input.starts_with('/') || input.starts_with("./") {
            return Ok(Endpoint::Unix(PathBuf::from(input)));
        }
        let hostport = match input.split_once("://") {
            Some(("tcp", rest)) => rest,
            Some((scheme, _)) => {
                return Err(ParseError::UnknownScheme {
                    scheme: scheme.to_owned(),
                    input: input.to_owned(),
                })
            }
            None => input,
        };
        parse_host_port(hostport, input)
    }
}

fn parse_host_port(hostport: &str, input: &str) -> Result<Endpoint, ParseError> {
    let hostport = hostport.strip_suffix('/').unwrap_or(hostport);
    let (host, port) = if let Some(rest) = hostport.strip_prefix('[') {
        let (host, after) = rest.split_once(']').ok_or(ParseError::BadHost {
            why: "unclosed '[' in IPv6 literal, expected [ADDR]:PORT",
            input: input.to_owned(),
        })?;
        if host.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(ParseError::BadHost {
                why: "not an IPv6 address inside [...]",
                input: input.to_owned(),
            });
        }
        let port = after.strip_prefix(':').ok_or(ParseError::MissingPort {
            input: input.to_owned(),
        })?;
        (host, port)
    } else {
        let Some((host, port)) = hostport.rsplit_once(':') else {
            if !hostport.is_empty() && hostport.bytes().all(|b| b.is_ascii_digit()) {
                return Err(ParseError::PortWithoutHost {
                    input: input.to_owned(),
                });
            }
            return Err(ParseError::MissingPort {
                input: input.to_owned(),
            });
        };
        if host.contains(':') {
            return Err(ParseError::BadHost {
                why: "IPv6 addresses need brackets, e.g. tcp://[::1]:1234",
                input: input.to_owned(),
            });
        }
        (host, port)
    };
    if host.is_empty() {
        return Err(ParseError::BadHost {
            why: "empty host, e.g. use 0.0.0.0:PORT for all interfaces or localhost:PORT",
            input: input.to_owned(),
        });
    }
    if port.is_empty() {
        return Err(ParseError::MissingPort {
            input: input.to_owned(),
        });
    }
    let port = port.parse::<u16>().map_err(|_| ParseError::BadPort {
        port: port.to_owned(),
        input: input.to_owned(),
    })?;
    Ok(Endpoint::tcp(host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> Endpoint {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn parses_and_round_trips() {
        for s in [
            "tcp://127.0.0.1:1234",
            "tcp://[::1]:1234",
            "tcp://localhost:0",
            "unix:/tmp/x.sock",
            "unix:relative.sock",
        ] {
            assert_eq!(ok(s).to_string(), s);
        }
        assert_eq!(ok("localhost:9"), Endpoint::tcp("localhost", 9));
        assert_eq!(ok("[::1]:9"), Endpoint::tcp("::1", 9));
        assert_eq!(ok("unix:///run/e.sock"), Endpoint::unix("/run/e.sock"));
        assert_eq!(ok("/run/e.sock"), Endpoint::unix("/run/e.sock"));
        assert_eq!(ok("tcp://h:1/"), Endpoint::tcp("h", 1));
        // Found by fuzzing: a path starting with `//` survives a round trip.
        for path in ["//a", "//", "////x"] {
            let e = Endpoint::unix(path);
            assert_eq!(ok(&e.to_string()), e, "{path}");
        }
    }

    #[test]
    fn rejects_with_specific_errors() {
        let err = |s: &str| s.parse::<Endpoint>().unwrap_err();
        assert_eq!(err(""), ParseError::Empty);
        assert!(matches!(err("localhost"), ParseError::MissingPort { .. }));
        assert!(matches!(err("localhost:"), ParseError::MissingPort { .. }));
        assert!(matches!(err("41012"), ParseError::PortWithoutHost { .. }));
        assert!(err("41012").to_string().contains("localhost:41012"));
        assert!(matches!(err("localhost:99999"), ParseError::BadPort { .. }));
        assert!(matches!(err("localhost:http"), ParseError::BadPort { .. }));
        assert!(matches!(
            err("http://x:1"),
            ParseError::UnknownScheme { .. }
        ));
        assert!(matches!(err("::1:80"), ParseError::BadHost { .. }));
        assert!(matches!(err("[::1:80"), ParseError::BadHost { .. }));
        assert!(matches!(err("[nope]:80"), ParseError::BadHost { .. }));
        assert!(matches!(err(":80"), ParseError::BadHost { .. }));
        assert!(matches!(err("unix:"), ParseError::EmptyPath { .. }));
        let msg = err("udp://x:1").to_string();
        assert!(
            msg.contains("udp") && msg.contains("tcp://HOST:PORT"),
            "{msg}"
        );
    }
}
