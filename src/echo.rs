//! One echo exchange: send, read back, compare — and one error for every
//! way that goes wrong.
//!
//! `send` (message and pipe modes), the bench probe and the bench load
//! threads all judge echoes with the same three pieces, so "the echo was
//! wrong" means the same thing, with the same words, everywhere:
//! - [`Expect`] is fed echoed chunks as they arrive and compares them in
//!   place with what was [`Sent`], without copying; it knows how many bytes
//!   are owed and names a difference, a short echo or surplus bytes.
//! - The watchdog enforces the one stall rule: **fail when echo bytes are
//!   owed and none arrived for `timeout`**. It costs no timer operation per
//!   read (only a store of the time), which matters at 100k+ reads a second.
//! - [`EchoError`] is what failed, with the counts a user needs to act on
//!   it; [`EchoError::failure`] says what it means to a script.
//!
//! [`exchange`] and [`collect`] put them together for one message on one
//! connection; the bench's hot loop uses the pieces directly.
//!
//! ```
//! use ricochet::echo::{EchoError, Expect};
//!
//! let sent = b"hello world";
//! let mut expect = Expect::new(sent.len() as u64);
//! expect.take(b"hello", &sent[..]).unwrap();
//! let err = expect.take(b" wOrld", &sent[..]).unwrap_err();
//! assert!(matches!(err, EchoError::Mismatch { offset: 7, .. }));
//! ```

use std::borrow::Cow;
use std::fmt;
use std::future::{poll_fn, Future};
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Sleep;

use crate::failure::Failure;
use crate::transport::ConnectError;

/// Why an echo exchange failed.
#[derive(Debug, thiserror::Error)]
pub enum EchoError {
    /// Could not connect.
    #[error(transparent)]
    Connect(#[from] ConnectError),
    /// Echo bytes were owed and none arrived for `after`.
    #[error(
        "timed out after {} waiting for the echo: {}",
        humantime::format_duration(*.after),
        Received(*.received, *.expected)
    )]
    Timeout {
        /// The timeout.
        after: Duration,
        /// Echo bytes received.
        received: u64,
        /// Bytes sent.
        expected: u64,
    },
    /// An echoed byte differs from the byte sent.
    #[error("the echo differs from what was sent at byte {offset}: sent {sent}, got {got}")]
    Mismatch {
        /// Offset of the first differing byte.
        offset: u64,
        /// What was sent from there on (shortened).
        sent: Snippet,
        /// What came back from there on (shortened).
        got: Snippet,
    },
    /// The peer closed the connection before echoing everything.
    #[error("{}", Short(*.received, *.expected))]
    Short {
        /// Echo bytes received.
        received: u64,
        /// Bytes sent.
        expected: u64,
    },
    /// More came back than was sent.
    #[error("the server echoed {extra} bytes more than it was sent")]
    Extra {
        /// Surplus bytes (in the read that found them).
        extra: u64,
    },
    /// A socket or local I/O error.
    #[error("{step}: {error}")]
    Io {
        /// What was being done.
        step: Step,
        /// The system error.
        error: io::Error,
    },
}

impl EchoError {
    /// What this failure means to a script.
    pub fn failure(&self) -> Failure {
        match self {
            EchoError::Connect(e) => e.failure(),
            EchoError::Timeout { .. } => Failure::Timeout,
            EchoError::Mismatch { .. } | EchoError::Short { .. } | EchoError::Extra { .. } => {
                Failure::Mismatch
            }
            EchoError::Io { .. } => Failure::Other,
        }
    }

    /// An I/O error during `step`, for `map_err`.
    pub fn io(step: Step) -> impl FnOnce(io::Error) -> EchoError {
        move |error| EchoError::Io { step, error }
    }
}

/// `received 2 of 5 bytes` / `no reply to a 5-byte message`.
struct Received(u64, u64);

impl fmt::Display for Received {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Received(0, expected) => write!(f, "no reply to a {expected}-byte message"),
            Received(received, expected) => write!(f, "received {received} of {expected} bytes"),
        }
    }
}

/// `short echo: …` / `empty echo: …`.
struct Short(u64, u64);

impl fmt::Display for Short {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Short(0, expected) => write!(
                f,
                "empty echo: the server closed without echoing any of the {expected} bytes sent"
            ),
            Short(received, expected) => write!(
                f,
                "short echo: the server closed after {received} of {expected} bytes"
            ),
        }
    }
}

/// The step of an exchange an I/O error interrupted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Writing to the server.
    Send,
    /// Half-closing the connection after the last byte.
    HalfClose,
    /// Reading the echo.
    Receive,
    /// Reading the local input (stdin).
    ReadInput,
    /// Writing the echo to the local output (stdout).
    WriteOutput,
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Step::Send => "sending",
            Step::HalfClose => "half-closing",
            Step::Receive => "reading the echo",
            Step::ReadInput => "reading input",
            Step::WriteOutput => "writing output",
        })
    }
}

/// A short, printable excerpt of bytes, for error messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Snippet(String);

impl Snippet {
    const MAX: usize = 40;

    /// The first few bytes, as a quoted, escaped string.
    pub fn of(bytes: &[u8]) -> Self {
        let shown = &bytes[..bytes.len().min(Self::MAX)];
        let mut s = format!("{:?}", String::from_utf8_lossy(shown));
        if bytes.len() > Self::MAX {
            s.push('…');
        }
        Snippet(s)
    }
}

impl fmt::Display for Snippet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What was sent, as [`Expect`] compares echoes with it. Offsets count
/// bytes from the start of the exchange.
pub trait Sent {
    /// Whether `chunk` is exactly what was sent at `offset`.
    fn matches(&self, offset: u64, chunk: &[u8]) -> bool;

    /// The `len` bytes sent at `offset`; only called to describe a
    /// difference, so it may be slow.
    fn sent_at(&self, offset: u64, len: usize) -> Cow<'_, [u8]>;
}

impl Sent for [u8] {
    fn matches(&self, offset: u64, chunk: &[u8]) -> bool {
        let start = offset as usize;
        self.get(start..start + chunk.len()) == Some(chunk)
    }

    fn sent_at(&self, offset: u64, len: usize) -> Cow<'_, [u8]> {
        let start = (offset as usize).min(self.len());
        Cow::Borrowed(&self[start..(start + len).min(self.len())])
    }
}

/// Compares an echo, chunk by chunk as it arrives, with what was sent.
///
/// It holds two counters, bytes sent and bytes echoed; the caller says how
/// much was sent ([`Expect::new`], [`Expect::sent`]) and hands over each
/// echoed chunk ([`Expect::take`]), which is compared in place.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Expect {
    received: u64,
    expected: u64,
}

impl Expect {
    /// Expects the echo of `expected` bytes.
    pub fn new(expected: u64) -> Self {
        Expect {
            received: 0,
            expected,
        }
    }

    /// `n` more bytes were sent.
    pub fn sent(&mut self, n: u64) {
        self.expected += n;
    }

    /// Echo bytes taken so far.
    pub fn received(&self) -> u64 {
        self.received
    }

    /// Bytes sent so far.
    pub fn expected(&self) -> u64 {
        self.expected
    }

    /// Bytes sent and not echoed yet.
    pub fn owed(&self) -> u64 {
        self.expected - self.received
    }

    /// Whether everything sent has come back.
    pub fn is_complete(&self) -> bool {
        self.received == self.expected
    }

    /// Takes the next echoed `chunk`: fails if it differs from what was
    /// sent at that point, or holds more than is owed.
    #[inline]
    pub fn take<S: Sent + ?Sized>(&mut self, chunk: &[u8], sent: &S) -> Result<(), EchoError> {
        let owed = usize::try_from(self.owed()).unwrap_or(usize::MAX);
        let (mine, extra) = chunk.split_at(chunk.len().min(owed));
        if !sent.matches(self.received, mine) {
            return Err(self.mismatch(mine, sent));
        }
        self.received += mine.len() as u64;
        if !extra.is_empty() {
            return Err(EchoError::Extra {
                extra: extra.len() as u64,
            });
        }
        Ok(())
    }

    /// Counts `n` echoed bytes without comparing them.
    pub fn skip(&mut self, n: u64) {
        self.received += n;
    }

    /// The echo ended (the peer closed): fails if bytes are still owed.
    pub fn finish(&self) -> Result<(), EchoError> {
        if self.is_complete() {
            Ok(())
        } else {
            Err(EchoError::Short {
                received: self.received,
                expected: self.expected,
            })
        }
    }

    /// The error for the watchdog that expired after `after`.
    pub fn timed_out(&self, after: Duration) -> EchoError {
        EchoError::Timeout {
            after,
            received: self.received,
            expected: self.expected,
        }
    }

    #[cold]
    fn mismatch<S: Sent + ?Sized>(&self, got: &[u8], sent: &S) -> EchoError {
        let want = sent.sent_at(self.received, got.len());
        let i = got
            .iter()
            .zip(want.iter())
            .position(|(a, b)| a != b)
            .unwrap_or(got.len().min(want.len()));
        EchoError::Mismatch {
            offset: self.received + i as u64,
            sent: Snippet::of(&want[i.min(want.len())..]),
            got: Snippet::of(&got[i..]),
        }
    }
}

/// Checks a whole echo against the message sent.
///
/// ```
/// use ricochet::echo::{compare, EchoError};
///
/// assert!(compare(b"hello", b"hello").is_ok());
/// assert!(matches!(compare(b"hello", b"hel"), Err(EchoError::Short { received: 3, .. })));
/// assert!(matches!(compare(b"hello", b"hello!"), Err(EchoError::Extra { extra: 1 })));
/// ```
pub fn compare(sent: &[u8], echo: &[u8]) -> Result<(), EchoError> {
    let mut expect = Expect::new(sent.len() as u64);
    expect.take(echo, sent)?;
    expect.finish()
}

/// Notices when owed echo bytes stop arriving. The rule: **fail when bytes
/// are owed and none arrived for `timeout`**.
///
/// Call [`Watchdog::progress`] whenever echo bytes arrive, and when bytes
/// start being owed after none were; poll [`Watchdog::poll_expired`] while
/// waiting. Progress only stores the time: the one timer is moved when it
/// fires early, so a connection costs at most one timer wake-up per
/// `timeout` instead of a timer-wheel insert and removal per read.
#[derive(Debug)]
pub(crate) struct Watchdog {
    timeout: Duration,
    last: Instant,
    /// `None`: no timeout, never expires.
    sleep: Option<Pin<Box<Sleep>>>,
}

impl Watchdog {
    /// A watchdog that expires `timeout` after the last progress (from now);
    /// `None` never expires. Needs a tokio runtime with time enabled.
    pub fn new(timeout: Option<Duration>) -> Self {
        Watchdog {
            timeout: timeout.unwrap_or_default(),
            last: Instant::now(),
            sleep: timeout.map(|t| Box::pin(tokio::time::sleep(t))),
        }
    }

    /// The timeout, if any.
    pub fn timeout(&self) -> Option<Duration> {
        self.sleep.as_ref().map(|_| self.timeout)
    }

    /// Echo bytes arrived (or started being owed) at `now`.
    #[inline]
    pub fn progress(&mut self, now: Instant) {
        self.last = now;
    }

    /// Ready once `owed` is true and nothing progressed for the timeout.
    pub fn poll_expired(&mut self, cx: &mut Context<'_>, owed: bool) -> Poll<()> {
        let Some(sleep) = self.sleep.as_mut() else {
            return Poll::Pending;
        };
        loop {
            if sleep.as_mut().poll(cx).is_pending() {
                return Poll::Pending;
            }
            let now = Instant::now();
            let due = if owed {
                self.last + self.timeout
            } else {
                now + self.timeout
            };
            if now >= due {
                return Poll::Ready(());
            }
            sleep.as_mut().reset(due.into());
        }
    }

    /// Waits until bytes owed all along stopped arriving for the timeout.
    pub async fn expired(&mut self) {
        poll_fn(|cx| self.poll_expired(cx, true)).await
    }
}

/// Sends `message` on `stream` and reads its echo back, comparing every
/// chunk as it arrives; writes and reads at once, so a large message cannot
/// deadlock against a server that echoes as it reads. Fails fast on the
/// first wrong byte, and when the echo stalls for `timeout` (see
/// the watchdog).
pub async fn exchange<S>(
    stream: &mut S,
    message: &[u8],
    timeout: Option<Duration>,
) -> Result<(), EchoError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    run(stream, message, timeout, Ending::KeepOpen, None).await
}

/// What a reader does once the echo is as long as what was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AfterEcho {
    /// Stop reading: the tutorial's client, fastest.
    Stop,
    /// Keep reading until the server closes, so that bytes it sends *after*
    /// the echo are seen too (RFC 862 servers close once the client has
    /// half-closed and everything is echoed). The first surplus bytes end
    /// the wait (the echo is too long whatever follows), and so does a
    /// server that stays open but sends nothing for the timeout, without
    /// an error; with no timeout, only the close or surplus bytes do.
    UntilClose,
}

/// The tutorial's client: sends `message`, half-closes, and collects the
/// echo until it is as long as the message or the server closes (with
/// [`AfterEcho::UntilClose`], until the server closes, so late surplus
/// bytes are collected too). A shorter, longer or different echo is
/// returned as is (judge it with [`compare`]); only a stall for `timeout`
/// while bytes are owed, or an I/O error, fails.
pub async fn collect<S>(
    stream: &mut S,
    message: &[u8],
    timeout: Option<Duration>,
    after: AfterEcho,
) -> Result<Vec<u8>, EchoError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let mut echo = Vec::with_capacity(message.len());
    run(
        stream,
        message,
        timeout,
        Ending::HalfClose,
        Some((&mut echo, after)),
    )
    .await?;
    Ok(echo)
}

/// Whether the sender half-closes after the message.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Ending {
    KeepOpen,
    HalfClose,
}

/// The exchange behind [`exchange`] (compare, `collected: None`) and
/// [`collect`] (keep the echo, compare nothing).
async fn run<S>(
    stream: &mut S,
    message: &[u8],
    timeout: Option<Duration>,
    ending: Ending,
    mut collected: Option<(&mut Vec<u8>, AfterEcho)>,
) -> Result<(), EchoError>
where
    S: AsyncRead + AsyncWrite + Unpin,
{
    let (mut rd, mut wr) = tokio::io::split(stream);
    let write = async {
        wr.write_all(message)
            .await
            .map_err(EchoError::io(Step::Send))?;
        if ending == Ending::HalfClose {
            // RFC 862 servers echo everything, then close.
            wr.shutdown()
                .await
                .map_err(EchoError::io(Step::HalfClose))?;
        }
        Ok(())
    };
    let read = async {
        let mut buf = vec![0u8; message.len().clamp(1024, 256 * 1024)];
        let mut expect = Expect::new(message.len() as u64);
        let mut watchdog = Watchdog::new(timeout);
        while !expect.is_complete() {
            let n = tokio::select! {
                biased;
                n = rd.read(&mut buf) => n.map_err(EchoError::io(Step::Receive))?,
                () = watchdog.expired() => {
                    return Err(expect.timed_out(timeout.unwrap_or_default()));
                }
            };
            watchdog.progress(Instant::now());
            if n == 0 {
                return match collected {
                    Some(_) => Ok(()),
                    None => expect.finish(),
                };
            }
            match collected.as_mut() {
                Some((echo, _)) => {
                    echo.extend_from_slice(&buf[..n]);
                    expect.skip(n.min(expect.owed() as usize) as u64);
                }
                None => expect.take(&buf[..n], message)?,
            }
        }
        if let Some((echo, AfterEcho::UntilClose)) = collected {
            // Nothing is owed now: the close, or silence for the timeout,
            // ends the wait quietly. The first surplus bytes end it too:
            // the echo is too long whatever follows, and a server that
            // never stops sending must not hold the client or its memory.
            if expect.received() as usize == echo.len() {
                tokio::select! {
                    biased;
                    n = rd.read(&mut buf) => {
                        let n = n.map_err(EchoError::io(Step::Receive))?;
                        echo.extend_from_slice(&buf[..n]);
                    }
                    () = watchdog.expired() => {}
                }
            }
        }
        Ok(())
    };
    tokio::try_join!(write, read).map(|_| ())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expect_names_differences_short_and_extra() {
        let sent = b"0123456789";
        let mut e = Expect::new(10);
        e.take(b"0123", &sent[..]).unwrap();
        match e.take(b"45x7", &sent[..]) {
            Err(EchoError::Mismatch { offset, sent, got }) => {
                assert_eq!(offset, 6);
                assert_eq!(sent.to_string(), "\"67\"");
                assert_eq!(got.to_string(), "\"x7\"");
            }
            other => panic!("{other:?}"),
        }
        let mut e = Expect::new(4);
        e.take(b"01", &sent[..]).unwrap();
        assert!(matches!(
            e.finish(),
            Err(EchoError::Short {
                received: 2,
                expected: 4
            })
        ));
        assert!(matches!(
            e.take(b"23!!", &sent[..]),
            Err(EchoError::Extra { extra: 2 })
        ));
        assert_eq!(e.received(), 4);
    }

    #[test]
    fn timeout_messages_say_what_arrived() {
        let after = Duration::from_millis(300);
        let silent = Expect::new(5).timed_out(after).to_string();
        assert_eq!(
            silent,
            "timed out after 300ms waiting for the echo: no reply to a 5-byte message"
        );
        let mut e = Expect::new(5);
        e.skip(2);
        assert!(e
            .timed_out(after)
            .to_string()
            .ends_with("received 2 of 5 bytes"));
    }

    #[tokio::test]
    async fn watchdog_fails_only_after_a_full_timeout_without_progress() {
        let timeout = Duration::from_millis(200);
        let mut w = Watchdog::new(Some(timeout));
        let start = Instant::now();
        // Progress half-way through moves the deadline.
        tokio::time::sleep(Duration::from_millis(100)).await;
        w.progress(Instant::now());
        w.expired().await;
        let waited = start.elapsed();
        assert!(waited >= Duration::from_millis(300), "{waited:?}");
        assert!(waited < Duration::from_millis(600), "{waited:?}");
    }

    #[tokio::test]
    async fn watchdog_never_expires_while_nothing_is_owed() {
        let mut w = Watchdog::new(Some(Duration::from_millis(10)));
        let idle = poll_fn(|cx| w.poll_expired(cx, false));
        let r = tokio::time::timeout(Duration::from_millis(100), idle).await;
        assert!(r.is_err(), "expired with nothing owed");
        let mut none = Watchdog::new(None);
        let r = tokio::time::timeout(Duration::from_millis(100), none.expired()).await;
        assert!(r.is_err(), "no timeout expired");
    }
}
