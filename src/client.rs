//! The `send` side: the tutorial's client, and a binary-safe pipe.
//!
//! [`send_message`] connects, writes a message, half-closes and reads the
//! echo back until it is as long as the message or the server closes.
//! [`pipe`] streams a reader (stdin) to the server and the echo to a writer
//! (stdout) at the same time, optionally checking that every echoed byte
//! matches what was sent. Memory stays bounded: at most
//! [`PIPE_IN_FLIGHT_CHUNKS`] chunks of sent-but-unechoed data are kept for
//! checking, and reading the input pauses while that window is full.
//!
//! Both judge the echo with [`crate::echo`] and fail with its
//! [`EchoError`].

use std::borrow::Cow;
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::{mpsc, watch};

use crate::connection::Connection;
use crate::echo::{self, AfterEcho, EchoError, Expect, Sent, Step, Watchdog};
use crate::transport::{ConnectError, Endpoint};

/// Chunk size for [`pipe`].
const CHUNK: usize = 64 * 1024;
/// Sent-but-not-yet-echoed chunks kept for `--check` (4 MiB of 64 KiB).
pub const PIPE_IN_FLIGHT_CHUNKS: usize = 64;

/// Connects and wraps the stream in a [`Connection`], asyncio's
/// `open_connection`: `read(n)`, `readline()`, `write_all()`, `drain()`.
pub async fn open_connection(endpoint: &Endpoint) -> Result<Connection, ConnectError> {
    let stream = endpoint.connect(None).await?;
    let peer = stream.peer();
    Ok(Connection::new(stream, peer, None))
}

/// Sends `message` and returns the echo: reading stops once the echo is as
/// long as the message (or, with [`AfterEcho::UntilClose`], once the server
/// closes, so surplus bytes sent after the echo are returned too), or at
/// end of stream. A shorter or longer echo is returned as is; judge it with
/// [`echo::compare`]. `timeout` bounds the connect and each stall of the
/// echo.
pub async fn send_message(
    endpoint: &Endpoint,
    message: &[u8],
    timeout: Option<Duration>,
    after: AfterEcho,
) -> Result<Vec<u8>, EchoError> {
    let mut stream = endpoint.connect(timeout).await?;
    echo::collect(&mut stream, message, timeout, after).await
}

/// What [`pipe`] moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PipeSummary {
    /// Bytes read from the input and sent.
    pub sent: u64,
    /// Echo bytes received and written to the output.
    pub received: u64,
}

/// The upload's progress, as the download sees it.
#[derive(Debug, Clone, Copy, Default)]
struct Uploaded {
    /// Bytes handed to the socket (counted just before the write, so an
    /// echo never arrives for bytes not counted yet).
    bytes: u64,
    /// The input ended and the connection is half-closed.
    finished: bool,
}

/// Streams `input` to the server and the echo to `output`, half-closing at
/// the end of input and finishing when the echo is complete (as long as the
/// input, or the server closed). A server that closes before echoing
/// everything fails with [`EchoError::Short`]. With `check`, every echoed
/// byte is compared with what was sent and a difference is an error, and
/// once the echo is complete the pipe waits for the server to close (see
/// [`AfterEcho::UntilClose`]), so surplus bytes sent after the echo fail
/// with [`EchoError::Extra`] too. `timeout` bounds the connect and each
/// stall of the echo while bytes are owed (an idle interactive stdin is not
/// the server's fault).
///
/// A failure of the echo side (a wrong byte, a closed output) ends the pipe
/// at once; a failure of the input side is reported once the echo of what
/// was sent has ended.
pub async fn pipe<R, W>(
    endpoint: &Endpoint,
    mut input: R,
    mut output: W,
    check: bool,
    timeout: Option<Duration>,
) -> Result<PipeSummary, EchoError>
where
    R: AsyncRead + Unpin + Send,
    W: AsyncWrite + Unpin + Send,
{
    let stream = endpoint.connect(timeout).await?;
    let (mut rd, mut wr) = tokio::io::split(stream);
    let (uploaded_tx, mut uploaded) = watch::channel(Uploaded::default());
    // With `check`, a copy of every chunk, sent here before it is written
    // to the socket, so its echo always finds it.
    let (copies, mut copies_rx) = mpsc::channel::<Vec<u8>>(PIPE_IN_FLIGHT_CHUNKS);

    let upload = async move {
        let mut buf = vec![0; CHUNK];
        loop {
            let n = input
                .read(&mut buf)
                .await
                .map_err(EchoError::io(Step::ReadInput))?;
            if n == 0 {
                break;
            }
            if check && copies.send(buf[..n].to_vec()).await.is_err() {
                break; // the echo side already failed
            }
            uploaded_tx.send_modify(|u| u.bytes += n as u64);
            wr.write_all(&buf[..n])
                .await
                .map_err(EchoError::io(Step::Send))?;
        }
        wr.shutdown()
            .await
            .map_err(EchoError::io(Step::HalfClose))?;
        uploaded_tx.send_modify(|u| u.finished = true);
        Ok::<_, EchoError>(())
    };

    let download = async move {
        let mut buf = vec![0; CHUNK];
        let mut expect = Expect::new(0);
        let mut unechoed = Unechoed::default();
        let mut watchdog = Watchdog::new(timeout);
        let mut finished = false;
        // Learns what the upload sent; a debt that starts now starts the
        // watchdog's clock now.
        let catch_up = |expect: &mut Expect, watchdog: &mut Watchdog, u: Uploaded| {
            if expect.is_complete() && u.bytes > expect.expected() {
                watchdog.progress(Instant::now());
            }
            expect.sent(u.bytes - expect.expected());
            u.finished
        };
        // With `check`, a complete echo is not the end: the server may
        // still send surplus bytes, so the pipe waits for it to close.
        let after = if check {
            AfterEcho::UntilClose
        } else {
            AfterEcho::Stop
        };
        while !(finished && expect.is_complete() && after == AfterEcho::Stop) {
            let owed = !expect.is_complete();
            let lingering = finished && !owed;
            let n = tokio::select! {
                biased;
                n = rd.read(&mut buf) => n.map_err(EchoError::io(Step::Receive))?,
                () = watchdog.expired(), if owed || lingering => {
                    if lingering {
                        break; // open but silent after a complete echo
                    }
                    return Err(expect.timed_out(timeout.unwrap_or_default()));
                }
                changed = uploaded.changed(), if !finished => {
                    let u = *uploaded.borrow_and_update();
                    // A dropped sender: the upload failed; its error is
                    // reported once this side is done.
                    finished = catch_up(&mut expect, &mut watchdog, u) || changed.is_err();
                    if finished && expect.is_complete() {
                        // The wait for surplus bytes starts now.
                        watchdog.progress(Instant::now());
                    }
                    continue;
                }
            };
            if n == 0 {
                break;
            }
            watchdog.progress(Instant::now());
            let u = *uploaded.borrow_and_update();
            finished |= catch_up(&mut expect, &mut watchdog, u);
            let chunk = &buf[..n];
            if check {
                unechoed.fill(&mut copies_rx, expect.received() + n as u64);
                expect.take(chunk, &unechoed)?;
                unechoed.forget_before(expect.received());
            } else {
                expect.skip(n as u64);
            }
            output
                .write_all(chunk)
                .await
                .map_err(EchoError::io(Step::WriteOutput))?;
        }
        output
            .flush()
            .await
            .map_err(EchoError::io(Step::WriteOutput))?;
        // Short is a failure with or without `check` (unchecked bytes may
        // outnumber the sent ones, which is not short).
        if expect.received() < expect.expected() {
            expect.finish()?;
        }
        Ok(expect)
    };

    tokio::pin!(upload, download);
    let expect = tokio::select! {
        down = &mut download => {
            let expect = down?;
            upload.await?;
            expect
        }
        up = &mut upload => {
            let expect = download.await?;
            up?;
            expect
        }
    };
    Ok(PipeSummary {
        sent: expect.expected(),
        received: expect.received(),
    })
}

/// The copies of sent chunks whose echo has not been checked yet.
#[derive(Default)]
struct Unechoed {
    chunks: VecDeque<Vec<u8>>,
    /// Stream offset of the first byte of `chunks[0]`.
    start: u64,
    len: u64,
}

impl Unechoed {
    /// Takes copies from the upload until they reach offset `end` (or none
    /// are left: the echo then holds more than was sent).
    fn fill(&mut self, copies: &mut mpsc::Receiver<Vec<u8>>, end: u64) {
        while self.start + self.len < end {
            match copies.try_recv() {
                Ok(chunk) => {
                    self.len += chunk.len() as u64;
                    self.chunks.push_back(chunk);
                }
                Err(_) => break,
            }
        }
    }

    /// Drops the chunks wholly before `offset`.
    fn forget_before(&mut self, offset: u64) {
        while let Some(front) = self.chunks.front() {
            let len = front.len() as u64;
            if self.start + len > offset {
                break;
            }
            self.start += len;
            self.len -= len;
            self.chunks.pop_front();
        }
    }

    /// The pieces of the stream from `offset`, in order.
    fn pieces_from(&self, offset: u64) -> impl Iterator<Item = &[u8]> {
        let mut skip = offset.saturating_sub(self.start) as usize;
        self.chunks.iter().filter_map(move |c| {
            if skip >= c.len() {
                skip -= c.len();
                None
            } else {
                let piece = &c[skip..];
                skip = 0;
                Some(piece)
            }
        })
    }
}

impl Sent for Unechoed {
    fn matches(&self, offset: u64, mut chunk: &[u8]) -> bool {
        for piece in self.pieces_from(offset) {
            if chunk.is_empty() {
                break;
            }
            let m = piece.len().min(chunk.len());
            if piece[..m] != chunk[..m] {
                return false;
            }
            chunk = &chunk[m..];
        }
        chunk.is_empty()
    }

    fn sent_at(&self, offset: u64, len: usize) -> Cow<'_, [u8]> {
        let mut out = Vec::with_capacity(len);
        for piece in self.pieces_from(offset) {
            let m = piece.len().min(len - out.len());
            out.extend_from_slice(&piece[..m]);
            if out.len() == len {
                break;
            }
        }
        Cow::Owned(out)
    }
}
