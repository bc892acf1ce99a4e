//! What a failure means to whoever runs ricochet from a script.
//!
//! Every error a client-side operation returns ([`ConnectError`],
//! [`EchoError`], the bench's `BenchError`) sorts itself into one
//! [`Failure`], so the command line turns errors into its documented exit
//! codes with one `match`, and a library user can tell "nobody listens"
//! from "the echo was wrong" without matching on every variant.
//!
//! [`ConnectError`]: crate::transport::ConnectError
//! [`EchoError`]: crate::echo::EchoError

/// The kinds of failure a script tells apart (the CLI's exit codes 1–6).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Failure {
    /// The request itself was wrong: a bad endpoint or contradictory options.
    Usage,
    /// Nobody accepts connections there (refused, no socket file, unreachable).
    Refused,
    /// The host name did not resolve.
    UnknownHost,
    /// Connecting, or waiting for owed echo bytes, took longer than allowed.
    Timeout,
    /// The echo was not what was sent: different, short or too long.
    Mismatch,
    /// Anything else.
    Other,
}
