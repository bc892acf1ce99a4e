"""Every figure the reports show, and the one place each comes from.

Throughput and latency per server, and each server's ratio to the first
target with its 95% interval, are ricochet bench's own (`comparison` in
`ricochet bench --json`, docs/bench-json-schema.md): nothing here
recomputes them. What the JSON cannot give is computed here, once:

* ratio to the best server in each round: the JSON pairs every target with
  the first one only, and the best server changes from round to round;
* server CPU per message, core utilisation and others' CPU on the server
  core: ricochet bench sees only its own sockets, the harness samples /proc;
* a ratio between two servers neither of which is the first target (the C
  floor against the best managed peer): the quotient of their JSON ratios
  to the first target, without an interval (the JSON has none for it).
"""

from __future__ import annotations

import statistics

# harness key -> (comparison estimate, comparison ratio estimate, latency_ns field)
JSON_FIGURES = {
    "per_sec": ("messages_per_sec", "ratio_messages_per_sec", None),
    "p50_ns": ("p50_ns", "ratio_p50", "p50"),
    "p99_ns": ("p99_ns", "ratio_p99", "p99"),
    "p99_9_ns": ("p99_9_ns", "ratio_p99_9", "p99_9"),
}
HARNESS_FIGURES = ("cpu_us_per_unit", "server_busy", "others_on_core")


def from_json(report: dict, i: int) -> dict:
    """Target i's summary figures, as ricochet bench computed them: the mean
    over rounds and the ratio to the first target from `comparison`; with a
    single target there is no comparison, and the whole-run summary (all
    rounds together) is the figure (see `summary_kind`)."""
    comp = report.get("comparison")
    if comp:
        c = comp["targets"][i]
        return {**{k: c[est]["mean"] for k, (est, _, _) in JSON_FIGURES.items()},
                "vs_first": {k: c[ratio] for k, (_, ratio, _) in JSON_FIGURES.items() if c[ratio]}}
    total = report["targets"][i]["total"]
    return {"summary": "all rounds together", "per_sec": total["messages_per_sec"],
            **{k: total["latency_ns"][lat] for k, (_, _, lat) in JSON_FIGURES.items() if lat}}


def summary_kind(report: dict) -> str:
    """What `from_json`'s figures are, for the reports' captions."""
    return "mean" if report.get("comparison") else "all rounds together"


def harness_summary(rounds: list[dict], window_secs: float) -> dict:
    """Medians over rounds of the /proc figures (ricochet bench cannot
    measure a server's CPU), the median because one round that shared the
    server core with a stray process should not move the figure."""
    def median(vals):
        vals = [v for v in vals if v is not None]
        return statistics.median(vals) if vals else None
    return {
        "cpu_us_per_unit": median(r["cpu_us_per_unit"] for r in rounds),
        "server_busy": median(r["cpu_secs"] / window_secs for r in rounds if r["cpu_secs"] is not None),
        "others_on_core": median(r["others_on_core_secs"] / window_secs for r in rounds
                                 if r["others_on_core_secs"] is not None),
    }


def ratios_to_best(w: dict) -> None:
    """Each figure as a ratio to the best server of the same round: per
    round, a server's figure over the best figure any server reached in that
    round (runs seconds apart, so drift on a shared machine mostly cancels);
    the median over rounds. The best server is the one whose median is
    nearest 1 (ratios are at most 1 for throughput, at least 1 for costs).
    Sets each target's `ratio_to_best` and the workload's `best`."""
    ok = {n: t for n, t in w["targets"].items() if t["status"] == "ok"}
    best_of = {}
    for key, higher in (("per_sec", True), ("p99_9_ns", False), ("p99_ns", False),
                        ("cpu_us_per_unit", False)):
        have = {n: t for n, t in ok.items() if t.get(key)}
        if not have:
            continue
        rounds = min(len(t["rounds"]) for t in have.values())
        tops = []
        for i in range(rounds):
            vals = [t["rounds"][i][key] for t in have.values() if t["rounds"][i][key]]
            tops.append((max if higher else min)(vals) if vals else None)
        for t in have.values():
            ratios = [t["rounds"][i][key] / tops[i] for i in range(rounds)
                      if t["rounds"][i][key] and tops[i]]
            t.setdefault("ratio_to_best", {})[key] = statistics.median(ratios) if ratios else None
        pick = {n: t["ratio_to_best"][key] for n, t in have.items() if t["ratio_to_best"][key]}
        best_of[key] = (max if higher else min)(pick, key=pick.get) if pick else None
    w["best"] = best_of


def pair_ratio(w: dict, a: str, b: str, key: str = "per_sec") -> dict | None:
    """Server a's figure over server b's in workload w: {"ratio", "ci"}.

    From ricochet bench's paired per-round ratios to the first target where
    the results have them: a/b = (a/first) / (b/first). With b the first
    target that is the JSON's ratio and interval as they are; with a the
    first, the reciprocal, whose interval is the JSON's inverted (x in
    [lo, hi] exactly when 1/x in [1/hi, 1/lo]); otherwise no interval.
    Figures ricochet bench does not pair (CPU), and results.json files
    written before the JSON's comparison was kept, give the quotient of the
    two servers' summary figures, without an interval."""
    ta, tb = w["targets"].get(a), w["targets"].get(b)
    if not (ta and tb and ta["status"] == tb["status"] == "ok"):
        return None
    ea, eb = ta.get("vs_first", {}).get(key), tb.get("vs_first", {}).get(key)
    if ea and eb and eb["mean"]:
        ratio, ci = ea["mean"] / eb["mean"], None
        if b == w.get("first") and ea["ci_low"] is not None:
            ci = (ea["ci_low"], ea["ci_high"])
        elif a == w.get("first") and eb["ci_low"] is not None and eb["ci_low"] > 0:
            ci = (1 / eb["ci_high"], 1 / eb["ci_low"])
        return {"ratio": ratio, "ci": ci, "how": "ricochet bench's paired ratios"}
    if ta.get(key) and tb.get(key):
        return {"ratio": ta[key] / tb[key], "ci": None, "how": "ratio of the two servers' figures, no interval"}
    return None


def others_on_core(w: dict) -> tuple[float | None, float | None]:
    """Median and worst share of the server core spent on anything but the
    server measured, over all servers and rounds of workload w (a /proc
    figure: ricochet bench cannot see the server core)."""
    shares = [r["others_on_core_secs"] / w["duration_secs"] for t in w["targets"].values()
              if t["status"] == "ok" for r in t["rounds"] if r.get("others_on_core_secs") is not None]
    return (statistics.median(shares), max(shares)) if shares else (None, None)


def median_max_ns(t: dict) -> float:
    """The median over rounds of each round's largest latency: the JSON's
    whole-run max is one outlier, a per-round figure shows whether it
    recurs."""
    return statistics.median(r["max_ns"] for r in t["rounds"])
