"""chart.svg: grouped bars, each figure relative to the best server of
the same round (figures.ratios_to_best)."""

from __future__ import annotations

from html import escape

from .peers import COLOURS, PEERS
from .util import KIB, si, us


def chart(results: dict) -> str:
    """Grouped bars, one group per figure, one bar per server, each relative
    to the best server of that figure (1.0 = best)."""
    peers = results["peers"]
    groups = []   # (label line 1, line 2, {peer: (ratio, raw text)})
    for w in results["workloads"]:
        if w["kind"] in ("closed", "one_shot"):
            vals = {n: (t["ratio_to_best"]["per_sec"], f"{si(t['per_sec'])} {w['unit']}/s")
                    for n, t in w["targets"].items() if t["status"] == "ok" and "ratio_to_best" in t}
            t, rest = w["title"].split(" ", 1)
            groups.append((t, rest, vals, "hi"))
    for w in results["workloads"]:
        if w["kind"] == "closed" and w["transport"] == "tcp" and w["size"] == KIB:
            vals = {n: (1 / t["ratio_to_best"]["cpu_us_per_unit"], f"{t['cpu_us_per_unit']:.2f} µs CPU/msg")
                    for n, t in w["targets"].items()
                    if t["status"] == "ok" and t.get("ratio_to_best", {}).get("cpu_us_per_unit")}
            groups.append(("CPU/msg", "TCP 1 KiB", vals, "lo"))
        if w["kind"] == "open":
            vals = {n: (1 / t["ratio_to_best"]["p99_9_ns"], f"p99.9 {us(t['p99_9_ns'])}")
                    for n, t in w["targets"].items()
                    if t["status"] == "ok" and t.get("ratio_to_best", {}).get("p99_9_ns")}
            groups.append(("p99.9", f"at {si(w['rate'])}/s", vals, "lo"))
    rss = {n: r for n, r in results.get("idle_rss", {}).items() if r["status"] == "ok"}
    if rss:
        low = min(max(r["bytes_per_conn"], 1) for r in rss.values())
        groups.append(("idle memory", "per connection", {
            n: (low / max(r["bytes_per_conn"], 1),
                f"{r['bytes_per_conn']:,} B/connection" + (" (PSS, all processes)" if PEERS[n].forks else ""))
            for n, r in rss.items()}, "lo"))
    bar, gap = 11, 22
    left, top, plot_h = 60, 100, 300
    gw = len(peers) * bar + gap
    width = left + len(groups) * gw + 20
    height = top + plot_h + 70
    y = lambda v: top + plot_h * (1 - min(v, 1.0))
    S = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
         f'viewBox="0 0 {width} {height}" font-family="Helvetica, Arial, sans-serif" font-size="12">',
         f'<rect width="{width}" height="{height}" fill="white"/>',
         f'<text x="{left}" y="22" font-size="16" font-weight="bold">ricochet vs peer echo servers: '
         f'each figure relative to the best server in the same round (1.0 = best in every round)</text>',
         f'<text x="{left}" y="40" fill="#555">{escape(results["environment"]["date"])} · '
         f'{escape(results["environment"]["cpu_model"])}, {results["environment"]["nproc"]} cores · '
         f'median of {results["profile"]["rounds"]} rounds of per-round ratios · left: throughput (value ÷ best); '
         f'right: CPU, latency, memory (best ÷ value) · × = failed · red figures: ricochet</text>']
    lx = left
    for n in peers:
        S.append(f'<rect x="{lx:.0f}" y="52" width="12" height="12" fill="{COLOURS[n]}"/>'
                 f'<text x="{lx + 16:.0f}" y="62">{escape(PEERS[n].label)}</text>')
        lx += 30 + 6.6 * len(PEERS[n].label)
    for v in (0, 0.25, 0.5, 0.75, 1.0):
        S.append(f'<line x1="{left - 4}" x2="{width - 20}" y1="{y(v):.1f}" y2="{y(v):.1f}" '
                 f'stroke="{"#999" if v in (0, 1) else "#ddd"}"/>'
                 f'<text x="{left - 8}" y="{y(v) + 4:.1f}" text-anchor="end">{v:.2f}</text>')
    for gi, (l1, l2, vals, kind) in enumerate(groups):
        x0 = left + gi * gw + gap / 2
        if gi and kind == "lo" and groups[gi - 1][3] == "hi":
            sx = x0 - gap / 2
            S.append(f'<line x1="{sx}" x2="{sx}" y1="{top - 6}" y2="{top + plot_h + 40}" stroke="#333" stroke-dasharray="4 3"/>')
        for pi, n in enumerate(peers):
            bx = x0 + pi * bar
            if n in vals:
                ratio, raw = vals[n]
                S.append(f'<rect x="{bx:.1f}" y="{y(ratio):.1f}" width="{bar - 2}" '
                         f'height="{top + plot_h - y(ratio):.1f}" fill="{COLOURS[n]}">'
                         f'<title>{escape(PEERS[n].label)}: {ratio:.2f} ({escape(raw)})</title></rect>')
            else:
                S.append(f'<text x="{bx + (bar - 2) / 2:.1f}" y="{top + plot_h - 3}" text-anchor="middle" '
                         f'fill="#c00" font-size="10">×</text>')
        cx = x0 + len(peers) * bar / 2
        S.append(f'<text x="{cx:.1f}" y="{top + plot_h + 18}" text-anchor="middle" font-weight="bold">{escape(l1)}</text>'
                 f'<text x="{cx:.1f}" y="{top + plot_h + 33}" text-anchor="middle">{escape(l2)}</text>')
        if "ricochet" in vals:  # ricochet's ratio above each group
            S.append(f'<text x="{cx:.1f}" y="{top - 8}" text-anchor="middle" font-size="11" '
                     f'font-weight="bold" fill="{COLOURS["ricochet"]}">{vals["ricochet"][0]:.2f}</text>')
    S.append("</svg>\n")
    return "\n".join(S)
