//! What a server runs with: one [`ServeConfig`], whoever fills it.
//!
//! The command line, the environment (through clap's `env`) and, later, a
//! TOML file and a SIGHUP reload all produce this one serde type, and
//! [`crate::server::run`] takes nothing else. Settings that belong to one
//! listening socket (its mode, limits, Unix file permissions — and later
//! TLS, PROXY protocol, access rules, faults) live in a [`ListenerConfig`]
//! table of their own, so two listeners of one server can differ.
//!
//! As a file it reads (keys in kebab-case, durations in humantime form):
//!
//! ```toml
//! max-conns = 5000
//! grace = "10s"
//!
//! [[listener]]
//! endpoint = "tcp://0.0.0.0:7"
//! idle-timeout = "5m"
//!
//! [[listener]]
//! endpoint = "unix:/run/echo.sock"
//! unix-mode = "660"
//! mode = { kind = "once", max-read = 1024, delay = "1s" }
//! ```

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::handler::Mode;
use crate::transport::{BindOptions, Endpoint};

/// Default connection limit.
pub const DEFAULT_MAX_CONNS: usize = 10_000;
/// Default idle timeout of a listener's connections: long enough for an
/// interactive session, short enough that silent clients cannot hold
/// `max_conns` slots for long.
pub const DEFAULT_IDLE_TIMEOUT: Duration = Duration::from_secs(300);
/// Default time in-flight connections get to finish at shutdown.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(10);

/// Everything `ricochet serve` runs with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields, rename_all = "kebab-case")]
pub struct ServeConfig {
    /// The listening sockets, each with its own settings.
    #[serde(rename = "listener")]
    pub listeners: Vec<ListenerConfig>,
    /// Connections served at once, over all listeners; more wait in the
    /// kernel's backlog.
    pub max_conns: usize,
    /// At shutdown, how long open connections may finish before being cut.
    #[serde(with = "humantime_serde")]
    pub grace: Duration,
    /// How connections are spread over threads.
    pub runtime: RuntimeKind,
    /// Threads serving connections; `None` means one per core.
    pub threads: Option<usize>,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            listeners: Vec::new(),
            max_conns: DEFAULT_MAX_CONNS,
            grace: DEFAULT_GRACE,
            runtime: RuntimeKind::PerCore,
            threads: None,
        }
    }
}

impl ServeConfig {
    /// A server on these endpoints, every one with the same listener
    /// settings, everything else default.
    pub fn new(endpoints: impl IntoIterator<Item = Endpoint>, listener: &ListenerConfig) -> Self {
        ServeConfig {
            listeners: endpoints
                .into_iter()
                .map(|endpoint| ListenerConfig {
                    endpoint,
                    ..listener.clone()
                })
                .collect(),
            ..ServeConfig::default()
        }
    }

    /// Threads to serve with: as configured, or one per core.
    pub fn effective_threads(&self) -> usize {
        self.threads
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
            .max(1)
    }
}

/// How connections are spread over threads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuntimeKind {
    /// One single-threaded runtime per thread, each with its own
    /// `SO_REUSEPORT` listener: no cross-thread hops, the kernel balances.
    #[default]
    PerCore,
    /// One multi-threaded, work-stealing runtime: evens out skewed load.
    WorkStealing,
}

/// One listening socket and how its connections are served.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct ListenerConfig {
    /// Where to listen.
    pub endpoint: Endpoint,
    /// How to echo.
    #[serde(default)]
    pub mode: Mode,
    /// Close a connection when nothing moves for this long (default 5
    /// minutes); `None` never does.
    #[serde(default = "default_idle_timeout", with = "humantime_serde")]
    pub idle_timeout: Option<Duration>,
    /// Listen backlog; `None` uses the system's `somaxconn`.
    #[serde(default)]
    pub backlog: Option<u32>,
    /// Permissions of a Unix socket file, e.g. `0o660`.
    #[serde(default, with = "octal")]
    pub unix_mode: Option<u32>,
}

impl Default for ListenerConfig {
    fn default() -> Self {
        ListenerConfig {
            endpoint: Endpoint::default_serve(),
            mode: Mode::default(),
            idle_timeout: Some(DEFAULT_IDLE_TIMEOUT),
            backlog: None,
            unix_mode: None,
        }
    }
}

fn default_idle_timeout() -> Option<Duration> {
    Some(DEFAULT_IDLE_TIMEOUT)
}

impl ListenerConfig {
    /// How to bind this listener's socket for a server of `runtime` kind.
    pub(crate) fn bind_options(&self, runtime: RuntimeKind) -> BindOptions {
        BindOptions {
            backlog: self.backlog,
            unix_mode: self.unix_mode,
            reuse_port: runtime == RuntimeKind::PerCore,
        }
    }
}

/// Parses Unix permissions written in octal: `660`, `0660` or `0o660`.
pub fn parse_unix_mode(s: &str) -> Result<u32, String> {
    let digits = s.trim().trim_start_matches("0o");
    match u32::from_str_radix(digits, 8) {
        Ok(m) if m <= 0o7777 && !digits.is_empty() => Ok(m),
        _ => Err(format!(
            "invalid mode '{s}': expected octal permissions such as 660 or 0600"
        )),
    }
}

/// Unix permissions as an octal string in files (`"660"`), never decimal.
mod octal {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(mode: &Option<u32>, s: S) -> Result<S::Ok, S::Error> {
        match mode {
            Some(m) => s.serialize_str(&format!("{m:o}")),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
        Option::<String>::deserialize(d)?
            .map(|s| super::parse_unix_mode(&s).map_err(serde::de::Error::custom))
            .transpose()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::{LineEcho, OnceEcho};

    #[test]
    fn round_trips_through_serde_with_a_table_per_listener() {
        let config = ServeConfig {
            listeners: vec![
                ListenerConfig {
                    endpoint: "tcp://0.0.0.0:7".parse().unwrap(),
                    idle_timeout: Some(Duration::from_secs(300)),
                    ..ListenerConfig::default()
                },
                ListenerConfig {
                    endpoint: "unix:/run/echo.sock".parse().unwrap(),
                    mode: Mode::Once(OnceEcho {
                        max_read: 1024,
                        delay: Some(Duration::from_secs(1)),
                    }),
                    unix_mode: Some(0o660),
                    ..ListenerConfig::default()
                },
            ],
            max_conns: 5000,
            ..ServeConfig::default()
        };
        let json = serde_json::to_value(&config).unwrap();
        assert_eq!(json["listener"][1]["unix-mode"], "660");
        assert_eq!(json["listener"][1]["mode"]["kind"], "once");
        assert_eq!(json["listener"][1]["mode"]["delay"], "1s");
        assert_eq!(json["listener"][0]["idle-timeout"], "5m");
        let back: ServeConfig = serde_json::from_value(json).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn a_file_names_what_it_did_not_expect() {
        let bad = serde_json::json!({ "listener": [{ "endpoint": "tcp://h:1", "mdoe": "x" }] });
        let err = serde_json::from_value::<ServeConfig>(bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("mdoe"), "{err}");
        let bad = serde_json::json!({ "listener": [{ "endpoint": "h" }] });
        let err = serde_json::from_value::<ServeConfig>(bad)
            .unwrap_err()
            .to_string();
        assert!(err.contains("missing port"), "{err}");
        let line = serde_json::json!({ "endpoint": "tcp://h:1", "mode": { "kind": "line" } });
        let l: ListenerConfig = serde_json::from_value(line).unwrap();
        assert_eq!(l.mode, Mode::Line(LineEcho::default()));
    }

    #[test]
    fn unix_modes_are_octal() {
        assert_eq!(parse_unix_mode("660"), Ok(0o660));
        assert_eq!(parse_unix_mode("0o600"), Ok(0o600));
        assert!(parse_unix_mode("999").is_err());
        assert!(parse_unix_mode("").is_err());
        assert!(parse_unix_mode("17777").is_err());
    }
}
