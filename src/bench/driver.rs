//! Moving bytes: load threads, connections, the closed and open loops, and
//! one-shot exchanges. It fills per-thread [`Recorder`]s and knows nothing
//! about how results are shown.
//!
//! Threads: `threads` OS threads, each with a current-thread tokio runtime
//! and its share of the connections (like wrk or vmbench's client), so no
//! task ever migrates and recording needs no locks.
//!
//! Hot path: a connection's messages are built once ([`Payload`]); each
//! round trip is one `write` of a slice plus the reads its echo needs, into
//! one 256 KiB buffer per thread (see [`SharedBuf`]), compared in place
//! with what was sent by an [`Expect`]. No timer per read: one
//! [`Watchdog`] per connection. The write and the reads of one batch run
//! concurrently on split halves, so a large batch cannot deadlock against a
//! server that echoes as it reads.
//!
//! Closed loop (default): each connection sends `pipeline` messages in one
//! write, waits for all of their echoes, and sends again. Latency is from the
//! write to the last byte of each message's echo. It excludes the queueing
//! the loop itself prevents: a slow server slows the sender down instead of
//! building a queue.
//!
//! Open loop (`--rate R`): connection `i` of `c` sends message `k` at its
//! *intended* time `start + i/R + k·c/R`, so the connections together send
//! `R` messages per second, evenly spread. Latency is measured from that
//! intended time, not from the actual send, so a stall in the server shows
//! up as latency of every message it delayed (wrk2's lesson on coordinated
//! omission). A connection that falls behind keeps its schedule: it sends
//! the overdue messages at once, and their latency grows. At most
//! `pipeline` messages are in flight per connection; the schedule waits
//! for a free place in the pipeline.
//!
//! Errors end the connection (its byte stream can no longer be trusted),
//! are counted by kind (each [`EchoError`] as its [`ErrorKind`]), and the
//! connection is opened again; failed connects back off from 1 ms to
//! 100 ms so a dead server is not hammered in a loop.
//! At the end of the window (or as soon as the plan's stop token is
//! cancelled, on Ctrl-C) every task is dropped, so messages still in
//! flight are neither counted nor errors.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::poll_fn;
use std::io;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::task::Poll;
use std::time::{Duration, Instant};

use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt, ReadBuf};
use tokio::sync::Notify;
use tokio::task::LocalSet;
use tokio_util::sync::CancellationToken;

use crate::bench::payload::{Payload, PayloadKind};
use crate::bench::progress::Snapshot;
use crate::bench::stats::{ErrorKind, Live, Recorder, Stats};
use crate::bench::target::Target;
use crate::bench::Workload;
use crate::echo::{EchoError, Expect, Step, Watchdog};
use crate::transport::Socket;

/// The read buffer each load thread shares among its connections.
const READ_BUF: usize = 256 * 1024;
const MIN_BACKOFF: Duration = Duration::from_millis(1);
const MAX_BACKOFF: Duration = Duration::from_millis(100);

/// Everything one round of load needs; shared by all load threads.
#[derive(Debug)]
pub(crate) struct Plan {
    pub target: Arc<Target>,
    pub workload: Workload,
    pub connections: usize,
    pub threads: usize,
    pub size: usize,
    pub pipeline: usize,
    pub payload: PayloadKind,
    pub rate: Option<f64>,
    pub timeout: Duration,
    /// Connections start here; the open-loop schedules count from here.
    pub start: Instant,
    /// Warm-up ends here.
    pub measure_from: Instant,
    /// The run ends here...
    pub end: Instant,
    /// ...or when this is cancelled (Ctrl-C), whichever comes first.
    pub stop: CancellationToken,
}

/// A round in progress.
pub(crate) struct Running {
    live: Vec<Arc<Live>>,
    done: mpsc::Receiver<io::Result<Stats>>,
    threads: Vec<std::thread::JoinHandle<()>>,
}

/// Starts the load threads.
pub(crate) fn start(plan: Arc<Plan>) -> io::Result<Running> {
    let (tx, done) = mpsc::channel();
    let mut live = Vec::new();
    let mut threads = Vec::new();
    for index in 0..plan.threads {
        let counters = Arc::new(Live::default());
        live.push(counters.clone());
        let (plan, tx) = (plan.clone(), tx.clone());
        let handle = std::thread::Builder::new()
            .name(format!("ricochet-bench-{index}"))
            .spawn(move || {
                let _ = tx.send(load_thread(&plan, index, counters));
            })?;
        threads.push(handle);
    }
    Ok(Running {
        live,
        done,
        threads,
    })
}

impl Running {
    /// Waits for every thread, calling `tick` with the live totals every
    /// `every` meanwhile (`elapsed` left for the caller to fill in);
    /// returns the merged stats.
    pub(crate) fn wait(self, every: Duration, mut tick: impl FnMut(Snapshot)) -> io::Result<Stats> {
        let mut total = Stats::default();
        let mut first_error = None;
        let mut pending = self.threads.len();
        while pending > 0 {
            match self.done.recv_timeout(every) {
                Ok(Ok(stats)) => {
                    total.merge(&stats);
                    pending -= 1;
                }
                Ok(Err(e)) => {
                    first_error.get_or_insert(e);
                    pending -= 1;
                }
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let mut now = Snapshot::default();
                    for live in &self.live {
                        now.warmup_messages += live.warmup_messages();
                        now.messages += live.messages();
                        live.add_errors(&mut now.errors);
                    }
                    tick(now);
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    first_error.get_or_insert(io::Error::other("a load thread panicked"));
                    break;
                }
            }
        }
        for t in self.threads {
            let _ = t.join();
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(total),
        }
    }
}

fn load_thread(plan: &Arc<Plan>, index: usize, live: Arc<Live>) -> io::Result<Stats> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let recorder = Rc::new(RefCell::new(Recorder::new(
        plan.measure_from,
        plan.end,
        live,
    )));
    let shared = (plan.payload == PayloadKind::Fixed)
        .then(|| Payload::new(PayloadKind::Fixed, plan.size, plan.pipeline, 0));
    let read_buf: SharedBuf = Rc::new(RefCell::new(vec![0u8; READ_BUF].into_boxed_slice()));
    let local = LocalSet::new();
    local.block_on(&rt, async {
        for conn in (index..plan.connections).step_by(plan.threads) {
            let payload = shared.clone().unwrap_or_else(|| {
                Payload::new(plan.payload, plan.size, plan.pipeline, conn as u64)
            });
            let connection = ConnectionLoop {
                plan: plan.clone(),
                index: conn,
                payload,
                recorder: recorder.clone(),
                read_buf: read_buf.clone(),
            };
            tokio::task::spawn_local(connection.run());
        }
        tokio::select! {
            () = tokio::time::sleep_until(plan.end.into()) => {}
            () = plan.stop.cancelled() => {}
        }
    });
    // Dropping the set drops every connection task, mid-flight or not.
    drop(local);
    let stats = recorder.borrow_mut().take();
    Ok(stats)
}

/// One read buffer per load thread, shared by its connections: each read
/// is checked against what was sent inside the same poll, before any other
/// connection can run, so nothing has to stay in it. One warm buffer (like a
/// C client's) keeps the copies from the kernel in cache, where a buffer per
/// connection would not be; and it is larger than most batches, so reading
/// a whole echo is a short read, which tells tokio the socket is drained
/// (the next read waits for readiness instead of a syscall saying EAGAIN).
type SharedBuf = Rc<RefCell<Box<[u8]>>>;

/// One of the `--connections` loops: keeps a connection open, reopening it
/// after each failure (or opens one per message), until the run ends.
struct ConnectionLoop {
    plan: Arc<Plan>,
    index: usize,
    payload: Payload,
    recorder: Rc<RefCell<Recorder>>,
    read_buf: SharedBuf,
}

/// Open-loop intended send times of one connection.
struct Schedule {
    /// Connection `i`'s offset from the plan's start: `i / rate`.
    first_ns: f64,
    interval_ns: f64,
    next: u64,
}

impl Schedule {
    fn new(plan: &Plan, index: usize) -> Option<Self> {
        let rate = plan.rate?;
        Some(Schedule {
            first_ns: index as f64 / rate * 1e9,
            interval_ns: plan.connections as f64 / rate * 1e9,
            next: 0,
        })
    }

    /// The next intended send time; `plan.end` once the schedule runs past
    /// the window (at a very low rate the offset may not even fit in an
    /// `Instant`, so it is computed in floating point and clamped first).
    fn next(&mut self, plan: &Plan) -> Instant {
        let offset_ns = self.first_ns + self.next as f64 * self.interval_ns;
        self.next += 1;
        let window_ns = plan.end.saturating_duration_since(plan.start).as_nanos() as f64;
        if offset_ns >= window_ns {
            return plan.end;
        }
        plan.start + Duration::from_nanos(offset_ns as u64)
    }
}

/// How early the coarse timer is asked to wake us before an intended send
/// time. tokio's timer has millisecond resolution and rounds deadlines up,
/// so a plain `sleep_until` sends up to ~1 ms late — and since open-loop
/// latency counts from the intended time, that lateness would be reported
/// as server latency. Waking early and yielding until the instant costs
/// some CPU on the load thread but keeps sends within microseconds of
/// their schedule.
const TIMER_SLACK: Duration = Duration::from_micros(1500);

/// Waits until `at` with microsecond precision: the timer for the coarse
/// part, then yields to the runtime (which keeps polling sockets, so echoes
/// of other messages are still read and timed) until the instant passes.
async fn send_at(at: Instant) {
    if let Some(early) = at.checked_sub(TIMER_SLACK) {
        if early > Instant::now() {
            tokio::time::sleep_until(early.into()).await;
        }
    }
    while Instant::now() < at {
        tokio::task::yield_now().await;
    }
}

struct Backoff(Duration);

impl Backoff {
    async fn wait(&mut self) {
        tokio::time::sleep(self.0).await;
        self.0 = (self.0 * 2).min(MAX_BACKOFF);
    }
}

/// Runs `$body` with `$r`/`$w` bound to the borrowed read and write halves
/// of a [`Socket`], whatever its transport.
macro_rules! with_halves {
    ($stream:expr, |$r:ident, $w:ident| $body:expr) => {
        match $stream {
            Socket::Tcp(s) => {
                let ($r, $w) = s.split();
                $body
            }
            Socket::Unix(s) => {
                let ($r, $w) = s.split();
                $body
            }
        }
    };
}

impl ConnectionLoop {
    async fn run(self) {
        let mut schedule = Schedule::new(&self.plan, self.index);
        match self.plan.workload {
            Workload::Echo => self.persistent(schedule.as_mut()).await,
            Workload::OneShot | Workload::ConnectOnly => self.one_shot(schedule.as_mut()).await,
        }
    }

    /// One connection attempt; a failure is counted and backed off from.
    async fn try_connect(&self, backoff: &mut Backoff) -> Option<Socket> {
        match self.plan.target.connect(self.plan.timeout).await {
            Ok(stream) => {
                backoff.0 = MIN_BACKOFF;
                self.recorder.borrow_mut().connected();
                Some(stream)
            }
            Err(_) => {
                self.recorder.borrow_mut().error(ErrorKind::Connect);
                backoff.wait().await;
                None
            }
        }
    }

    /// Persistent connections: the closed or the open loop, reconnecting
    /// after each failure.
    async fn persistent(&self, mut schedule: Option<&mut Schedule>) {
        let mut backoff = Backoff(MIN_BACKOFF);
        loop {
            let Some(mut stream) = self.try_connect(&mut backoff).await else {
                continue;
            };
            let failure = match schedule.as_deref_mut() {
                None => with_halves!(&mut stream, |r, w| self.closed_loop(r, w).await),
                Some(s) => with_halves!(&mut stream, |r, w| self.open_loop(r, w, s).await),
            };
            self.recorder.borrow_mut().error(failure);
        }
    }

    /// Closed loop: write a batch, read its echo back, repeat. Returns the
    /// failure that ended the connection.
    async fn closed_loop<R, W>(&self, mut r: R, mut w: W) -> ErrorKind
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let batch = self.payload.batch();
        let mut watchdog = Watchdog::new(Some(self.plan.timeout));
        loop {
            let sent_at = Instant::now();
            let write = async { w.write_all(batch).await.map_err(EchoError::io(Step::Send)) };
            let read = read_echo(
                &mut r,
                &self.read_buf,
                &self.payload,
                batch.len(),
                &mut watchdog,
                |done, now| {
                    let bytes = (done * self.payload.size()) as u64;
                    self.recorder
                        .borrow_mut()
                        .record(now - sent_at, done as u64, bytes, now);
                },
            );
            if let Err(e) = tokio::try_join!(write, read) {
                return ErrorKind::from(&e);
            }
        }
    }

    /// Open loop: a writer sending on schedule and a reader matching echoes
    /// to intended send times, on one connection. Returns the failure that
    /// ended the connection.
    async fn open_loop<R, W>(&self, r: R, w: W, schedule: &mut Schedule) -> ErrorKind
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let state = OpenLoop {
            connection: self,
            in_flight: RefCell::new(VecDeque::with_capacity(self.plan.pipeline)),
            pipeline_freed: Notify::new(),
            expect: Cell::new(Expect::new(0)),
            watchdog: RefCell::new(Watchdog::new(Some(self.plan.timeout))),
        };
        match tokio::try_join!(state.send(w, schedule), state.receive(r)) {
            Err(kind) => kind,
            Ok((never, _)) => match never {},
        }
    }

    /// One connection per message: connect, send, read the echo, close (or,
    /// connect-only, just connect and close). Latency covers all of it.
    async fn one_shot(&self, mut schedule: Option<&mut Schedule>) {
        let mut backoff = Backoff(MIN_BACKOFF);
        let message = self.payload.message(0);
        loop {
            let begin = match schedule.as_deref_mut() {
                None => Instant::now(),
                Some(s) => {
                    let intended = s.next(&self.plan);
                    if intended >= self.plan.end {
                        std::future::pending::<()>().await;
                    }
                    send_at(intended).await;
                    intended
                }
            };
            let Some(mut stream) = self.try_connect(&mut backoff).await else {
                continue;
            };
            let result = match self.plan.workload {
                Workload::ConnectOnly => Ok(Instant::now()),
                _ => {
                    let mut finished = begin;
                    let exchange = with_halves!(&mut stream, |r, w| {
                        let mut r = r;
                        let mut w = w;
                        let write = async {
                            w.write_all(message)
                                .await
                                .map_err(EchoError::io(Step::Send))
                        };
                        let mut watchdog = Watchdog::new(Some(self.plan.timeout));
                        let read = read_echo(
                            &mut r,
                            &self.read_buf,
                            &self.payload,
                            message.len(),
                            &mut watchdog,
                            |_, now| {
                                finished = now;
                            },
                        );
                        tokio::try_join!(write, read)
                    });
                    exchange.map(|_| finished)
                }
            };
            drop(stream);
            match result {
                Ok(done) => {
                    let bytes = if self.plan.workload == Workload::ConnectOnly {
                        0
                    } else {
                        message.len() as u64
                    };
                    self.recorder.borrow_mut().record(
                        done.saturating_duration_since(begin),
                        1,
                        bytes,
                        done,
                    );
                }
                Err(e) => self.recorder.borrow_mut().error(ErrorKind::from(&e)),
            }
        }
    }
}

/// The state the open loop's writer and reader share on one connection.
struct OpenLoop<'a> {
    connection: &'a ConnectionLoop,
    /// Intended send times of the messages in flight, oldest first.
    in_flight: RefCell<VecDeque<Instant>>,
    pipeline_freed: Notify,
    /// Bytes sent and echoed; the writer counts a message before writing it.
    expect: Cell<Expect>,
    /// Reset by the reader on progress, and by the writer when a debt
    /// starts after none.
    watchdog: RefCell<Watchdog>,
}

impl OpenLoop<'_> {
    async fn send<W: AsyncWrite + Unpin>(
        &self,
        mut w: W,
        schedule: &mut Schedule,
    ) -> Result<Infallible, ErrorKind> {
        let plan = &self.connection.plan;
        let size = self.connection.payload.size() as u64;
        let mut seq = 0usize;
        loop {
            while self.in_flight.borrow().len() >= plan.pipeline {
                self.pipeline_freed.notified().await;
            }
            let intended = schedule.next(plan);
            if intended >= plan.end {
                std::future::pending::<()>().await;
            }
            send_at(intended).await;
            {
                let mut q = self.in_flight.borrow_mut();
                if q.is_empty() {
                    self.watchdog.borrow_mut().progress(Instant::now());
                }
                q.push_back(intended);
            }
            let mut expect = self.expect.get();
            expect.sent(size);
            self.expect.set(expect);
            w.write_all(self.connection.payload.message(seq))
                .await
                .map_err(io_kind(Step::Send))?;
            seq = seq.wrapping_add(1);
        }
    }

    /// Reads echoes, verifies them, and records each message's latency from
    /// its intended send time. Times out only while echo bytes are owed
    /// (the [`Watchdog`] rule).
    async fn receive<R: AsyncRead + Unpin>(&self, mut r: R) -> Result<Infallible, ErrorKind> {
        let mut pos = 0usize; // bytes of the oldest message in flight received so far
        loop {
            let read = poll_fn(|cx| {
                let mut buf = self.connection.read_buf.borrow_mut();
                let mut rb = ReadBuf::new(&mut buf[..]);
                match Pin::new(&mut r).poll_read(cx, &mut rb) {
                    Poll::Ready(Ok(())) if rb.filled().is_empty() => {
                        let expect = self.expect.get();
                        Poll::Ready(match expect.finish() {
                            Err(short) => Err(ErrorKind::from(&short)),
                            // Closed while nothing was owed.
                            Ok(()) => Err(ErrorKind::Reset),
                        })
                    }
                    Poll::Ready(Ok(())) => Poll::Ready(
                        self.take(rb.filled(), &mut pos)
                            .map_err(|e| ErrorKind::from(&e)),
                    ),
                    Poll::Ready(Err(e)) => Poll::Ready(Err(io_kind(Step::Receive)(e))),
                    Poll::Pending => {
                        let owed = !self.expect.get().is_complete();
                        self.watchdog
                            .borrow_mut()
                            .poll_expired(cx, owed)
                            .map(|()| Err(ErrorKind::Timeout))
                    }
                }
            });
            read.await?;
        }
    }

    /// Verifies one chunk of echo in place and records the messages it
    /// completes.
    fn take(&self, chunk: &[u8], pos: &mut usize) -> Result<(), EchoError> {
        let now = Instant::now();
        self.watchdog.borrow_mut().progress(now);
        let connection = self.connection;
        let size = connection.payload.size();
        let mut expect = self.expect.get();
        let before = expect.received();
        let verified = expect.take(chunk, &connection.payload);
        self.expect.set(expect);
        *pos += (expect.received() - before) as usize;
        while *pos >= size {
            *pos -= size;
            let intended = self.in_flight.borrow_mut().pop_front();
            let latency = now.saturating_duration_since(intended.expect("owed"));
            connection
                .recorder
                .borrow_mut()
                .record(latency, 1, size as u64, now);
            self.pipeline_freed.notify_one();
        }
        verified
    }
}

/// Reads the echo of the first `len` bytes of `payload`'s batch, checking
/// each chunk in place as it arrives; calls `completed(n, now)` whenever `n`
/// more whole messages have come back. Fails with [`EchoError::Timeout`]
/// when the watchdog expires first.
async fn read_echo<R: AsyncRead + Unpin>(
    r: &mut R,
    buf: &RefCell<Box<[u8]>>,
    payload: &Payload,
    len: usize,
    watchdog: &mut Watchdog,
    mut completed: impl FnMut(usize, Instant),
) -> Result<(), EchoError> {
    let size = payload.size();
    let mut expect = Expect::new(len as u64);
    let mut done = 0;
    while !expect.is_complete() {
        poll_fn(|cx| {
            let mut buf = buf.borrow_mut();
            let mut rb = ReadBuf::new(&mut buf[..]);
            match Pin::new(&mut *r).poll_read(cx, &mut rb) {
                Poll::Ready(Ok(())) => Poll::Ready(match rb.filled() {
                    [] => expect.finish(),
                    chunk => expect.take(chunk, payload),
                }),
                Poll::Ready(Err(e)) => Poll::Ready(Err(EchoError::io(Step::Receive)(e))),
                Poll::Pending => watchdog
                    .poll_expired(cx, true)
                    .map(|()| Err(expect.timed_out(watchdog.timeout().unwrap_or_default()))),
            }
        })
        .await?;
        let now = Instant::now();
        watchdog.progress(now);
        let whole = expect.received() as usize / size;
        if whole > done {
            completed(whole - done, now);
            done = whole;
        }
    }
    Ok(())
}

/// The kind an I/O error during `step` is counted under.
fn io_kind(step: Step) -> impl FnOnce(io::Error) -> ErrorKind {
    move |error| ErrorKind::from(&EchoError::Io { step, error })
}
