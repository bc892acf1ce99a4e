"""The results block in README.md, between its two markers: the targets
table, the throughput table and the chart of a full run in bench/results/."""

from __future__ import annotations

import os
import re

from .report_md import markdown
from .util import ROOT, write


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
