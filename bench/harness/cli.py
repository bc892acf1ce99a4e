"""The command line of bench/compare.py, the order a run goes in, and
rendering results (measured now or read from an earlier results.json)."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import shutil
import signal
import sys

from . import chart, figures, measure, readme, report_md, store, targets
from .peers import CONNECTIONS, OPEN_LOOP_FRACTION, PEERS, SIZES, TRANSPORTS, Workload
from .prepare import environment, setup
from .runner import Runner
from .servers import Context, Server, rss_connections
from .util import DEFAULT_OUT, KIB, QUICK_OUT, ROOT, Fatal, log, write

USAGE = """\
    python3 bench/compare.py                 # full run, ~15-20 minutes
    python3 bench/compare.py --quick         # smoke run, under 3 minutes, into bench/results/quick/
    python3 bench/compare.py --peers epoll_echo,echo_go --out /tmp/cmp
    python3 bench/compare.py --from-json bench/results/results.json --out /tmp/x
                                             # re-render reports, measure nothing
"""


def parse_args(argv=None):
    ap = argparse.ArgumentParser(
        prog="compare.py", usage="%(prog)s [options]\n\n" + USAGE,
        description="Benchmark ricochet against the peer echo servers in bench/peers/ and write "
                    "results.md, results.json and chart.svg.",
        epilog="Peers: " + ", ".join(PEERS) + " (ricochet is always included). Exit status: 0 "
               "done, 1 a server echoed wrong bytes or the harness could not run, 2 bad usage, "
               "130 interrupted.")
    ap.add_argument("--quick", action="store_true",
                    help="short rounds for a smoke run (< 3 minutes); writes to bench/results/quick/ "
                         "unless --out says otherwise, and leaves README.md alone unless --readme")
    ap.add_argument("--peers", help="comma-separated peers to run (default: all)")
    ap.add_argument("--out", help="output directory (default: bench/results, or bench/results/quick "
                                  "with --quick)")
    ap.add_argument("--no-strace", action="store_true", help="skip the strace syscall count")
    ap.add_argument("--from-json", metavar="FILE",
                    help="measure nothing: rewrite the reports in --out from an earlier results.json")
    ap.add_argument("--ricochet", metavar="BINARY",
                    help="benchmark this ricochet binary instead of building one with cargo")
    ap.add_argument("--readme", action="store_true",
                    help="refresh README.md's results block whatever the run (by default only a "
                         "full run written to bench/results does)")
    a = ap.parse_args(argv)
    if a.peers:
        names = [n.strip() for n in a.peers.split(",") if n.strip()]
        unknown = [n for n in names if n not in PEERS]
        if unknown:
            ap.error(f"unknown peer(s) {', '.join(unknown)}; known: {', '.join(PEERS)}")
        a.peer_list = ["ricochet"] + [n for n in PEERS if n in names and n != "ricochet"]
    else:
        a.peer_list = list(PEERS)
    a.out = os.path.abspath(a.out or (QUICK_OUT if a.quick else DEFAULT_OUT))
    if a.ricochet:
        a.ricochet = os.path.abspath(a.ricochet)
    return a


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.from_json:
        with open(args.from_json) as f:
            results = store.uncolumnar(json.load(f))
        render(results, args.out, args.readme)
        log(f"rewrote results.md, results.json, chart.svg in {args.out} from {args.from_json}")
        return 0
    ctx = Context(args)

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
        for transport in TRANSPORTS:
            s = Server(PEERS[name], transport, ctx)
            s.start()
            servers[name][transport] = s
    log("all servers listening")
    runner = Runner(ctx, servers)

    workloads = []
    for transport in TRANSPORTS:
        for size in SIZES:
            workloads.append(runner.run(Workload(f"closed-{transport}-{size}", "closed", transport, size)))
    for transport in TRANSPORTS:
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
        for title, size, one_shot in measure.STRACE_SCENARIOS[:1] if args.quick else measure.STRACE_SCENARIOS:
            for name in measure.STRACE_PEERS:
                s = servers.get(name, {}).get("tcp")
                if s and s.ensure_running():
                    log(f"strace -c -f on {name} during a 2 s {title} run")
                    syscalls.setdefault(title, {})[name] = measure.strace_counts(ctx, s, size, one_shot)
    for name in ctx.peers:
        for s in servers[name].values():
            s.stop()

    rss = {}
    for name in ctx.peers:
        n = p.socat_rss_connections if PEERS[name].forks else rss_connections(PEERS[name], p.rss_connections)
        log(f"idle RSS: {name}, {n:,} connections")
        rss[name] = measure.idle_rss(ctx, PEERS[name])
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
    render(results, args.out, args.readme)
    met = sum(1 for c in results["checks"] if c["met"])
    log(f"targets met: {met}/{len(results['checks'])}; wrote results.md, results.json, chart.svg to {args.out}")
    return 0


def render(results: dict, out: str, force_readme: bool = False) -> None:
    """Ratios to the best, target checks and the three files; README.md's
    block only from a full run written to bench/results, or when asked."""
    for w in results["workloads"]:
        figures.ratios_to_best(w)
    results["checks"] = targets.checks(results)
    os.makedirs(out, exist_ok=True)
    write(os.path.join(out, "results.json"), store.to_json(store.columnar(results)) + "\n")
    write(os.path.join(out, "results.md"), report_md.markdown(results))
    write(os.path.join(out, "chart.svg"), chart.chart(results))
    full_run = os.path.abspath(out) == os.path.abspath(DEFAULT_OUT) and not results["profile"]["quick"]
    if force_readme or full_run:
        readme.update_readme(results)
