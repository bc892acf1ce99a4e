"""Measurements outside `ricochet bench`: server RSS growth per idle
connection (bench/idle_rss.py on a fresh server; PSS of all of socat's
processes) and syscalls per message (strace -c -f on a server)."""

from __future__ import annotations

import json
import os
import resource
import signal
import socket
import subprocess
import sys
import time

from .cpu import proc_children
from .peers import CONNECTIONS, Peer
from .servers import Context, Server, kill_group, rss_connections
from .util import HERE, HOST, KIB, child_env, log


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
