"""What runs: run profiles (full and quick), the peer servers and how to
start each, and the workloads."""

from __future__ import annotations

import dataclasses
import os

from .util import KIB, PEER_BIN


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
TRANSPORTS = ("tcp", "unix")
OPEN_LOOP_FRACTION = 0.5
RICOCHET_SOFT_ERRORS = ("reset", "timeout", "connect", "other")


@dataclasses.dataclass(frozen=True)
class Peer:
    name: str
    label: str
    group: str              # "self", "floor", "managed" (a language runtime's or library's server), "other"
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
    Peer("echo_go", "Go net", "managed", env=(("GOMAXPROCS", "1"),), fds_per_conn=3),
    Peer("echo_node", "Node net", "managed"),
    Peer("echo_uvloop_protocol", "uvloop protocol", "managed"),
    Peer("echo_asyncio_uvloop", "asyncio+uvloop", "managed"),
    Peer("echo_asyncio", "asyncio streams", "managed"),
    Peer("tokio_echo", "tokio example", "managed", env=(("TOKIO_WORKER_THREADS", "1"),)),
    Peer("socat", "socat", "other", forks=True),
)}
FLOOR = "epoll_echo"

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
