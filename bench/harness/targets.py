"""The targets: what ricochet is held to, each checked against the run's
figures and shown beside the C floor's own figure for the same target, so a
reader sees when a target sits at what this box allows at all.

* throughput ≥ 0.95× the C epoll floor, every closed-loop workload;
* throughput ≥ 1.15× the best managed peer (Go, uvloop, Node, asyncio,
  the tokio example) at 1 KiB over TCP and Unix, ≥ 1.0× at 10 and 100 KiB;
* one-shot connections/s ≥ 0.95× the best peer, TCP and Unix;
* server CPU per message ≤ 1.05× the C floor (TCP 1 KiB closed loop);
* ≤ 1 KiB of RSS per idle connection.

Ratios come from figures.pair_ratio (ricochet bench's paired ratios where
it has them); nothing is recomputed here.
"""

from __future__ import annotations

from .figures import pair_ratio
from .peers import FLOOR, PEERS, SIZES, TRANSPORTS
from .util import KIB

SELF = "ricochet"


def managed_threshold(size: int) -> float:
    """1 KiB is where a runtime's per-message overhead shows; at 10 and
    100 KiB copying dominates and even the C floor barely beats the best
    managed servers, so matching them is the target there."""
    return 1.15 if size <= KIB else 1.0


def _ok(w: dict | None, name: str) -> bool:
    t = w["targets"].get(name) if w else None
    return bool(t and t["status"] == "ok")


def _best(w: dict, names, key: str = "per_sec") -> str | None:
    names = [n for n in names if _ok(w, n) and w["targets"][n].get(key)]
    return max(names, key=lambda n: w["targets"][n][key]) if names else None


def _check(name: str, threshold: float, higher: bool, r: dict | None,
           floor: dict | None, label: str = "") -> dict:
    """One target from ricochet's ratio `r` and the floor's `floor` (both
    from pair_ratio, against the same reference server)."""
    if r is None:
        return {"target": name, "met": None, "measured": "not measured", "floor": "–", "detail": ""}
    meets = (lambda x: x >= threshold) if higher else (lambda x: x <= threshold)
    detail = r["how"]
    if r["ci"]:
        lo, hi = r["ci"]
        detail += f", 95% CI {lo:.2f}–{hi:.2f}" + (
            f" (contains {threshold:g}: within noise)" if lo <= threshold <= hi else "")
    floor_text = "–"
    if floor is not None:
        floor_text = f"{floor['ratio']:.2f}×" + ("" if meets(floor["ratio"]) else " ✗")
    return {"target": name, "met": meets(r["ratio"]), "measured": f"{r['ratio']:.2f}×{label}",
            "ratio": r["ratio"], "ci": r["ci"], "floor": floor_text,
            "floor_ratio": floor and floor["ratio"], "detail": detail}


def checks(results: dict) -> list[dict]:
    """The targets, each met (True), missed (False) or not measured (None),
    in the order the reports list them."""
    wls = {w["id"]: w for w in results["workloads"]}
    out = []
    managed = [n for n, p in PEERS.items() if p.group == "managed"]
    for transport in TRANSPORTS:
        for size in SIZES:
            w = wls.get(f"closed-{transport}-{size}")
            if not w:
                continue
            mine = _ok(w, SELF)
            have_floor = mine and _ok(w, FLOOR)
            out.append(_check(f"throughput {w['title']} ≥ 0.95× C epoll floor", 0.95, True,
                              pair_ratio(w, SELF, FLOOR) if have_floor else None,
                              pair_ratio(w, FLOOR, FLOOR) if have_floor else None))
            best = _best(w, managed)
            k = managed_threshold(size)
            out.append(_check(f"throughput {w['title']} ≥ {k:.2f}× best managed peer", k, True,
                              pair_ratio(w, SELF, best) if mine and best else None,
                              pair_ratio(w, FLOOR, best) if mine and best else None,
                              f" {PEERS[best].label}" if best else ""))

    w = wls.get(f"closed-tcp-{KIB}")
    have = _ok(w, SELF) and _ok(w, FLOOR)
    r = pair_ratio(w, SELF, FLOOR, "cpu_us_per_unit") if have else None
    label = (f" ({w['targets'][SELF]['cpu_us_per_unit']:.2f} vs "
             f"{w['targets'][FLOOR]['cpu_us_per_unit']:.2f} µs)" if r else "")
    out.append(_check("server CPU per message, TCP 1 KiB closed loop ≤ 1.05× C epoll floor",
                      1.05, False, r, pair_ratio(w, FLOOR, FLOOR, "cpu_us_per_unit") if r else None,
                      label))

    for transport in TRANSPORTS:
        w = wls.get(f"one_shot-{transport}")
        best = _best(w, [n for n in PEERS if n != SELF]) if w else None
        have = _ok(w, SELF) and best
        out.append(_check(f"one-shot connections/s, {'TCP' if transport == 'tcp' else 'Unix'} "
                          f"≥ 0.95× best peer", 0.95, True,
                          pair_ratio(w, SELF, best) if have else None,
                          pair_ratio(w, FLOOR, best) if have and _ok(w, FLOOR) else None,
                          f" {PEERS[best].label}" if best else ""))

    rss = results.get("idle_rss", {})
    name = f"memory ≤ 1 KiB RSS per idle connection at {results['profile']['rss_connections']:,} connections"
    mine, floor = rss.get(SELF), rss.get(FLOOR)
    if mine and mine["status"] == "ok":
        floor_text = "–"
        if floor and floor["status"] == "ok":
            floor_text = f"{floor['bytes_per_conn']:,} bytes" + ("" if floor["bytes_per_conn"] <= KIB else " ✗")
        out.append({"target": name, "met": mine["bytes_per_conn"] <= KIB,
                    "measured": f"{mine['bytes_per_conn']:,} bytes/connection",
                    "floor": floor_text, "detail": ""})
    else:
        out.append(_check(name, KIB, False, None, None))
    return out
