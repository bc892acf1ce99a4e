#!/usr/bin/env python3
"""Server memory per idle connection.

Opens N connections to an echo server, has each exchange one small message
(so the server has accepted and handled it), leaves them idle, and reports the
server's RSS growth per connection from /proc/PID/status.

    idle_rss.py --pid PID --tcp 127.0.0.1 1234 -n 10000
    idle_rss.py --pid PID --unix /tmp/echo.sock -n 1000
"""
import argparse
import json
import resource
import socket
import sys
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pid", type=int, required=True)
    g = ap.add_mutually_exclusive_group(required=True)
    g.add_argument("--tcp", nargs=2, metavar=("HOST", "PORT"))
    g.add_argument("--unix", metavar="PATH")
    ap.add_argument("-n", type=int, default=1000)
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--silent", action="store_true",
                    help="connect and send nothing (for servers that answer once, "
                         "then close, like `serve --mode once`)")
    a = ap.parse_args()

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = min(hard, a.n + 256)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

    time.sleep(0.2)
    before = rss_kib(a.pid)
    half_rss = None
    socks = []
    # Spread TCP source addresses so 10k connections never exhaust ports.
    for i in range(a.n):
        if a.unix:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(a.unix)
        else:
            s = socket.create_connection((a.tcp[0], int(a.tcp[1])), timeout=10)
        s.settimeout(10)
        if not a.silent:
            s.sendall(b"x\n")
            got = s.recv(16)
            if got != b"x\n":
                sys.exit(f"connection {i}: bad echo {got!r}")
        socks.append(s)
        if len(socks) == a.n // 2:
            time.sleep(0.2)
            half_rss = rss_kib(a.pid)
    time.sleep(0.5)
    after = rss_kib(a.pid)
    per_conn = (after - before) * 1024 / a.n
    # The second half's cost alone: immune to memory an allocator touched
    # up front (which makes the plain average look better than it is).
    marginal = (after - half_rss) * 1024 / (a.n - a.n // 2)
    result = {"connections": a.n, "rss_before_kib": before, "rss_half_kib": half_rss,
              "rss_after_kib": after, "bytes_per_connection": round(per_conn),
              "marginal_bytes_per_connection": round(marginal)}
    if a.json:
        print(json.dumps(result))
    else:
        print(f"{a.n} idle connections: RSS {before} KiB -> {after} KiB, "
              f"{per_conn:.0f} bytes per connection on average, "
              f"{marginal:.0f} for the second half")
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
