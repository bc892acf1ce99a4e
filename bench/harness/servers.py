"""Starting, pinning, restarting and stopping the peer servers, and the
run's context (temp dir, CPU pinning, every process started, so all can be
killed on the way out)."""

from __future__ import annotations

import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import tempfile
import time

from .peers import FULL, QUICK, Peer
from .util import HOST, ROOT, Fatal, child_env, log

SERVER_NOFILE = 65536


class Context:
    def __init__(self, args):
        self.args = args
        self.profile = QUICK if args.quick else FULL
        self.peers: list[str] = args.peer_list
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
        self.ricochet = ""  # a private snapshot of the ricochet binary, set by runner.setup()

    def cleanup(self):
        for p in self.processes:
            kill_group(p, grace=3)
        shutil.rmtree(self.tmp, ignore_errors=True)


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


class Server:
    """One peer listening on one transport, pinned to the server core."""

    used_ports: set[int] = set()

    def __init__(self, peer: Peer, transport: str, ctx: Context):
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
                                         env=child_env(self.peer.env), cwd=ROOT,
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
