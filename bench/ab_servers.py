#!/usr/bin/env python3
"""A/B two builds of the ricochet server: throughput and server CPU per message.

    bench/ab_servers.py OLD_BINARY NEW_BINARY [--sizes 1024,102400] [--rounds 7]
    bench/ab_servers.py BIN BIN --new-flags '--idle-timeout never'   # one flag's cost

Starts both servers (stream mode, one thread) pinned to CPU 0 and drives
them with `NEW_BINARY bench -t 1` pinned to CPU 1, one target at a time,
alternating A B / B A each round so drift on a shared machine hits both.
Server CPU is read from /proc/PID/stat around each run (the servers are idle
when not measured). For every size it prints, per round, new/old ratios of
messages per second (from `ricochet bench --json`) and of server CPU per
message, then their median and a 95 % t interval of the mean ratio. "Same
speed" means both intervals contain 1.0. Loopback only; stops by itself.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

CLK_TCK = os.sysconf("SC_CLK_TCK")
# Two-sided 97.5 % Student t quantiles, by degrees of freedom.
T975 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36,
        8: 2.31, 9: 2.26, 10: 2.23, 15: 2.13, 20: 2.09, 30: 2.04}


def t975(df):
    return T975.get(df) or T975[max(k for k in T975 if k <= df)]


def start_server(binary, flags):
    proc = subprocess.Popen(
        ["taskset", "-c", "0", binary, "serve", "tcp://127.0.0.1:0", "--threads", "1", "-q", *flags],
        stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().strip()
    if not line.startswith("listening on "):
        proc.kill()
        sys.exit(f"{binary} did not start: {line!r}")
    return proc, line.removeprefix("listening on ")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def run_once(load, endpoint, pid, size, duration):
    before = cpu_ticks(pid)
    out = subprocess.run(
        ["taskset", "-c", "1", load, "bench", endpoint, "-t", "1", "-c", "10",
         "--size", str(size), "-d", duration, "-w", "0", "-q", "--json"],
        capture_output=True, text=True, timeout=120, check=True).stdout
    cpu_secs = (cpu_ticks(pid) - before) / CLK_TCK
    total = json.loads(out)["targets"][0]["total"]
    return total["messages_per_sec"], cpu_secs * 1e6 / max(total["messages"], 1)


def interval(ratios):
    mean = statistics.fmean(ratios)
    half = t975(len(ratios) - 1) * statistics.stdev(ratios) / len(ratios) ** 0.5
    return f"median {statistics.median(ratios):.3f}, mean {mean:.3f}, 95% CI {mean - half:.3f}-{mean + half:.3f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("old")
    ap.add_argument("new")
    ap.add_argument("--sizes", default="1024,102400", help="message sizes in bytes")
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--duration", default="2s")
    ap.add_argument("--old-flags", default="", help="extra serve flags for OLD, e.g. '--idle-timeout never'")
    ap.add_argument("--new-flags", default="", help="extra serve flags for NEW")
    args = ap.parse_args()
    servers = {name: start_server(b, f.split())
               for name, b, f in (("old", args.old, args.old_flags), ("new", args.new, args.new_flags))}
    try:
        for size in [int(s) for s in args.sizes.split(",")]:
            tput, cpu = [], []
            for r in range(args.rounds):
                order = ("old", "new") if r % 2 == 0 else ("new", "old")
                got = {n: run_once(args.new, servers[n][1], servers[n][0].pid, size, args.duration)
                       for n in order}
                tput.append(got["new"][0] / got["old"][0])
                cpu.append(got["new"][1] / got["old"][1])
                print(f"size {size} round {r + 1}: old {got['old'][0]:,.0f} msg/s {got['old'][1]:.2f} us/msg; "
                      f"new {got['new'][0]:,.0f} msg/s {got['new'][1]:.2f} us/msg", flush=True)
            print(f"size {size}: throughput new/old {interval(tput)}")
            print(f"size {size}: server CPU per message new/old {interval(cpu)}", flush=True)
    finally:
        for proc, _ in servers.values():
            proc.terminate()
            proc.wait(timeout=15)


if __name__ == "__main__":
    main()
