#!/usr/bin/env python3
"""Checks that every peer echo server behaves as the benchmark expects.

usage: check_peers.py [PEER...]      (default: all; run bench/install-peers.sh first)

For each peer, over TCP (127.0.0.1, a random free high port) and over a unix
socket (in a fresh temp dir):
  * prints exactly one line, "listening", once ready (socat prints nothing: polled)
  * bulk: 10 MiB of random bytes come back intact while the client does not
    read for the first 0.5 s (backpressure, no loss), then EOF after half-close
  * half-close: a small message sent before shutdown(SHUT_WR) still comes back,
    then the server closes
  * 50 concurrent connections each echo 64 KiB
  * burst: 2000 connections opened at once (non-blocking connects), then each
    echoes 1 KiB (fewer if the fd limit is low)
  * SIGTERM (TCP) / SIGINT (unix) ends it with status 0 and removes the socket
Everything is bounded by timeouts; every process started is killed at the end.
"""

import os
import errno
import random
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
BIN = os.path.join(HERE, "bin")
HOST = "127.0.0.1"
TIMEOUT = 30.0
BURST = 2000

PEERS = [
    "epoll_echo",
    "echo_asyncio",
    "echo_asyncio_uvloop",
    "echo_uvloop_protocol",
    "echo_node",
    "echo_go",
    "tokio_echo",
    "socat",
]


def command(peer, transport, where):
    if peer == "socat":  # the invocation documented in README.md (-b 4096: see there)
        if transport == "tcp":
            return ["socat", "-b", "4096", f"TCP-LISTEN:{where[1]},bind={where[0]},fork,reuseaddr,backlog=4096,nodelay", "PIPE"]
        return ["socat", "-b", "4096", f"UNIX-LISTEN:{where},fork,unlink-early,backlog=4096", "PIPE"]
    if transport == "tcp":
        return [os.path.join(BIN, peer), "tcp", where[0], str(where[1])]
    return [os.path.join(BIN, peer), "unix", where]


def free_port():
    # Below the ephemeral range (32768-60999): client ports in TIME_WAIT there
    # make bind() fail even with SO_REUSEADDR.
    for _ in range(100):
        port = random.randint(20000, 32767)
        with socket.socket() as s:
            try:
                s.bind((HOST, port))
                return port
            except OSError:
                continue
    raise RuntimeError("no free port found")


def connector(transport, where):
    def connect():
        if transport == "tcp":
            s = socket.create_connection(where, timeout=TIMEOUT)
        else:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(TIMEOUT)
            s.connect(where)
        return s

    return connect


def wait_ready(proc, peer, connect):
    if peer == "socat":
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                connect().close()
                return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("socat did not start listening within 10 s")
    line = []
    done = threading.Event()

    def read_line():
        line.append(proc.stdout.readline())
        done.set()

    threading.Thread(target=read_line, daemon=True).start()
    if not done.wait(10):
        raise AssertionError("no 'listening' line within 10 s")
    if line[0] != b"listening\n":
        raise AssertionError(f"first stdout line is {line[0]!r}, not b'listening\\n'")


def echo(connect, data, read_delay=0.0):
    """Send data, half-close, read to EOF; return what came back."""
    s = connect()
    got = bytearray()
    err = []

    def reader():
        try:
            time.sleep(read_delay)
            while chunk := s.recv(1 << 20):
                got.extend(chunk)
        except Exception as e:  # noqa: BLE001 - reported below
            err.append(e)

    t = threading.Thread(target=reader)
    t.start()
    try:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
    finally:
        t.join(TIMEOUT + 10)
        s.close()
    if t.is_alive():
        raise AssertionError("reader did not finish")
    if err:
        raise err[0]
    return bytes(got)


def burst(transport, where, n):
    """Open n connections without waiting for accept(), then echo 1 KiB on each."""
    family = socket.AF_INET if transport == "tcp" else socket.AF_UNIX
    msg = b"x" * 1023 + b"\n"
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(family, socket.SOCK_STREAM)
            socks.append(s)
            s.setblocking(False)
            err = s.connect_ex(where)
            if err not in (0, errno.EINPROGRESS):
                raise AssertionError(f"burst: connect failed after {len(socks) - 1} connections: {os.strerror(err)}")
        for s in socks:
            s.settimeout(TIMEOUT)
            s.sendall(msg)
        for s in socks:
            got = b""
            while len(got) < len(msg) and (chunk := s.recv(len(msg) - len(got))):
                got += chunk
            if got != msg:
                raise AssertionError(f"burst: got {len(got)} of {len(msg)} bytes back")
    finally:
        for s in socks:
            s.close()


def check(peer, transport, tmpdir):
    where = (HOST, free_port()) if transport == "tcp" else os.path.join(tmpdir, f"{peer}.sock")
    connect = connector(transport, where)
    proc = subprocess.Popen(
        command(peer, transport, where), stdout=subprocess.PIPE, start_new_session=True
    )
    try:
        wait_ready(proc, peer, connect)

        data = os.urandom(10 << 20)
        back = echo(connect, data, read_delay=0.5)
        if back != data:
            raise AssertionError(f"bulk: sent {len(data)} bytes, got {len(back)} back (equal prefix: {back == data[:len(back)]})")

        msg = b"x" * 1023 + b"\n"
        if echo(connect, msg) != msg:
            raise AssertionError("half-close: message not echoed before close")

        payloads = [os.urandom(64 << 10) for _ in range(50)]
        with ThreadPoolExecutor(50) as pool:
            backs = list(pool.map(lambda p: echo(connect, p), payloads))
        if backs != payloads:
            raise AssertionError("concurrent: some echo differed")

        t0 = time.monotonic()
        burst(transport, where, BURST)
        note = f"burst of {BURST} in {time.monotonic() - t0:.2f}s"

        sig = signal.SIGTERM if transport == "tcp" else signal.SIGINT
        proc.send_signal(sig)
        try:
            rc = proc.wait(10)
        except subprocess.TimeoutExpired:
            raise AssertionError(f"still running 10 s after {sig.name}") from None
        extra = proc.stdout.read() if peer != "socat" else b""
        if peer != "socat" and rc != 0:
            raise AssertionError(f"exit status {rc} after {sig.name}")
        if extra:
            raise AssertionError(f"more stdout after 'listening': {extra[:80]!r}")
        if transport == "unix" and os.path.exists(where):
            raise AssertionError("unix socket file left behind")
        return f"{note}, exit {rc} on {sig.name}"
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        try:  # socat's forked children share its process group
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def main():
    if any(a in ("-h", "--help") for a in sys.argv[1:]):
        print(__doc__.strip())
        sys.exit(0)
    global BURST
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = hard if hard == resource.RLIM_INFINITY else min(hard, 65536)
    if soft != resource.RLIM_INFINITY and soft < want:  # the servers inherit it too
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        soft = want
    if soft != resource.RLIM_INFINITY:
        BURST = max(10, min(BURST, soft - 100))
    peers = sys.argv[1:] or PEERS
    passed = failed = 0
    with tempfile.TemporaryDirectory(prefix="peers-") as tmpdir:
        for peer in peers:
            for transport in ("tcp", "unix"):
                t0 = time.monotonic()
                try:
                    note = check(peer, transport, tmpdir)
                    passed += 1
                    print(f"PASS {peer:22} {transport:4} {time.monotonic() - t0:5.1f}s  {note}", flush=True)
                except Exception as e:  # noqa: BLE001 - any failure is reported
                    failed += 1
                    print(f"FAIL {peer:22} {transport:4} {type(e).__name__}: {e}", flush=True)
    print(f"{passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
