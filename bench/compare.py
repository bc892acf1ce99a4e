#!/usr/bin/env python3
"""ricochet against the peer echo servers: one command, one results table.

    python3 bench/compare.py                 # full run, ~15-20 minutes
    python3 bench/compare.py --quick         # smoke run, under 3 minutes
    python3 bench/compare.py --peers epoll_echo,echo_go --out /tmp/cmp
    python3 bench/compare.py --from-json bench/results/results.json --out /tmp/x
                                             # re-render reports, measure nothing

Installs and builds the peers (bench/install-peers.sh), builds ricochet
(release), starts every server pinned to one core, drives them all with
`ricochet bench` pinned to the other core, and writes results.md,
results.json and chart.svg to bench/results/ (or --out).

What runs, in order (each `ricochet bench` run measures every server in
interleaved rounds, A B C ... A B C ..., so drift on a shared machine hits
all servers alike):
  * closed loop, 10 connections, 1 KiB / 10 KiB / 100 KiB, TCP and Unix
    (vmbench's matrix);
  * one-shot connections per second (connect, send 1 KiB, read the echo,
    close: the tutorial's client), TCP and Unix;
  * open loop at a fixed rate, 1 KiB over TCP: half the slowest server's
    closed-loop 1 KiB TCP throughput, so every server can keep up;
  * server CPU per message: a sampler reads utime+stime of every server
    process (and its forked children) every 25 ms during each run; each
    round's measured window is cut out of those samples, so CPU is
    attributed per server and per round although the rounds interleave;
  * server RSS growth per idle connection at 10,000 connections
    (bench/idle_rss.py, a fresh server for each peer; fewer where the fd
    hard limit cannot hold them, e.g. echo_go needs 3 fds per connection;
    socat: PSS of all its processes at 1,000);
  * syscalls per message for ricochet, the C floor and uvloop (strace -c
    -f on the server during a 2 s run), if strace is installed.

Every figure is the median over rounds, and is also shown as the median
over rounds of its ratio to the best figure any server reached in the same
round (runs seconds apart, so drift mostly cancels). ricochet binary: a
private copy of target/release/ricochet, so a rebuild during the run does
not change it. Exit status: 0 done (a peer that failed a
workload is marked in the table), 1 a server echoed wrong bytes
(verification failed) or the harness could not run, 2 bad usage,
130 interrupted. Standard library only (Python 3.11).
"""

from __future__ import annotations

import argparse
import bisect
import dataclasses
import datetime
import json
import math
import os
import platform
import random
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from html import escape

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
DEFAULT_OUT = os.path.join(HERE, "results")
PEER_BIN = os.path.join(HERE, "peers", "bin")
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")
KIB = 1024
T0 = time.monotonic()


# --- what runs -------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class Profile:
    """Durations and repetitions for one kind of run."""
    rounds: int
    warmup: float          # seconds before each measured window
    duration: float        # closed-loop and one-shot measured seconds
    open_duration: float   # open-loop measured seconds (p99.9 needs samples)
    rss_connections: int
    socat_rss_connections: int


FULL = Profile(rounds=7, warmup=0.3, duration=1.0, open_duration=2.0,
               rss_connections=10_000, socat_rss_connections=1_000)
QUICK = Profile(rounds=2, warmup=0.2, duration=0.4, open_duration=0.8,
                rss_connections=2_000, socat_rss_connections=200)
CONNECTIONS = 10
SIZES = (1 * KIB, 10 * KIB, 100 * KIB)
OPEN_LOOP_FRACTION = 0.5
RICOCHET_SOFT_ERRORS = ("reset", "timeout", "connect", "other")


@dataclasses.dataclass(frozen=True)
class Peer:
    name: str
    label: str
    group: str              # "self", "floor", "runtime" (the 1.15x set), "other"
    forks: bool = False     # one process per connection (socat)
    env: tuple = ()
    fds_per_conn: int = 1   # echo_go: io.Copy splices through a pipe pair per connection

    def command(self, ricochet: str, transport: str, where) -> list[str]:
        if self.name == "ricochet":
            ep = f"tcp://{where[0]}:{where[1]}" if transport == "tcp" else f"unix:{where}"
            return [ricochet, "serve", "-q", "--threads", "1", ep]
        if self.name == "socat":  # bench/peers/README.md: -b 4096 is required
            if transport == "tcp":
                return ["socat", "-b", "4096",
                        f"TCP-LISTEN:{where[1]},bind={where[0]},fork,reuseaddr,backlog=4096,nodelay", "PIPE"]
            return ["socat", "-b", "4096", f"UNIX-LISTEN:{where},fork,unlink-early,backlog=4096", "PIPE"]
        binary = os.path.join(PEER_BIN, self.name)
        if transport == "tcp":
            return [binary, "tcp", where[0], str(where[1])]
        return [binary, "unix", where]


PEERS = {p.name: p for p in (
    Peer("ricochet", "ricochet", "self"),
    Peer("epoll_echo", "C epoll (floor)", "floor"),
    Peer("echo_go", "Go net", "runtime", env=(("GOMAXPROCS", "1"),), fds_per_conn=3),
    Peer("echo_node", "Node net", "runtime"),
    Peer("echo_uvloop_protocol", "uvloop protocol", "runtime"),
    Peer("echo_asyncio_uvloop", "asyncio+uvloop", "runtime"),
    Peer("echo_asyncio", "asyncio streams", "runtime"),
    Peer("tokio_echo", "tokio example", "other", env=(("TOKIO_WORKER_THREADS", "1"),)),
    Peer("socat", "socat", "other", forks=True),
)}

# Bar colours for the chart, one per peer, ricochet the strongest.
COLOURS = {
    "ricochet": "#c0392b", "epoll_echo": "#34495e", "echo_go": "#2e86c1",
    "echo_node": "#27ae60", "echo_uvloop_protocol": "#8e44ad",
    "echo_asyncio_uvloop": "#b07cc6", "echo_asyncio": "#d4ac0d",
    "tokio_echo": "#e67e22", "socat": "#95a5a6",
}


@dataclasses.dataclass
class Workload:
    id: str
    kind: str               # "closed", "one_shot", "open"
    transport: str          # "tcp", "unix"
    size: int = KIB
    rate: float | None = None

    @property
    def title(self) -> str:
        t = "TCP" if self.transport == "tcp" else "Unix"
        if self.kind == "closed":
            return f"{t} {self.size // KIB} KiB"
        if self.kind == "one_shot":
            return f"{t} one-shot"
        return f"{t} {self.size // KIB} KiB at {self.rate:,.0f}/s"

    @property
    def unit(self) -> str:
        return "connections" if self.kind == "one_shot" else "messages"


# --- small helpers ---------------------------------------------------------

class Fatal(Exception):
    """The harness cannot go on: printed as one line, exit status 1."""


def log(msg: str) -> None:
    el = int(time.monotonic() - T0)
    print(f"[{el // 60:02d}:{el % 60:02d}] {msg}", file=sys.stderr, flush=True)


def t975(df: int) -> float:
    table = (12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
             2.201, 2.179, 2.160, 2.145, 2.131, 2.120, 2.110, 2.101, 2.093, 2.086)
    return math.inf if df < 1 else table[df - 1] if df <= len(table) else 1.96 + 2.4 / df


def mean_ci(samples: list[float]) -> dict | None:
    """Mean with a 95% Student-t interval (None bounds with one sample)."""
    if not samples:
        return None
    m = statistics.fmean(samples)
    if len(samples) < 2:
        return {"mean": m, "ci_low": None, "ci_high": None, "n": 1}
    half = t975(len(samples) - 1) * statistics.stdev(samples) / math.sqrt(len(samples))
    return {"mean": m, "ci_low": m - half, "ci_high": m + half, "n": len(samples)}


def si(x: float | None, digits: int = 3) -> str:
    """45213 -> 45.2k; 1.5e6 -> 1.50M."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.{max(digits - len(str(int(x / div))), 0)}f}{suffix}"
    return f"{x:.{max(digits - len(str(int(x))), 0)}f}" if x else "0"


def us(ns: float | None) -> str:
    if ns is None:
        return "–"
    v = ns / 1e3
    return f"{v:.0f} µs" if v >= 100 else f"{v:.1f} µs" if v >= 10 else f"{v:.2f} µs"


def run_text(cmd: list[str], timeout: float = 20) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return (p.stdout or p.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e.__class__.__name__})"


def child_env(peer: Peer | None = None) -> dict:
    """The environment for every process we start: no RICOCHET_* settings
    leaking in from the caller's shell, no RUST_BACKTRACE (tokio_echo prints a
    backtrace per reset connection with it)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RICOCHET_") and k != "RUST_BACKTRACE"}
    if peer:
        env.update(dict(peer.env))
    return env


SERVER_NOFILE = 65536


def rss_connections(peer: Peer, wanted: int) -> int:
    """Idle connections the peer can hold under this box's fd limit (raising
    the hard limit needs CAP_SYS_RESOURCE, which a container may lack)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < SERVER_NOFILE:
        try:  # raising it here too is harmless
            resource.setrlimit(resource.RLIMIT_NOFILE, (soft, SERVER_NOFILE))
            hard = SERVER_NOFILE
        except (ValueError, OSError):
            pass
    if hard == resource.RLIM_INFINITY:
        return wanted
    fit = (hard - 256) // peer.fds_per_conn
    return wanted if fit >= wanted else max(fit // 1000 * 1000, 100)


def raise_nofile() -> None:
    """preexec_fn for servers: 10,000 idle connections need more than 1024
    fds, and echo_go needs three per connection (io.Copy splices through a
    pipe pair per connection), more than a 20,000 hard limit allows. Root
    may raise the hard limit; anyone may raise the soft one to it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:
        if hard != resource.RLIM_INFINITY and hard < SERVER_NOFILE:
            resource.setrlimit(resource.RLIMIT_NOFILE, (SERVER_NOFILE, SERVER_NOFILE))
            return
    except (ValueError, OSError):
        pass
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def kill_group(proc: subprocess.Popen, grace: float = 5.0) -> int | None:
    """SIGTERM the process group (socat's forked children too), SIGKILL after
    `grace` seconds. Returns the exit status."""
    if proc.poll() is None:
        try:
            os.killpg(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            pass
    try:  # leftovers in the group (children of a server that exited first)
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    try:
        return proc.wait(grace)
    except subprocess.TimeoutExpired:
        return None


# --- CPU accounting --------------------------------------------------------

def proc_ticks(pid: int) -> int:
    """utime+stime+cutime+cstime of one process, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15])


def proc_children(pid: int) -> list[int]:
    kids = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def group_ticks(pid: int, forks: bool) -> int:
    """CPU ticks of a server: the process (all its threads), plus, for a
    forking server, its live children; reaped children are already in the
    parent's cutime/cstime."""
    total = proc_ticks(pid)
    if forks:
        for kid in proc_children(pid):
            try:
                total += proc_ticks(kid)
            except OSError:
                pass  # exited between listing and reading
    return total


def core_busy_ticks(core: int) -> int:
    """user+nice+system ticks of one CPU, from /proc/stat."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                v = line.split()[1:]
                return int(v[0]) + int(v[1]) + int(v[2])
    raise ValueError(f"no cpu{core} in /proc/stat")


def system_busy_ticks() -> tuple[int, int]:
    """(user+nice+system, steal) over all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2], (v[7] if len(v) > 7 else 0)


class CpuSampler:
    """Samples the CPU ticks of some servers every `period` seconds on a
    thread, so each round's measured window can be cut out afterwards."""

    def __init__(self, servers: list["Server"], core: int | None, period: float = 0.025):
        self.servers = servers
        self.core = core  # the servers' CPU: how busy it was besides them
        self.period = period
        self.times: list[float] = []
        self.ticks: list[list[int | None]] = []
        self.core_ticks: list[int | None] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        row = []
        for s in self.servers:
            try:
                row.append(group_ticks(s.proc.pid, s.peer.forks))
            except (OSError, ValueError, IndexError):
                row.append(None)
        try:
            core = core_busy_ticks(self.core) if self.core is not None else None
        except (OSError, ValueError):
            core = None
        self.times.append(time.time())
        self.ticks.append(row)
        self.core_ticks.append([core])

    def _run(self):
        while not self._stop.wait(self.period):
            self._sample()

    def __enter__(self):
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self._sample()

    def at(self, i: int, t: float, series=None) -> float | None:
        """Server i's ticks (or another series) at wall time t, linearly
        interpolated."""
        series = self.ticks if series is None else series
        k = bisect.bisect_left(self.times, t)
        if k == 0 or k >= len(self.times):
            return None
        t0, t1 = self.times[k - 1], self.times[k]
        a, b = series[k - 1][i], series[k][i]
        if a is None or b is None:
            return None
        return a + (b - a) * (t - t0) / (t1 - t0) if t1 > t0 else float(a)

    def window_seconds(self, i: int, start: float, end: float) -> float | None:
        a, b = self.at(i, start), self.at(i, end)
        return None if a is None or b is None else (b - a) / CLK_TCK

    def others_on_core_seconds(self, i: int, start: float, end: float) -> float | None:
        """CPU seconds the servers' core spent on anything but server i in
        the window: someone else's work competing with it."""
        a, b = self.at(0, start, self.core_ticks), self.at(0, end, self.core_ticks)
        own = self.window_seconds(i, start, end)
        if a is None or b is None or own is None:
            return None
        return max(0.0, (b - a) / CLK_TCK - own)

    def whole_run_seconds(self, i: int) -> float | None:
        a, b = self.ticks[0][i], self.ticks[-1][i]
        return None if a is None or b is None else (b - a) / CLK_TCK

    def total_seconds(self) -> float:
        first, last = self.ticks[0], self.ticks[-1]
        return sum((b - a) for a, b in zip(first, last) if a is not None and b is not None) / CLK_TCK


# --- servers ---------------------------------------------------------------

class Server:
    """One peer listening on one transport, pinned to the server core."""

    used_ports: set[int] = set()

    def __init__(self, peer: Peer, transport: str, ctx: "Context"):
        self.peer, self.transport, self.ctx = peer, transport, ctx
        self.proc: subprocess.Popen | None = None
        self.failed: str | None = None      # why it cannot be used any more
        self.restarts = 0
        self.exit_status: int | None = None

    @staticmethod
    def free_port() -> int:
        # Below the ephemeral range (32768-60999): client ports in TIME_WAIT
        # there can make bind() fail even with SO_REUSEADDR.
        for _ in range(200):
            port = random.randint(20000, 32767)
            if port in Server.used_ports:
                continue
            with socket.socket() as s:
                try:
                    s.bind((HOST, port))
                except OSError:
                    continue
            Server.used_ports.add(port)
            return port
        raise Fatal("no free TCP port below 32768 on 127.0.0.1")

    def start(self, timeout: float = 20.0) -> None:
        tag = f"{self.peer.name}-{self.transport}-{self.restarts}-{random.randrange(1 << 30):x}"
        if self.transport == "tcp":
            self.port = self.free_port()
            self.where = (HOST, self.port)
            self.endpoint = f"tcp://{HOST}:{self.port}"
        else:
            self.where = os.path.join(self.ctx.tmp, f"{self.peer.name}.sock")
            self.endpoint = f"unix:{self.where}"
        self.out = os.path.join(self.ctx.tmp, tag + ".out")
        self.err = os.path.join(self.ctx.tmp, tag + ".err")
        cmd = self.ctx.server_pin + self.peer.command(self.ctx.ricochet, self.transport, self.where)
        self.cmdline = cmd
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         env=child_env(self.peer), cwd=ROOT,
                                         start_new_session=True, preexec_fn=raise_nofile)
        self.ctx.processes.append(self.proc)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise Fatal(f"{self.peer.name} ({self.transport}) exited with status "
                            f"{self.proc.returncode} before listening: {self.stderr_tail()}")
            if self.ready():
                return
            time.sleep(0.05)
        kill_group(self.proc)
        raise Fatal(f"{self.peer.name} ({self.transport}) was not listening after {timeout:.0f} s: "
                    f"{self.stderr_tail()}")

    def ready(self) -> bool:
        if self.peer.name == "socat":  # no "listening" line: poll with a connect
            fam = socket.AF_INET if self.transport == "tcp" else socket.AF_UNIX
            with socket.socket(fam, socket.SOCK_STREAM) as s:
                s.settimeout(0.5)
                try:
                    s.connect(self.where)
                    return True
                except OSError:
                    return False
        with open(self.out, "rb") as f:
            return any(line.startswith(b"listening") for line in f.read().splitlines())

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stderr_tail(self, lines: int = 3) -> str:
        try:
            with open(self.err, "rb") as f:
                tail = f.read().decode(errors="replace").strip().splitlines()[-lines:]
            return " | ".join(tail) or "(no stderr)"
        except OSError:
            return "(no stderr)"

    def ensure_running(self) -> bool:
        """Restarts a server that died (at most twice); False if it cannot run."""
        if self.failed:
            return False
        if self.alive():
            return True
        why = f"exited with status {self.proc.returncode if self.proc else '?'}: {self.stderr_tail()}"
        log(f"  ! {self.peer.name} ({self.transport}) {why}; restarting")
        self.ctx.notes.append(f"{self.peer.name} ({self.transport}) {why}; restarted")
        if self.restarts >= 2:
            self.failed = why
            return False
        self.restarts += 1
        try:
            self.start()
            return True
        except Fatal as e:
            self.failed = str(e)
            return False

    def stop(self) -> None:
        if self.proc is not None:
            self.exit_status = kill_group(self.proc)


# --- the run ---------------------------------------------------------------

class Context:
    def __init__(self, args):
        self.args = args
        self.profile = QUICK if args.quick else FULL
        self.tmp = tempfile.mkdtemp(prefix="ricochet-compare-")
        self.processes: list[subprocess.Popen] = []
        self.notes: list[str] = []
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) >= 2:
            self.server_cpu, self.client_cpu = cpus[0], cpus[1]
            self.server_pin = ["taskset", "-c", str(self.server_cpu)]
            self.client_pin = ["taskset", "-c", str(self.client_cpu)]
            self.pinning = (f"servers pinned to CPU {self.server_cpu}, load generator (and this "
                            f"script) to CPU {self.client_cpu} with taskset")
        else:
            self.server_cpu = self.client_cpu = None
            self.server_pin = self.client_pin = []
            self.pinning = "one CPU: no pinning, servers and load generator share it"
        self.ricochet = ""  # a snapshot of target/release/ricochet, set by build()

    def cleanup(self):
        for p in self.processes:
            kill_group(p, grace=3)
        shutil.rmtree(self.tmp, ignore_errors=True)


def setup(ctx: Context) -> None:
    log("installing and building the peers (bench/install-peers.sh)")
    p = subprocess.run(["bash", os.path.join(HERE, "install-peers.sh")], cwd=ROOT, timeout=1800)
    if p.returncode != 0:
        raise Fatal(f"bench/install-peers.sh failed with status {p.returncode}")
    log("building ricochet (cargo build --release)")
    p = subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, timeout=1800,
                       env=child_env())
    if p.returncode != 0:
        raise Fatal(f"cargo build --release failed with status {p.returncode}")
    # A private copy: another build replacing target/release/ricochet mid-run
    # must not change the binary between workloads.
    ctx.ricochet = os.path.join(ctx.tmp, "ricochet")
    shutil.copy2(os.path.join(ROOT, "target", "release", "ricochet"), ctx.ricochet)
    help_text = run_text([ctx.ricochet, "bench", "--help"])
    for flag in ("--one-shot", "--rate", "--rounds", "--json", "--threads"):
        if flag not in help_text:
            raise Fatal(f"`ricochet bench` has no {flag} option yet: this harness needs it")
    missing = [n for n in ctx.peers if n not in ("ricochet", "socat")
               and not os.access(os.path.join(PEER_BIN, n), os.X_OK)]
    if "socat" in ctx.peers and not shutil.which("socat"):
        missing.append("socat")
    if missing:
        raise Fatal(f"peers not built or not installed: {', '.join(missing)}")


def environment(ctx: Context) -> dict:
    cpu_model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    py = os.environ.get("PYTHON", "python3")
    commit = run_text(["git", "-C", ROOT, "rev-parse", "HEAD"])
    if re.fullmatch(r"[0-9a-f]{40}", commit):
        dirty = bool(run_text(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"]))
    else:  # an exported tree (git archive, tarball): no commit to name
        commit, dirty = "unknown (not a git checkout)", False
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "cpu_model": cpu_model,
        "memory_mib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20,
        "load_average_at_start": [float(x) for x in load],
        "python": run_text([py, "--version"]),
        "uvloop": run_text([py, "-c", "import uvloop; print(uvloop.__version__)"]),
        "go": run_text(["go", "version"]),
        "node": run_text(["node", "--version"]),
        "rustc": run_text(["rustc", "--version"]),
        "socat": next((l.strip() for l in run_text(["socat", "-V"]).splitlines()
                       if l.startswith("socat version")), "unknown"),
        "ricochet_commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "ricochet_version": run_text([ctx.ricochet, "--version"]),
        "pinning": ctx.pinning,
    }


class Runner:
    """Runs `ricochet bench` workloads against the started servers."""

    def __init__(self, ctx: Context, servers: dict[str, dict[str, Server]]):
        self.ctx, self.servers = ctx, servers

    def bench_cmd(self, wl: Workload, endpoints: list[str], rounds: int,
                  duration: float, warmup: float) -> list[str]:
        cmd = self.ctx.client_pin + [
            self.ctx.ricochet, "bench", *endpoints, "-c", str(CONNECTIONS), "-t", "1",
            "-s", str(wl.size), "-d", f"{duration * 1000:.0f}ms", "-w", f"{warmup * 1000:.0f}ms",
            "--rounds", str(rounds), "--json", "-q"]
        if wl.kind == "one_shot":
            cmd.append("--one-shot")
        if wl.kind == "open":
            cmd += ["--rate", f"{wl.rate:.0f}"]
        return cmd

    def invoke(self, cmd: list[str], budget: float, sampled: list[Server] | None = None):
        """Runs one `ricochet bench`; returns (status, report or None, stderr,
        sampler, foreign CPUs)."""
        usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self_0 = resource.getrusage(resource.RUSAGE_SELF)
        busy0, steal0 = system_busy_ticks()
        wall0 = time.monotonic()
        sampler = CpuSampler(sampled or [], self.ctx.server_cpu)
        with sampler:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, env=child_env(), cwd=ROOT,
                                    start_new_session=True)
            self.ctx.processes.append(proc)
            try:
                out, err = proc.communicate(timeout=budget)
            except subprocess.TimeoutExpired:
                kill_group(proc, grace=2)
                out, err = proc.communicate()
                return None, None, f"timed out after {budget:.0f} s", sampler, None
        wall = time.monotonic() - wall0
        busy1, steal1 = system_busy_ticks()
        usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self_1 = resource.getrusage(resource.RUSAGE_SELF)
        ours = (usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime
                + self_1.ru_utime + self_1.ru_stime - self_0.ru_utime - self_0.ru_stime
                + sampler.total_seconds())
        foreign = max(0.0, ((busy1 - busy0) + (steal1 - steal0)) / CLK_TCK - ours) / wall
        report = None
        try:
            report = json.loads(out) if out.strip() else None
        except json.JSONDecodeError:
            pass
        return proc.returncode, report, err.decode(errors="replace").strip(), sampler, foreign

    def run(self, wl: Workload) -> dict:
        """One workload against every usable server; peers that cannot run it
        are marked failed and the rest measured."""
        p = self.ctx.profile
        duration = p.open_duration if wl.kind == "open" else p.duration
        result = {"id": wl.id, "title": wl.title, "kind": wl.kind, "transport": wl.transport,
                  "size": wl.size, "rate": wl.rate, "unit": wl.unit, "rounds": p.rounds,
                  "duration_secs": duration, "warmup_secs": p.warmup,
                  "connections": CONNECTIONS, "targets": {}}
        candidates = []
        for name in self.ctx.peers:
            s = self.servers[name][wl.transport]
            if s.ensure_running():
                candidates.append(s)
            else:
                result["targets"][name] = {"status": "failed", "reason": s.failed}
        with open("/proc/loadavg") as f:
            result["load_average"] = float(f.read().split()[0])
        for attempt in range(2):
            if not candidates:
                break
            est = len(candidates) * p.rounds * (duration + p.warmup)
            log(f"{wl.title} ({wl.kind.replace('_', '-')}): {len(candidates)} servers × "
                f"{p.rounds} rounds, ~{est:.0f} s (load average {result['load_average']:.2f})")
            cmd = self.bench_cmd(wl, [s.endpoint for s in candidates], p.rounds, duration, p.warmup)
            status, report, err, sampler, foreign = self.invoke(cmd, est * 2 + 60, candidates)
            if report and report.get("verification_failed"):
                self.verification_failed(wl, candidates, report, err)
            if status == 0 and report:
                result["command"] = " ".join(cmd)
                result["foreign_cpus"] = foreign
                self.collect(result, wl, candidates, report, sampler)
                return result
            log(f"  ! ricochet bench failed (status {status}): {err.splitlines()[-1] if err else '?'}")
            candidates = self.drop_failing(wl, candidates, result)
        for s in candidates:
            result["targets"].setdefault(s.peer.name, {"status": "failed", "reason": "ricochet bench failed twice"})
        return result

    def verification_failed(self, wl, candidates, report, err):
        bad = []
        for s, t in zip(candidates, report["targets"]):
            e = t["total"]["errors"]
            if e["mismatch"] or e["short_echo"]:
                bad.append(f"{s.peer.name} ({e['mismatch']} mismatched echoes, {e['short_echo']} short echoes)")
        path = os.path.join(self.ctx.args.out, f"failed-{wl.id}.json")
        os.makedirs(self.ctx.args.out, exist_ok=True)
        with open(path, "w") as f:
            json.dump(report, f, indent=1)
        raise Fatal(f"verification failed in {wl.title} ({wl.kind}): {'; '.join(bad) or err}. "
                    f"The server sent back bytes that were not sent. Report: {path}")

    def drop_failing(self, wl: Workload, candidates: list[Server], result: dict) -> list[Server]:
        """After a failed run: which servers broke it? Dead ones, then each
        alone in a short run. Marks those failed in `result` and returns the
        servers still worth running."""
        keep = []
        for s in candidates:
            if not s.alive():
                reason = f"exited during the run (status {s.proc.returncode}): {s.stderr_tail()}"
            else:
                cmd = self.bench_cmd(wl, [s.endpoint], 1, 0.2, 0.0)
                status, report, e, _, _ = self.invoke(cmd, 60)
                if report and report.get("verification_failed"):
                    self.verification_failed(wl, [s], report, e)
                if status == 0:
                    keep.append(s)
                    continue
                reason = f"ricochet bench exit status {status}: {e.splitlines()[-1] if e else '?'}"
            log(f"  ! {s.peer.name}: {reason}")
            result["targets"][s.peer.name] = {"status": "failed", "reason": reason}
            s.ensure_running()  # a fresh process for the next workload
        return keep

    def collect(self, result, wl, candidates, report, sampler):
        started = report["started_unix_secs"]
        dur = report["config"]["duration_secs"]
        for i, (s, t) in enumerate(zip(candidates, report["targets"])):
            if t["endpoint"] != s.endpoint:
                raise Fatal(f"ricochet bench reported {t['endpoint']} where {s.endpoint} was expected")
            rounds = []
            for r in t["rounds"]:
                sm = r["summary"]
                ws = started + r["started_secs"]
                cpu = sampler.window_seconds(i, ws, ws + dur)
                others = sampler.others_on_core_seconds(i, ws, ws + dur)
                lat = sm["latency_ns"]
                rounds.append({
                    "per_sec": sm["messages_per_sec"], "count": sm["messages"],
                    "p50_ns": lat["p50"], "p99_ns": lat["p99"], "p99_9_ns": lat["p99_9"],
                    "max_ns": lat["max"], "cpu_secs": cpu, "others_on_core_secs": others,
                    "cpu_us_per_unit": cpu * 1e6 / sm["messages"] if cpu is not None and sm["messages"] else None,
                    "errors": sm["errors"],
                })
            errors = {k: sum(r["errors"][k] for r in rounds) for k in rounds[0]["errors"]} if rounds else {}
            entry = {"status": "ok", "endpoint": s.endpoint, "rounds": rounds, "errors": errors,
                     # all of this server's CPU during the run: warm-ups, windows,
                     # teardown, idle time; a check on the windowed figures
                     "cpu_secs_whole_run": sampler.whole_run_seconds(i)}
            for key in ("per_sec", "p50_ns", "p99_ns", "p99_9_ns", "cpu_us_per_unit"):
                vals = [r[key] for r in rounds if r[key] is not None]
                entry[key] = statistics.median(vals) if vals else None
            busy = [r["cpu_secs"] / dur for r in rounds if r["cpu_secs"] is not None]
            entry["server_busy"] = statistics.median(busy) if busy else None
            others = [r["others_on_core_secs"] / dur for r in rounds if r["others_on_core_secs"] is not None]
            entry["others_on_core"] = statistics.median(others) if others else None
            if wl.kind == "open" and entry["per_sec"] < 0.97 * wl.rate:
                entry["note"] = f"did not sustain the rate ({entry['per_sec']:,.0f}/s)"
            if any(errors.get(k) for k in RICOCHET_SOFT_ERRORS):
                entry["note"] = (entry.get("note", "") + " " + ", ".join(
                    f"{errors[k]} {k}" for k in RICOCHET_SOFT_ERRORS if errors.get(k)) + " errors").strip()
            result["targets"][s.peer.name] = entry
        add_ratios(result)
        ok = {n: t for n, t in result["targets"].items() if t["status"] == "ok"}
        line = ", ".join(f"{n} {si(t['per_sec'])}" for n, t in
                         sorted(ok.items(), key=lambda kv: -kv[1]["per_sec"]))
        log(f"  {wl.unit}/s: {line}; other load {result['foreign_cpus']:.2f} CPUs")


def paired(a: dict, b: dict, key: str) -> dict | None:
    """Per-round ratios a_r / b_r (rounds adjacent in time), mean ± 95% CI."""
    ratios = [x[key] / y[key] for x, y in zip(a["rounds"], b["rounds"])
              if x[key] is not None and y[key]]
    est = mean_ci(ratios)
    if est:
        est["median"] = statistics.median(ratios)
    return est


def add_ratios(result: dict) -> None:
    """Each figure as a ratio to the best server of the same run: per round,
    a server's figure over the best figure any server reached in that round
    (runs seconds apart, so drift on a shared machine mostly cancels); the
    median over rounds. The best server is the one whose median is nearest
    1 (ratios are at most 1 for throughput, at least 1 for costs)."""
    ok = {n: t for n, t in result["targets"].items() if t["status"] == "ok"}
    if not ok:
        return
    best_of = {}
    for key, higher in (("per_sec", True), ("p99_9_ns", False), ("p99_ns", False),
                        ("cpu_us_per_unit", False)):
        have = {n: t for n, t in ok.items() if t.get(key)}
        if not have:
            continue
        rounds = min(len(t["rounds"]) for t in have.values())
        tops = []
        for i in range(rounds):
            vals = [t["rounds"][i][key] for t in have.values() if t["rounds"][i][key]]
            tops.append((max if higher else min)(vals) if vals else None)
        for n, t in have.items():
            ratios = [t["rounds"][i][key] / tops[i] for i in range(rounds)
                      if t["rounds"][i][key] and tops[i]]
            t.setdefault("ratio_to_best", {})[key] = statistics.median(ratios) if ratios else None
        pick = {n: t["ratio_to_best"][key] for n, t in have.items() if t["ratio_to_best"][key]}
        best_of[key] = (max if higher else min)(pick, key=pick.get) if pick else None
    result["best"] = best_of


# --- workloads -------------------------------------------------------------

def idle_rss(ctx: Context, peer: Peer) -> dict:
    """RSS growth per idle connection, on a fresh server; one retry, since a
    load spike on a shared box can time out a connect."""
    first = idle_rss_once(ctx, peer)
    if first["status"] == "ok":
        return first
    log(f"  ! {peer.name}: {first['reason']}; retrying once in 5 s")
    time.sleep(5)
    second = idle_rss_once(ctx, peer)
    second["first_attempt"] = first["reason"]
    return second


def idle_rss_once(ctx: Context, peer: Peer) -> dict:
    """RSS growth per idle connection, on a fresh TCP server of this peer."""
    p = ctx.profile
    server = Server(peer, "tcp", ctx)
    server.start()
    try:
        if peer.forks:
            return socat_rss(ctx, server, p.socat_rss_connections)
        n = rss_connections(peer, p.rss_connections)
        cmd = ctx.client_pin + [sys.executable, os.path.join(HERE, "idle_rss.py"), "--pid",
                                str(server.proc.pid), "--tcp", HOST, str(server.port), "-n", str(n), "--json"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=child_env())
        if proc.returncode != 0 or not proc.stdout.strip():
            return {"status": "failed", "reason": (proc.stderr.strip().splitlines() or ["?"])[-1]
                    + ("" if server.alive() else f"; server: {server.stderr_tail()}")}
        d = json.loads(proc.stdout)
        return {"status": "ok", "connections": n, "bytes_per_conn": d["bytes_per_connection"],
                "rss_before_kib": d["rss_before_kib"], "rss_after_kib": d["rss_after_kib"],
                "method": "VmRSS growth of the server process (bench/idle_rss.py)" + (
                    "" if n == p.rss_connections else
                    f"; only {n:,} connections: it needs {peer.fds_per_conn} fds per connection "
                    f"and the fd hard limit here is {resource.getrlimit(resource.RLIMIT_NOFILE)[1]:,}"),
                "idle_rss_py": d}
    except subprocess.TimeoutExpired:
        return {"status": "failed", "reason": "bench/idle_rss.py timed out after 300 s"}
    finally:
        server.stop()


def group_pss_kib(pid: int) -> int:
    total = 0
    for p in [pid] + proc_children(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next(int(l.split()[1]) for l in f if l.startswith("Pss:"))
        except (OSError, StopIteration):
            pass
    return total


def socat_rss(ctx: Context, server: Server, n: int) -> dict:
    """socat forks a process per connection: the parent's RSS says nothing.
    Sum the proportional set size (shared pages split between sharers) of
    socat and all its children, at fewer connections (pid_max is small)."""
    time.sleep(0.2)
    before = group_pss_kib(server.proc.pid)
    socks = []
    try:
        for i in range(n):
            s = socket.create_connection(server.where, timeout=10)
            s.settimeout(10)
            s.sendall(b"x\n")
            if s.recv(16) != b"x\n":
                return {"status": "failed", "reason": f"connection {i}: bad echo"}
            socks.append(s)
        time.sleep(0.5)
        after = group_pss_kib(server.proc.pid)
    except OSError as e:
        return {"status": "failed", "reason": f"after {len(socks)} connections: {e}"}
    finally:
        for s in socks:
            s.close()
    return {"status": "ok", "connections": n, "bytes_per_conn": round((after - before) * KIB / n),
            "rss_before_kib": before, "rss_after_kib": after,
            "method": f"PSS growth of socat and its {n} children (one process per connection)"}


STRACE_SCENARIOS = (  # (title, message size, one-shot)
    ("TCP 1 KiB closed loop", KIB, False),
    ("TCP 100 KiB closed loop", 100 * KIB, False),
    ("TCP one-shot", KIB, True),
)
STRACE_PEERS = ("ricochet", "epoll_echo", "echo_uvloop_protocol")


def strace_counts(ctx: Context, server: Server, size: int, one_shot: bool,
                  seconds: float = 2.0) -> dict:
    """Syscalls per echoed message (or per connection, one-shot): strace -c
    -f on the server while a run drives it alone. strace slows the server,
    so only the counts per message mean anything, not the rate."""
    out = os.path.join(ctx.tmp, f"strace-{server.peer.name}-{size}-{one_shot}.txt")
    st = subprocess.Popen(["strace", "-c", "-f", "-o", out, "-p", str(server.proc.pid)],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    ctx.processes.append(st)
    try:
        time.sleep(0.7)  # attach to every thread
        cmd = ctx.client_pin + [ctx.ricochet, "bench", server.endpoint, "-c", str(CONNECTIONS), "-t", "1",
                                "-s", str(size), "-d", f"{seconds * 1000:.0f}ms", "-w", "0ms", "--json", "-q"]
        if one_shot:
            cmd.append("--one-shot")
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=child_env())
    finally:
        if st.poll() is None:
            os.killpg(st.pid, signal.SIGINT)
        try:
            st.wait(10)
        except subprocess.TimeoutExpired:
            kill_group(st)
    if p.returncode != 0:
        return {"status": "failed", "reason": p.stderr.strip()[-200:]}
    messages = json.loads(p.stdout)["targets"][0]["total"]["messages"]
    calls = {}
    try:
        with open(out) as f:
            for line in f:
                parts = line.split()
                # % time  seconds  usecs/call  calls  [errors]  syscall
                if len(parts) >= 5 and parts[0][0].isdigit() and parts[-1] != "total":
                    n = int(parts[3])
                    calls[parts[-1]] = calls.get(parts[-1], 0) + n
    except OSError as e:
        return {"status": "failed", "reason": f"no strace output: {e}"}
    total = sum(calls.values())
    return {"status": "ok", "messages": messages, "total_calls": total,
            "calls_per_message": total / messages if messages else None,
            "per_message": {k: v / messages for k, v in sorted(calls.items(), key=lambda kv: -kv[1])} if messages else {},
            "calls": calls}


# --- targets (the checklist) ---------------------------------------

def checks(results: dict) -> list[dict]:
    """The issue's targets, each met (True), missed (False) or not measured
    (None). A ratio is the median over rounds of ricochet's figure divided
    by the other server's in the same round (runs adjacent in time)."""
    wls = {w["id"]: w for w in results["workloads"]}
    out = []

    def ric(w):
        t = w["targets"].get("ricochet") if w else None
        return t if t and t["status"] == "ok" else None

    def versus(name, r, other, key, threshold, higher, label=""):
        """ricochet's `key` against `other`'s, checked against `threshold`."""
        est = paired(r, other, key)
        plain = r[key] / other[key]
        ratio = est["median"] if est else plain
        met = ratio >= threshold if higher else ratio <= threshold
        text = f"ratio of medians {plain:.2f}"
        if est and est["ci_low"] is not None:
            text += (f"; per-round ratios mean {est['mean']:.2f}, 95% CI "
                     f"{est['ci_low']:.2f}–{est['ci_high']:.2f}")
            if est["ci_low"] <= threshold <= est["ci_high"]:
                text += f" (contains {threshold}: within noise)"
        out.append({"target": name, "met": met, "measured": f"{ratio:.2f}×{label}",
                    "detail": text, "ratio": ratio, "paired_ratio": est})

    def missing(name):
        out.append({"target": name, "met": None, "measured": "not measured", "detail": ""})

    for transport in ("tcp", "unix"):
        for size in SIZES:
            w = wls.get(f"closed-{transport}-{size}")
            if not w:
                continue
            r = ric(w)
            rivals = {n: t for n, t in w["targets"].items()
                      if t["status"] == "ok" and PEERS[n].group == "runtime"}
            name = f"throughput {w['title']} ≥ 1.15× best of Go/uvloop/Node/asyncio"
            if r and rivals:
                best = max(rivals, key=lambda n: rivals[n]["per_sec"])
                versus(name, r, rivals[best], "per_sec", 1.15, True, f" {PEERS[best].label}")
                floor = w["targets"].get("epoll_echo")
                est = paired(floor, rivals[best], "per_sec") if floor and floor["status"] == "ok" else None
                if est:  # what the kernel leaves room for
                    out[-1]["detail"] += f"; the C floor itself is {est['median']:.2f}× {PEERS[best].label}"
            else:
                missing(name)
            floor = w["targets"].get("epoll_echo")
            name = f"throughput {w['title']} ≥ 0.95× C epoll floor"
            if r and floor and floor["status"] == "ok":
                versus(name, r, floor, "per_sec", 0.95, True)
            else:
                missing(name)

    w = wls.get(f"closed-tcp-{KIB}")
    r, floor = ric(w), (w["targets"].get("epoll_echo") if w else None)
    name = "server CPU per message, TCP 1 KiB closed loop ≤ 1.05× C epoll floor"
    if r and floor and floor["status"] == "ok" and r["cpu_us_per_unit"] and floor["cpu_us_per_unit"]:
        versus(name, r, floor, "cpu_us_per_unit", 1.05, False,
               f" ({r['cpu_us_per_unit']:.2f} vs {floor['cpu_us_per_unit']:.2f} µs)")
    else:
        missing(name)

    for transport in ("tcp", "unix"):
        w = wls.get(f"one_shot-{transport}")
        r = ric(w)
        name = f"one-shot connections/s, {'TCP' if transport == 'tcp' else 'Unix'} ≥ 1.1× best peer"
        others = {n: t for n, t in (w["targets"].items() if w else []) if n != "ricochet" and t["status"] == "ok"}
        if r and others:
            best = max(others, key=lambda n: others[n]["per_sec"])
            versus(name, r, others[best], "per_sec", 1.1, True, f" {PEERS[best].label}")
        else:
            missing(name)

    rss = results.get("idle_rss", {})
    r = rss.get("ricochet")
    name = f"memory ≤ 1 KiB RSS per idle connection at {results['profile']['rss_connections']:,} connections"
    if r and r["status"] == "ok":
        out.append({"target": name, "met": r["bytes_per_conn"] <= KIB,
                    "measured": f"{r['bytes_per_conn']} bytes/connection", "detail": ""})
    else:
        missing(name)

    w = next((w for w in results["workloads"] if w["kind"] == "open"), None)
    r = ric(w)
    others = {n: t for n, t in (w["targets"].items() if w else []) if n != "ricochet" and t["status"] == "ok"}
    name = "open-loop p99.9 latency lowest of all peers" + (f" ({w['title']})" if w else "")
    if r and others:
        best = min(others, key=lambda n: others[n]["p99_9_ns"])
        versus(name, r, others[best], "p99_9_ns", 1.0, False,
               f" {PEERS[best].label} ({us(r['p99_9_ns'])} vs {us(others[best]['p99_9_ns'])})")
        out[-1]["met"] = out[-1]["ratio"] < 1.0  # strictly lowest
    else:
        missing(name)
    return out


# --- reports ---------------------------------------------------------------

def cell(t: dict | None, key: str, fmt, best: str | None, name: str) -> str:
    if not t:
        return "–"
    if t["status"] != "ok":
        return "failed†"
    v = t.get(key)
    if v is None:
        return "–"
    ratio = t.get("ratio_to_best", {}).get(key)
    mark = " ⚠" if t.get("note") else ""
    r = f"**{ratio:.2f}**" if best == name else f"{ratio:.2f}"
    return f"{r} · {fmt(v)}{mark}" if ratio is not None else fmt(v) + mark


def markdown(results: dict) -> str:
    env, prof = results["environment"], results["profile"]
    peers = results["peers"]
    L = []
    L.append("# ricochet vs peer echo servers\n")
    L.append(f"Generated by `python3 bench/compare.py{' --quick' if prof['quick'] else ''}` on "
             f"{env['date']}. Every cell is **ratio to the best server in the same run** · raw "
             f"median over {prof['rounds']} interleaved rounds. A ratio is the median over rounds "
             f"of the server's figure divided by the best figure any server reached in that same "
             f"round (runs seconds apart, so drift on this shared machine mostly cancels); the "
             f"best server, in bold, is the one whose ratio is nearest 1. ⚠ = errors or an "
             f"unsustained rate (notes below); † = failed (notes below).\n")
    L.append("| | |\n|---|---|")
    for k, label in (("cpu_model", "CPU"), ("nproc", "cores"), ("kernel", "kernel"),
                     ("memory_mib", "memory (MiB)"), ("load_average_at_start", "load average at start"),
                     ("ricochet_commit", "ricochet commit"), ("ricochet_version", "ricochet"),
                     ("rustc", "rustc"), ("python", "python"), ("uvloop", "uvloop"), ("go", "go"),
                     ("node", "node"), ("socat", "socat"), ("pinning", "pinning")):
        v = env[k]
        L.append(f"| {label} | {' '.join(map(str, v)) if isinstance(v, list) else v} |")
    L.append(f"| load generator | `ricochet bench -t 1 -c {CONNECTIONS}`, {prof['warmup']} s warm-up + "
             f"{prof['duration']} s measured per server and round ({prof['open_duration']} s open loop) |")
    L.append("")

    L.append("## Targets\n")
    L.append("Each ratio is the median over rounds of ricochet's figure divided by the other "
             "server's in the same round. The ratio of the plain medians and the 95% interval of "
             "the per-round ratios show how far this shared machine's noise lets a verdict be "
             "trusted.\n")
    L.append("| target | measured | met | |\n|---|---|:-:|---|")
    for c in results["checks"]:
        mark = "✓" if c["met"] else "✗" if c["met"] is False else "–"
        L.append(f"| {c['target']} | {c['measured']} | {mark} | {c['detail']} |")
    L.append("")

    def table(title, intro, wls, key, fmt):
        if not wls:
            return
        L.append(f"## {title}\n")
        if intro:
            L.append(intro + "\n")
        L.append("| server | " + " | ".join(w["title"] for w in wls) + " |")
        L.append("|---|" + "---:|" * len(wls))
        for name in peers:
            L.append(f"| {PEERS[name].label} | " + " | ".join(
                cell(w["targets"].get(name), key, fmt, w.get("best", {}).get(key), name) for w in wls) + " |")
        L.append("")

    closed = [w for w in results["workloads"] if w["kind"] == "closed"]
    oneshot = [w for w in results["workloads"] if w["kind"] == "one_shot"]
    openl = [w for w in results["workloads"] if w["kind"] == "open"]
    table("Throughput: closed loop, messages/s",
          f"{CONNECTIONS} connections, each sends one message and waits for its echo (vmbench). "
          "Higher is better.", closed, "per_sec", lambda v: f"{si(v)}/s")
    table("One-shot connections/s",
          "Connect, send 1 KiB, read the echo, close, over and over in "
          f"{CONNECTIONS} slots (the tutorial's client, no delay). TCP connections come from "
          "127.0.0.2-127.0.0.65 (ricochet bench's default) so client ports do not run out.",
          oneshot, "per_sec", lambda v: f"{si(v)}/s")
    for w in openl:
        L.append(f"## Latency at a fixed rate: {w['title']}\n")
        L.append(f"Open loop, {w['rate']:,.0f} messages/s over {CONNECTIONS} connections: "
                 f"{OPEN_LOOP_FRACTION:.0%} of the slowest server's closed-loop TCP 1 KiB throughput "
                 f"({results.get('open_loop_basis', '')}). Latency from each message's intended send "
                 "time. Lower is better; ratios to the lowest.\n")
        floor_note = generator_floor(results, w)
        if floor_note:
            L.append(floor_note + "\n")
        L.append("| server | achieved/s | p50 | p99 | p99.9 | max (median of rounds) |\n|---|---:|---:|---:|---:|---:|")
        for name in peers:
            t = w["targets"].get(name)
            if not t:
                continue
            if t["status"] != "ok":
                L.append(f"| {PEERS[name].label} | failed† | | | | |")
                continue
            mx = statistics.median(r["max_ns"] for r in t["rounds"])
            L.append(f"| {PEERS[name].label} | {si(t['per_sec'])}{' ⚠' if t.get('note') else ''} | {us(t['p50_ns'])} | "
                     f"{cell(t, 'p99_ns', us, w['best'].get('p99_ns'), name)} | "
                     f"{cell(t, 'p99_9_ns', us, w['best'].get('p99_9_ns'), name)} | {us(mx)} |")
        L.append("")
    table("Server CPU per message (µs of user+system CPU)",
          "Sampled from /proc/PID/stat (utime+stime of the server and, for socat, its children) every "
          "25 ms; each round's measured window is cut out of the samples, so CPU is attributed per "
          "server and per round inside the interleaved runs. One-shot: CPU per connection. Lower is "
          "better; ratios to the lowest. Softirq time for loopback packets accounted outside any "
          "process is not included (the same for every server).",
          closed + oneshot + openl, "cpu_us_per_unit", lambda v: f"{v:.2f}")
    wls = closed + oneshot + openl
    L.append("## Server core utilisation\n")
    L.append("The server's CPU seconds per second of measured window, in % of its core (median of "
             "rounds; socat's children can add up to more). Well under 100%: the server was "
             "idle part of the time, because the load generator's single core, the round trip, "
             "or someone else's process on the server core (see Noise) set the pace; throughput "
             "ratios between the fastest servers then say less than CPU per message.\n")
    L.append("| server | " + " | ".join(w["title"] for w in wls) + " |")
    L.append("|---|" + "---:|" * len(wls))
    for name in peers:
        row = []
        for w in wls:
            t = w["targets"].get(name)
            b = t.get("server_busy") if t and t["status"] == "ok" else None
            row.append("–" if b is None else f"{b:.0%}")
        L.append(f"| {PEERS[name].label} | " + " | ".join(row) + " |")
    L.append("")
    rss = results.get("idle_rss")
    if rss:
        L.append(f"## Memory per idle connection\n")
        L.append(f"RSS growth of a fresh server after {prof['rss_connections']:,} TCP connections "
                 "each exchanged one message and went idle (bench/idle_rss.py). Lower is better.\n")
        L.append("| server | bytes per connection | ratio to lowest | RSS before → after (KiB) |\n|---|---:|---:|---|")
        ok = {n: r for n, r in rss.items() if r["status"] == "ok"}
        low = min((max(r["bytes_per_conn"], 1) for r in ok.values()), default=None)
        for name in peers:
            r = rss.get(name)
            if not r:
                continue
            if r["status"] != "ok":
                L.append(f"| {PEERS[name].label} | failed† | | |")
                continue
            ratio = f"{max(r['bytes_per_conn'], 1) / low:.2f}"
            extra = (f" ({r['connections']:,} connections; {r['method']})"
                     if r["connections"] != prof["rss_connections"] else "")
            L.append(f"| {PEERS[name].label} | {r['bytes_per_conn']:,}{extra} | {ratio} | "
                     f"{r['rss_before_kib']:,} → {r['rss_after_kib']:,} |")
        L.append("")
    sc = results.get("syscalls")
    if sc:
        L.append("## Syscalls per message\n")
        L.append("`strace -c -f -p PID` on one server while a 2 s `ricochet bench` run (10 connections, "
                 "no warm-up) drives it alone; calls divided by the messages (one-shot: connections) "
                 "completed. strace slows the server several-fold, so the rates are meaningless, "
                 "and a slowed server finds more work per wake-up (fewer epoll_wait per message) "
                 "than at full speed. Rows under 0.005 per message are left out.\n")
    for title, per in (sc or {}).items():
        names = [n for n in per if per[n]["status"] == "ok"]
        failed = [f"{n}: {per[n]['reason']}" for n in per if per[n]["status"] != "ok"]
        L.append(f"### {title}\n")
        if failed:
            L.append("Failed: " + "; ".join(failed) + "\n")
        if not names:
            continue
        sc_ = per
        calls = sorted({c for n in names for c in sc_[n]["calls"]},
                       key=lambda c: (-max(sc_[n]["per_message"].get(c, 0) for n in names), c))
        L.append("| syscall | " + " | ".join(PEERS[n].label for n in names) + " |")
        L.append("|---|" + "---:|" * len(names))
        L.append("| **total per message** | " + " | ".join(f"**{sc_[n]['calls_per_message']:.2f}**" for n in names) + " |")
        for c in calls:
            if max(sc_[n]["per_message"].get(c, 0) for n in names) < 0.005:
                continue
            L.append(f"| {c} | " + " | ".join(f"{sc_[n]['per_message'].get(c, 0):.3f}" for n in names) + " |")
        L.append("| messages traced | " + " | ".join(f"{sc_[n]['messages']:,}" for n in names) + " |\n")
    L.append("## Noise\n")
    L.append("Load average when each workload started; CPU used by processes other than the "
             "servers, the load generator and this script during it (from /proc/stat, in CPUs; the "
             "box has 2); and, per measured window, the share of the server core spent on anything "
             "but the server being measured (/proc/stat cpu0 user+nice+system minus the "
             "server's CPU; median and worst over all servers and rounds). A high worst value "
             "means some rounds ran against a competitor on the server core.\n")
    L.append("| workload | load average | other load (CPUs) | others on server core, median | worst |\n"
             "|---|---:|---:|---:|---:|")
    for w in results["workloads"]:
        fc = w.get("foreign_cpus")
        waits = [r["others_on_core_secs"] / w["duration_secs"] for t in w["targets"].values()
                 if t["status"] == "ok" for r in t["rounds"] if r.get("others_on_core_secs") is not None]
        med = f"{statistics.median(waits):.0%}" if waits else "–"
        worst = f"{max(waits):.0%}" if waits else "–"
        L.append(f"| {w['title']} ({w['kind'].replace('_', '-')}) | {w.get('load_average', 0):.2f} | "
                 f"{'–' if fc is None else f'{fc:.2f}'} | {med} | {worst} |")
    L.append("")
    notes = list(results.get("notes", []))
    for w in results["workloads"]:
        for n, t in w["targets"].items():
            if t["status"] != "ok":
                notes.append(f"† {w['title']} ({w['kind']}): {n} failed: {t.get('reason')}")
            elif t.get("note"):
                notes.append(f"⚠ {w['title']} ({w['kind']}): {n}: {t['note']}")
    for n, r in (rss or {}).items():
        if r["status"] != "ok":
            notes.append(f"† idle RSS: {n} failed: {r['reason']}")
    L.append("## Notes\n")
    L.append("- Servers: " + "; ".join(f"{PEERS[n].label}: `{results['commands'].get(n, '')}`" for n in peers) + ".")
    L.append("- " + results["cpu_method"])
    L.extend(f"- {n}" for n in notes)
    L.append("")
    return "\n".join(L)


def generator_floor(results: dict, open_wl: dict) -> str:
    """What the open loop's latency floor is, from the C floor's open-loop
    and closed-loop medians, so readers can tell server from generator."""
    closed = next((w for w in results["workloads"] if w["id"] == f"closed-tcp-{KIB}"), None)
    c = closed and closed["targets"].get("epoll_echo")
    o = open_wl["targets"].get("epoll_echo")
    if not (c and o and c["status"] == o["status"] == "ok"):
        return ""
    return (f"`ricochet bench --rate` sleeps on tokio's 1 ms timer until just before each "
            f"intended send time and yields until the instant itself, so sends leave within "
            f"microseconds of their schedule and the generator's lateness is not billed to the "
            f"server: the C floor's median is {us(o['p50_ns'])} here against "
            f"{us(c['p50_ns'])} in the closed loop at full speed. The tails (p99, p99.9) are "
            f"mostly this shared machine's scheduling noise; read them with the per-round "
            f"interval in the targets table.")


def chart(results: dict) -> str:
    """Grouped bars, one group per figure, one bar per server, each relative
    to the best server of that figure (1.0 = best)."""
    peers = results["peers"]
    groups = []   # (label line 1, line 2, {peer: (ratio, raw text)})
    for w in results["workloads"]:
        if w["kind"] in ("closed", "one_shot"):
            vals = {n: (t["ratio_to_best"]["per_sec"], f"{si(t['per_sec'])} {w['unit']}/s")
                    for n, t in w["targets"].items() if t["status"] == "ok" and "ratio_to_best" in t}
            t, rest = w["title"].split(" ", 1)
            groups.append((t, rest, vals, "hi"))
    for w in results["workloads"]:
        if w["kind"] == "closed" and w["transport"] == "tcp" and w["size"] == KIB:
            vals = {n: (1 / t["ratio_to_best"]["cpu_us_per_unit"], f"{t['cpu_us_per_unit']:.2f} µs CPU/msg")
                    for n, t in w["targets"].items()
                    if t["status"] == "ok" and t.get("ratio_to_best", {}).get("cpu_us_per_unit")}
            groups.append(("CPU/msg", "TCP 1 KiB", vals, "lo"))
        if w["kind"] == "open":
            vals = {n: (1 / t["ratio_to_best"]["p99_9_ns"], f"p99.9 {us(t['p99_9_ns'])}")
                    for n, t in w["targets"].items()
                    if t["status"] == "ok" and t.get("ratio_to_best", {}).get("p99_9_ns")}
            groups.append(("p99.9", f"at {si(w['rate'])}/s", vals, "lo"))
    rss = {n: r for n, r in results.get("idle_rss", {}).items() if r["status"] == "ok"}
    if rss:
        low = min(max(r["bytes_per_conn"], 1) for r in rss.values())
        groups.append(("idle memory", "per connection", {
            n: (low / max(r["bytes_per_conn"], 1),
                f"{r['bytes_per_conn']:,} B/connection" + (" (PSS, all processes)" if PEERS[n].forks else ""))
            for n, r in rss.items()}, "lo"))
    bar, gap = 11, 22
    left, top, plot_h = 60, 100, 300
    gw = len(peers) * bar + gap
    width = left + len(groups) * gw + 20
    height = top + plot_h + 70
    y = lambda v: top + plot_h * (1 - min(v, 1.0))
    S = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
         f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
         f'<rect width="{width}" height="{height}" fill="white"/>',
         f'<text x="{left}" y="22" font-size="16" font-weight="bold">ricochet vs peer echo servers: '
         f'each figure relative to the best server in the same round (1.0 = best in every round)</text>',
         f'<text x="{left}" y="40" fill="#555">{escape(results["environment"]["date"])} · '
         f'{escape(results["environment"]["cpu_model"])}, {results["environment"]["nproc"]} cores · '
         f'median of {results["profile"]["rounds"]} rounds of per-round ratios · left: throughput (value ÷ best); '
         f'right: CPU, latency, memory (best ÷ value) · × = failed · red figures: ricochet</text>']
    lx = left
    for n in peers:
        S.append(f'<rect x="{lx:.0f}" y="52" width="12" height="12" fill="{COLOURS[n]}"/>'
                 f'<text x="{lx + 16:.0f}" y="62">{escape(PEERS[n].label)}</text>')
        lx += 30 + 6.6 * len(PEERS[n].label)
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        S.append(f'<line x1="{left - 4}" x2="{width - 20}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                 f'stroke="{"#999" if v in (0, 1) else "#ddd"}"/>'
                 f'<text x="{left - 8}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.2f}</text>')
    for gi, (l1, l2, vals, kind) in enumerate(groups):
        x0 = left + gi * gw + gap / 2
        if gi and kind == "lo" and groups[gi - 1][3] == "hi":
            sx = x0 - gap / 2
            S.append(f'<line x1="{sx}" x2="{sx}" y1="{top - 6}" y2="{top + plot_h + 40}" stroke="#333" stroke-dasharray="4 3"/>')
        for pi, n in enumerate(peers):
            bx = x0 + pi * bar
            if n in vals:
                ratio, raw = vals[n]
                S.append(f'<rect x="{bx:.1f}" y="{y(ratio):.1f}" width="{bar - 2}" '
                         f'height="{top + plot_h - y(ratio):.1f}" fill="{COLOURS[n]}">'
                         f'<title>{escape(PEERS[n].label)}: {ratio:.2f} ({escape(raw)})</title></rect>')
            else:
                S.append(f'<text x="{bx + (bar - 2) / 2:.1f}" y="{top + plot_h - 3}" text-anchor="middle" '
                         f'fill="#c00" font-size="10">×</text>')
        cx = x0 + len(peers) * bar / 2
        S.append(f'<text x="{cx:.1f}" y="{top + plot_h + 18}" text-anchor="middle" font-weight="bold">{escape(l1)}</text>'
                 f'<text x="{cx:.1f}" y="{top + plot_h + 33}" text-anchor="middle">{escape(l2)}</text>')
        if "ricochet" in vals:  # ricochet's ratio above each group
            S.append(f'<text x="{cx:.1f}" y="{top - 8}" text-anchor="middle" font-size="11" '
                     f'font-weight="bold" fill="{COLOURS["ricochet"]}">{vals["ricochet"][0]:.2f}</text>')
    S.append("</svg>\n")
    return "\n".join(S)


# --- main ------------------------------------------------------------------

def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Benchmark ricochet against the peer echo servers in bench/peers/ and write "
                    "results.md, results.json and chart.svg.",
        epilog="Peers: " + ", ".join(PEERS) + " (ricochet is always included).")
    ap.add_argument("--quick", action="store_true", help="short rounds for a smoke run (< 3 minutes)")
    ap.add_argument("--peers", help="comma-separated peers to run (default: all)")
    ap.add_argument("--out", default=DEFAULT_OUT,
                    help="output directory (default: bench/results)")
    ap.add_argument("--no-strace", action="store_true", help="skip the strace syscall count")
    ap.add_argument("--from-json", metavar="FILE",
                    help="measure nothing: rewrite the reports in --out from an earlier results.json")
    a = ap.parse_args(argv)
    if a.peers:
        names = [n.strip() for n in a.peers.split(",") if n.strip()]
        unknown = [n for n in names if n not in PEERS]
        if unknown:
            ap.error(f"unknown peer(s) {', '.join(unknown)}; known: {', '.join(PEERS)}")
        a.peer_list = ["ricochet"] + [n for n in PEERS if n in names and n != "ricochet"]
    else:
        a.peer_list = list(PEERS)
    a.out = os.path.abspath(a.out)
    return a


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.from_json:
        with open(args.from_json) as f:
            results = uncolumnar(json.load(f))
        render(results, args.out)
        log(f"rewrote results.md, results.json, chart.svg in {args.out} from {args.from_json}")
        return 0
    ctx = Context(args)
    ctx.peers = args.peer_list

    def on_term(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")
    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGHUP, on_term)
    try:
        return run(ctx)
    except Fatal as e:
        print(f"compare.py: error: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("compare.py: interrupted; stopping every server", file=sys.stderr)
        return 130
    finally:
        ctx.cleanup()


def run(ctx: Context) -> int:
    args, p = ctx.args, ctx.profile
    setup(ctx)
    env = environment(ctx)
    if ctx.client_cpu is not None:
        os.sched_setaffinity(0, {ctx.client_cpu})  # keep this script off the server core
    log(f"{len(ctx.peers)} servers: {', '.join(ctx.peers)}; {ctx.pinning}; "
        f"load average {' '.join(map(str, env['load_average_at_start']))}")

    servers: dict[str, dict[str, Server]] = {}
    for name in ctx.peers:
        servers[name] = {}
        for transport in ("tcp", "unix"):
            s = Server(PEERS[name], transport, ctx)
            s.start()
            servers[name][transport] = s
    log("all servers listening")
    runner = Runner(ctx, servers)

    workloads = []
    for transport in ("tcp", "unix"):
        for size in SIZES:
            workloads.append(runner.run(Workload(f"closed-{transport}-{size}", "closed", transport, size)))
    for transport in ("tcp", "unix"):
        workloads.append(runner.run(Workload(f"one_shot-{transport}", "one_shot", transport)))

    base = workloads[0]
    ok = {n: t for n, t in base["targets"].items() if t["status"] == "ok"}
    open_basis = ""
    if ok:
        slowest = min(ok, key=lambda n: ok[n]["per_sec"])
        rate = float(f"{OPEN_LOOP_FRACTION * ok[slowest]['per_sec']:.2g}")
        open_basis = f"{PEERS[slowest].label}: {ok[slowest]['per_sec']:,.0f}/s"
        log(f"open-loop rate {rate:,.0f}/s = {OPEN_LOOP_FRACTION:.0%} of the slowest, {open_basis}")
        workloads.append(runner.run(Workload("open-tcp-1024", "open", "tcp", KIB, rate)))

    syscalls = {}
    if not args.no_strace and shutil.which("strace"):
        for title, size, one_shot in STRACE_SCENARIOS[:1] if args.quick else STRACE_SCENARIOS:
            for name in STRACE_PEERS:
                s = servers.get(name, {}).get("tcp")
                if s and s.ensure_running():
                    log(f"strace -c -f on {name} during a 2 s {title} run")
                    syscalls.setdefault(title, {})[name] = strace_counts(ctx, s, size, one_shot)
    for name in ctx.peers:
        for s in servers[name].values():
            s.stop()

    rss = {}
    for name in ctx.peers:
        n = p.socat_rss_connections if PEERS[name].forks else rss_connections(PEERS[name], p.rss_connections)
        log(f"idle RSS: {name}, {n:,} connections")
        rss[name] = idle_rss(ctx, PEERS[name])
        r = rss[name]
        log(f"  {name}: " + (f"{r['bytes_per_conn']:,} bytes/connection" if r["status"] == "ok"
                             else f"failed: {r['reason']}"))

    commands = {}
    for name in ctx.peers:
        cmd = servers[name]["tcp"].cmdline
        env_txt = " ".join(f"{k}={v}" for k, v in PEERS[name].env)
        commands[name] = (env_txt + " " if env_txt else "") + " ".join(
            "ricochet" if c == ctx.ricochet else os.path.relpath(c, ROOT) if c.startswith(ROOT) else c
            for c in cmd)
    results = {
        "schema": "ricochet-compare/1",
        "environment": env,
        "profile": {**dataclasses.asdict(p), "quick": args.quick, "connections": CONNECTIONS},
        "peers": ctx.peers,
        "peer_labels": {n: PEERS[n].label for n in ctx.peers},
        "commands": commands,
        "cpu_method": ("Server CPU: utime+stime (+ reaped children) of each server process, and of "
                       "socat's live children, sampled every 25 ms from /proc; per round, the CPU "
                       "inside that server's measured window (interpolated between samples) over "
                       "the messages measured in it; median over rounds."),
        "open_loop_basis": open_basis,
        "workloads": workloads,
        "idle_rss": rss,
        "syscalls": syscalls,
        "notes": ctx.notes,
    }
    with open("/proc/loadavg") as f:
        env["load_average_at_end"] = [float(x) for x in f.read().split()[:3]]
    render(results, args.out)
    met = sum(1 for c in results["checks"] if c["met"])
    log(f"targets met: {met}/{len(results['checks'])}; wrote results.md, results.json, chart.svg to {args.out}")
    return 0


def columnar(results: dict) -> dict:
    """A copy of `results` with each target's rounds as one list per figure
    (errors per round only where there were any): a fifth of the size."""
    out = json.loads(json.dumps(results))
    for w in out["workloads"]:
        for t in w["targets"].values():
            rounds = t.get("rounds")
            if not rounds:
                continue
            cols = {k: [r[k] for r in rounds] for k in rounds[0] if k != "errors"}
            for k in ("cpu_secs", "cpu_us_per_unit", "others_on_core_secs"):
                cols[k] = [None if v is None else round(v, 4) for v in cols[k]]
            if any(any(r["errors"].values()) for r in rounds):
                cols["errors"] = [r["errors"] for r in rounds]
            t["rounds"] = cols
    return rounded(out)


def rounded(obj, digits: int = 5):
    """Floats to `digits` significant digits: the noise is in the second."""
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {k: rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, list):
        return [rounded(v, digits) for v in obj]
    return obj


def uncolumnar(results: dict) -> dict:
    """The inverse of `columnar`: rounds as one dict per round again."""
    zero = {k: 0 for k in ("mismatch", "short_echo", "reset", "timeout", "connect", "other")}
    for w in results["workloads"]:
        for t in w["targets"].values():
            cols = t.get("rounds")
            if not isinstance(cols, dict):
                continue
            n = len(cols["per_sec"])
            errors = cols.pop("errors", None) or [dict(zero) for _ in range(n)]
            t["rounds"] = [{**{k: v[i] for k, v in cols.items()}, "errors": errors[i]} for i in range(n)]
    return results


def render(results: dict, out: str) -> None:
    """Ratios, checks and the three files, from measured results."""
    for w in results["workloads"]:
        add_ratios(w)
    results["checks"] = checks(results)
    os.makedirs(out, exist_ok=True)
    write(os.path.join(out, "results.json"), to_json(columnar(results)) + "\n")
    write(os.path.join(out, "results.md"), markdown(results))
    write(os.path.join(out, "chart.svg"), chart(results))
    if os.path.abspath(out) == os.path.abspath(DEFAULT_OUT):
        update_readme(results)


README = os.path.join(ROOT, "README.md")
README_BEGIN = "<!-- bench/compare.py results: begin -->"
README_END = "<!-- bench/compare.py results: end -->"


def readme_summary(results: dict) -> str:
    """The README's view of a run: the targets table and the throughput
    table, cut from results.md, and the chart."""
    md = markdown(results)
    env, prof = results["environment"], results["profile"]

    def section(title: str) -> list[str]:
        lines = md.splitlines()
        start = next(i for i, l in enumerate(lines) if l.startswith(f"## {title}"))
        table = []
        for line in lines[start + 1:]:
            if line.startswith("## "):
                break
            if line.startswith("|"):
                table.append(line)
            elif table:
                break
        return table

    met = sum(1 for c in results["checks"] if c.get("met"))
    L = [README_BEGIN,
         f"Latest run: {env['date'][:10]}, commit {short_commit(env['ricochet_commit'])}, "
         f"{env['nproc']}-core {env['cpu_model']}, {prof['rounds']} interleaved rounds"
         f"{' (--quick)' if prof['quick'] else ''}; targets met: {met}/{len(results['checks'])}. "
         f"Full tables (latency, CPU per message, memory, syscalls, noise): "
         f"[bench/results/results.md](bench/results/results.md).",
         "",
         *section("Targets"),
         "",
         "Closed loop, 10 connections, ratio to the best server in the same round · median:",
         "",
         *section("Throughput"),
         "",
         "![ricochet vs peers](bench/results/chart.svg)",
         README_END]
    return "\n".join(L)


def short_commit(commit: str) -> str:
    """`abc1234` for a hash (keeping any note after it), the text as is otherwise."""
    m = re.match(r"([0-9a-f]{7})[0-9a-f]{33}(.*)", commit)
    return f"`{m.group(1)}`{m.group(2)}" if m else commit


def update_readme(results: dict) -> None:
    """Replaces the README's results block (between the markers) with this
    run's; leaves the README alone if it has no such block."""
    try:
        with open(README) as f:
            text = f.read()
    except OSError:
        return
    begin, end = text.find(README_BEGIN), text.find(README_END)
    if begin < 0 or end < begin:
        return
    write(README, text[:begin] + readme_summary(results) + text[end + len(README_END):])


def to_json(obj, indent: int = 0) -> str:
    """JSON with small objects and lists on one line, so results.json stays
    short and diffable."""
    flat = json.dumps(obj, ensure_ascii=False)
    if len(flat) + indent <= 150 or not isinstance(obj, (dict, list)) or not obj:
        return flat
    pad = " " * (indent + 1)
    if isinstance(obj, dict):
        items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {to_json(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    return "[\n" + ",\n".join(pad + to_json(v, indent + 1) for v in obj) + "\n" + " " * indent + "]"


def write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
