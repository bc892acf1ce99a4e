//! A target made ready for load: its address resolved once, and the source
//! addresses its TCP connections are spread over.
//!
//! Resolving per connection would measure the resolver, so the load threads
//! connect to the one address the probe reached. Source addresses matter for
//! connection-rate runs on loopback: each TCP connection the client closes
//! leaves a TIME_WAIT entry on its source port, and the kernel's search for
//! a free ephemeral port past those entries caps a single source address
//! near 14k connections per second. Binding each socket to a different
//! `127.0.0.x` gives every address its own port range, so the server, not
//! the client's port search, is what gets measured.

use std::fmt;
use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use crate::transport::Socket;
use crate::transport::{connect, Endpoint};

/// The source range `auto` uses for loopback targets: 64 addresses.
pub(crate) const DEFAULT_SOURCE_RANGE: (Ipv4Addr, Ipv4Addr) =
    (Ipv4Addr::new(127, 0, 0, 2), Ipv4Addr::new(127, 0, 0, 65));

/// Most source addresses a list or range may name.
pub(crate) const MAX_SOURCE_IPS: usize = 4096;

/// Which local addresses TCP connections come from (`--source-ips`).
///
/// ```
/// use ricochet::bench::SourceIps;
///
/// let r: SourceIps = "127.0.0.2-127.0.0.5".parse().unwrap();
/// assert_eq!(r, SourceIps::List(vec![
///     "127.0.0.2".parse().unwrap(), "127.0.0.3".parse().unwrap(),
///     "127.0.0.4".parse().unwrap(), "127.0.0.5".parse().unwrap(),
/// ]));
/// assert_eq!("none".parse::<SourceIps>().unwrap(), SourceIps::None);
/// assert!("127.0.0.9-127.0.0.1".parse::<SourceIps>().is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum SourceIps {
    /// 127.0.0.2-127.0.0.65 for one-shot and connect-only runs (and
    /// for more than 10,000 persistent ones)
    /// against an IPv4 loopback target; the system's choice otherwise.
    #[default]
    Auto,
    /// Always the system's choice.
    None,
    /// These addresses, in rotation.
    List(Vec<IpAddr>),
}

/// Why a `--source-ips` value is not valid.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SourceIpsError {
    /// Not an IP address.
    #[error("'{0}' is not an IP address (expected e.g. 127.0.0.2-127.0.0.65, a comma list, auto or none)")]
    BadAddress(String),
    /// A range whose ends are of different families, or reversed.
    #[error("'{0}' is not a range: both ends must be of one family, low to high")]
    BadRange(String),
    /// More than 4,096 addresses.
    #[error("'{0}' names more than {MAX_SOURCE_IPS} addresses")]
    TooMany(String),
}

impl FromStr for SourceIps {
    type Err = SourceIpsError;

    fn from_str(s: &str) -> Result<Self, SourceIpsError> {
        match s.trim() {
            "auto" => return Ok(SourceIps::Auto),
            "none" => return Ok(SourceIps::None),
            _ => {}
        }
        let mut ips = Vec::new();
        for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let ip = |t: &str| {
                t.trim()
                    .parse::<IpAddr>()
                    .map_err(|_| SourceIpsError::BadAddress(t.trim().to_owned()))
            };
            match part.split_once('-') {
                None => ips.push(ip(part)?),
                Some((lo, hi)) => {
                    let (lo, hi) = (ip(lo)?, ip(hi)?);
                    let (lo_n, hi_n) = match (lo, hi) {
                        (IpAddr::V4(a), IpAddr::V4(b)) => {
                            (u32::from(a) as u128, u32::from(b) as u128)
                        }
                        (IpAddr::V6(a), IpAddr::V6(b)) => (u128::from(a), u128::from(b)),
                        _ => return Err(SourceIpsError::BadRange(part.to_owned())),
                    };
                    if hi_n < lo_n {
                        return Err(SourceIpsError::BadRange(part.to_owned()));
                    }
                    if hi_n - lo_n >= MAX_SOURCE_IPS as u128 {
                        return Err(SourceIpsError::TooMany(s.to_owned()));
                    }
                    for n in lo_n..=hi_n {
                        ips.push(match lo {
                            IpAddr::V4(_) => IpAddr::V4((n as u32).into()),
                            IpAddr::V6(_) => IpAddr::V6(n.into()),
                        });
                    }
                }
            }
            if ips.len() > MAX_SOURCE_IPS {
                return Err(SourceIpsError::TooMany(s.to_owned()));
            }
        }
        if ips.is_empty() {
            return Err(SourceIpsError::BadAddress(s.to_owned()));
        }
        Ok(SourceIps::List(ips))
    }
}

impl fmt::Display for SourceIps {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SourceIps::Auto => f.write_str("auto"),
            SourceIps::None => f.write_str("none"),
            SourceIps::List(ips) => describe_ips(ips, f),
        }
    }
}

fn describe_ips(ips: &[IpAddr], f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match ips {
        [] => f.write_str("system's choice"),
        [one] => write!(f, "{one}"),
        [first, .., last] => write!(f, "{first}-{last} ({} addresses)", ips.len()),
    }
}

/// Where the load threads connect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Address {
    /// One resolved TCP address.
    Tcp(SocketAddr),
    /// A Unix socket path.
    Unix(PathBuf),
}

/// A probed target, ready for many fast connections.
#[derive(Debug)]
pub(crate) struct Target {
    /// The endpoint as the user gave it (for reports).
    pub endpoint: Endpoint,
    /// The address the probe reached.
    pub address: Address,
    sources: Vec<IpAddr>,
    next_source: AtomicUsize,
}

/// `--source-ips` names addresses that cannot reach the target.
#[derive(Debug, thiserror::Error)]
#[error("--source-ips {sources} cannot reach {endpoint}: the addresses are of another IP family")]
pub struct SourceFamilyError {
    /// The target.
    pub endpoint: Endpoint,
    /// The configured sources.
    pub sources: SourceIps,
}

impl Target {
    /// A target at `address`, with sources chosen by `sources` (`auto`
    /// means a spread only when `many_connections` and the target is IPv4
    /// loopback).
    pub fn new(
        endpoint: Endpoint,
        address: Address,
        sources: &SourceIps,
        many_connections: bool,
    ) -> Result<Self, SourceFamilyError> {
        let chosen = match (&address, sources) {
            (Address::Unix(_), _) | (_, SourceIps::None) => Vec::new(),
            (Address::Tcp(addr), SourceIps::Auto) => match addr.ip() {
                IpAddr::V4(ip) if ip.is_loopback() && many_connections => {
                    let (lo, hi) = DEFAULT_SOURCE_RANGE;
                    (u32::from(lo)..=u32::from(hi))
                        .map(|n| IpAddr::V4(n.into()))
                        .collect()
                }
                _ => Vec::new(),
            },
            (Address::Tcp(addr), SourceIps::List(ips)) => {
                if ips.iter().any(|ip| ip.is_ipv4() != addr.is_ipv4()) {
                    return Err(SourceFamilyError {
                        endpoint,
                        sources: sources.clone(),
                    });
                }
                ips.clone()
            }
        };
        Ok(Target {
            endpoint,
            address,
            sources: chosen,
            next_source: AtomicUsize::new(0),
        })
    }

    /// The source addresses in use (empty: the system's choice).
    pub fn sources(&self) -> &[IpAddr] {
        &self.sources
    }

    /// Opens one connection within `timeout`: `TCP_NODELAY` on, bound to the
    /// next source address in rotation if there are any.
    pub async fn connect(&self, timeout: Duration) -> io::Result<Socket> {
        let attempt = async {
            match &self.address {
                Address::Unix(path) => connect::connect_unix(path).await,
                Address::Tcp(addr) => connect::connect_tcp(*addr, self.next_source()).await,
            }
        };
        tokio::time::timeout(timeout, attempt)
            .await
            .unwrap_or_else(|_| Err(io::ErrorKind::TimedOut.into()))
    }

    fn next_source(&self) -> Option<IpAddr> {
        if self.sources.is_empty() {
            return None;
        }
        let i = self.next_source.fetch_add(1, Ordering::Relaxed);
        Some(self.sources[i % self.sources.len()])
    }
}

/// Shows the sources a target uses, e.g. `127.0.0.2-127.0.0.65 (64 addresses)`.
pub(crate) struct SourcesDisplay<'a>(pub &'a [IpAddr]);

impl fmt::Display for SourcesDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        describe_ips(self.0, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(s: &str) -> Address {
        Address::Tcp(s.parse().unwrap())
    }

    #[test]
    fn auto_spreads_only_loopback_v4_connection_runs() {
        let ep = Endpoint::tcp("127.0.0.1", 9);
        let t = Target::new(ep.clone(), tcp("127.0.0.1:9"), &SourceIps::Auto, true).unwrap();
        assert_eq!(t.sources().len(), 64);
        let t = Target::new(ep.clone(), tcp("127.0.0.1:9"), &SourceIps::Auto, false).unwrap();
        assert!(t.sources().is_empty());
        let t = Target::new(ep.clone(), tcp("[::1]:9"), &SourceIps::Auto, true).unwrap();
        assert!(t.sources().is_empty());
        let t = Target::new(ep.clone(), tcp("127.0.0.1:9"), &SourceIps::None, true).unwrap();
        assert!(t.sources().is_empty());
        let v4: SourceIps = "127.0.0.2".parse().unwrap();
        assert!(Target::new(ep, tcp("[::1]:9"), &v4, true).is_err());
    }

    #[test]
    fn parses_lists_and_ranges() {
        let s: SourceIps = "127.0.0.2, 127.0.0.4-127.0.0.5".parse().unwrap();
        assert_eq!(s.to_string(), "127.0.0.2-127.0.0.5 (3 addresses)");
        assert!(matches!(
            "127.0.0.1-::1".parse::<SourceIps>(),
            Err(SourceIpsError::BadRange(_))
        ));
        assert!(matches!(
            "127.0.0.0-127.1.0.0".parse::<SourceIps>(),
            Err(SourceIpsError::TooMany(_))
        ));
        assert!(matches!(
            "localhost".parse::<SourceIps>(),
            Err(SourceIpsError::BadAddress(_))
        ));
    }
}
