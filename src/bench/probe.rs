//! Before any load: is the target reachable, and is it an echo server?
//!
//! One connection, one or two verified exchanges of the configured message
//! ([`crate::echo::exchange`], the same exchange `send` judges echoes
//! with). A target that refuses fails fast with the endpoint's connect
//! error; one that answers with other bytes, or not at all within
//! `--timeout`, is named as not an echo server instead of being measured
//! (or waited on forever). The probe also learns the address the load
//! threads will use, so names are resolved once.

use std::time::Duration;

use crate::bench::{BenchError, ErrorKind, Workload};
use crate::echo::{self, EchoError};
use crate::transport::Endpoint;
use crate::transport::Socket;

use super::target::Address;

/// Checks `endpoint` with `message` and returns the address to load.
pub(crate) async fn probe(
    endpoint: &Endpoint,
    message: &[u8],
    workload: Workload,
    timeout: Duration,
) -> Result<Address, BenchError> {
    let mut stream = endpoint.connect(Some(timeout)).await?;
    let address = match (&stream, endpoint) {
        (Socket::Tcp(s), _) => Address::Tcp(s.peer_addr().map_err(|error| BenchError::Probe {
            endpoint: endpoint.clone(),
            error,
        })?),
        (Socket::Unix(_), Endpoint::Unix(path)) => Address::Unix(path.clone()),
        (Socket::Unix(_), Endpoint::Tcp { .. }) => {
            unreachable!("a TCP endpoint gives a TCP stream")
        }
    };
    let not_echo = |reason| BenchError::NotEcho {
        endpoint: endpoint.clone(),
        reason,
    };
    match workload {
        Workload::ConnectOnly => {}
        Workload::OneShot => echo::exchange(&mut stream, message, Some(timeout))
            .await
            .map_err(not_echo)?,
        Workload::Echo => {
            echo::exchange(&mut stream, message, Some(timeout))
                .await
                .map_err(not_echo)?;
            // A second message tells a persistent echo server from one that
            // answers once and hangs up (the tutorial's server).
            match echo::exchange(&mut stream, message, Some(timeout)).await {
                Ok(()) => {}
                Err(EchoError::Short { received: 0, .. }) => {
                    return Err(BenchError::OneMessageServer {
                        endpoint: endpoint.clone(),
                    })
                }
                Err(e @ EchoError::Io { .. }) if ErrorKind::from(&e) == ErrorKind::Reset => {
                    return Err(BenchError::OneMessageServer {
                        endpoint: endpoint.clone(),
                    })
                }
                Err(reason) => return Err(not_echo(reason)),
            }
        }
    }
    Ok(address)
}
