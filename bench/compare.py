#!/usr/bin/env python3
"""ricochet against the peer echo servers: one command, one results table.

    python3 bench/compare.py                 # full run, ~15-20 minutes
    python3 bench/compare.py --quick         # smoke run, under 3 minutes
    python3 bench/compare.py --peers epoll_echo,echo_go --out /tmp/cmp
    python3 bench/compare.py --from-json bench/results/results.json --out /tmp/x
                                             # re-render reports, measure nothing

Installs and builds the peers (bench/install-peers.sh), builds ricochet
(release; or takes --ricochet BINARY), starts every server pinned to one
core, drives them all with `ricochet bench --json` pinned to the other core,
and writes results.md, results.json and chart.svg to bench/results/ (or
--out), then refreshes the results block in README.md. A --quick run writes
to bench/results/quick/ (git-ignored) and leaves README.md alone unless
--readme is given, so it never overwrites the committed full results.

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

Throughput, latency and the ratios with their 95% intervals in the target
checks are ricochet bench's own (its JSON's `comparison`); the harness adds
only what that JSON cannot know: each figure as a ratio to the best server
in the same round, and the servers' CPU from /proc (bench/harness/figures.py).
The code is in bench/harness/, one module per concern.

Exit status: 0 done (a peer that failed a workload is marked in the table),
1 a server echoed wrong bytes (verification failed) or the harness could
not run, 2 bad usage, 130 interrupted. Standard library only (Python 3.11).
"""

import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from harness.cli import main  # noqa: E402  (needs the path above)

if __name__ == "__main__":
    sys.exit(main())
