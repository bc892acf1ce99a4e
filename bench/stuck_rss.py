#!/usr/bin/env python3
"""Server memory per client that stops reading its echo.

Opens N connections to an echo server; each shrinks its receive buffer,
writes for a moment without ever reading, and stays open. The server can
then neither deliver the echo nor (with backpressure) read more, so
whatever it buffered for that client stays pinned. Reports the server's
RSS growth per connection from /proc/PID/status.

    stuck_rss.py --pid PID --tcp 127.0.0.1 1234 -n 1000

ricochet pins at most 64 MiB of large read buffers in all, then 16 KiB per
connection; a server that kept a 256 KiB buffer per connection would show
~260 KB per connection here.
"""
import argparse
import resource
import socket
import time


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pid", type=int, required=True, help="the server's pid")
    ap.add_argument("--tcp", nargs=2, metavar=("HOST", "PORT"), required=True)
    ap.add_argument("-n", type=int, default=1000, help="stuck connections (default 1000)")
    ap.add_argument("--push", type=float, default=0.2,
                    help="seconds each client writes before going quiet (default 0.2)")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.n + 100)), hard))
    host, port = args.tcp[0], int(args.tcp[1])
    before = rss_kib(args.pid)
    chunk = b"x" * (1 << 20)
    socks, pushed = [], 0
    for _ in range(args.n):
        s = socket.create_connection((host, port), timeout=10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setblocking(False)
        deadline = time.monotonic() + args.push
        while time.monotonic() < deadline:
            try:
                pushed += s.send(chunk)
            except BlockingIOError:
                time.sleep(0.002)
        socks.append(s)
    time.sleep(1)
    after = rss_kib(args.pid)
    print(f"{args.n} clients that stopped reading ({pushed / args.n / 1024:.0f} KiB written each): "
          f"RSS {before} -> {after} KiB, {(after - before) * 1024 / args.n:.0f} bytes per connection")
    for s in socks:
        s.close()


if __name__ == "__main__":
    main()
