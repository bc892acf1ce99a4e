"""results.json on disk: each target's rounds stored as one list per
figure, floats to five significant digits, small objects on one line, so
the file stays short and diffable; and back to one dict per round."""

from __future__ import annotations

import json


def columnar(results: dict) -> dict:
    """A copy of `results` with each target's rounds as one list per figure
    (errors per round only where there were any): a fifth of the size."""
    out = json.loads(json.dumps(results))
    for w in out["workloads"]:
        for t in w["targets"].values():
            rounds = t.get("rounds")
            if not rounds:
                continue
            cols = {k: [r[k] for r in rounds] for k in rounds[0] if k != "errors"}
            for k in ("cpu_secs", "cpu_us_per_unit", "others_on_core_secs"):
                cols[k] = [None if v is None else round(v, 4) for v in cols[k]]
            if any(any(r["errors"].values()) for r in rounds):
                cols["errors"] = [r["errors"] for r in rounds]
            t["rounds"] = cols
    return rounded(out)


def rounded(obj, digits: int = 5):
    """Floats to `digits` significant digits: the noise is in the second."""
    if isinstance(obj, float):
        return float(f"{obj:.{digits}g}")
    if isinstance(obj, dict):
        return {k: rounded(v, digits) for k, v in obj.items()}
    if isinstance(obj, list):
        return [rounded(v, digits) for v in obj]
    return obj


def uncolumnar(results: dict) -> dict:
    """The inverse of `columnar`: rounds as one dict per round again."""
    zero = {k: 0 for k in ("mismatch", "short_echo", "reset", "timeout", "connect", "other")}
    for w in results["workloads"]:
        for t in w["targets"].values():
            cols = t.get("rounds")
            if not isinstance(cols, dict):
                continue
            n = len(cols["per_sec"])
            errors = cols.pop("errors", None) or [dict(zero) for _ in range(n)]
            t["rounds"] = [{**{k: v[i] for k, v in cols.items()}, "errors": errors[i]} for i in range(n)]
    return results


def to_json(obj, indent: int = 0) -> str:
    """JSON with small objects and lists on one line, so results.json stays
    short and diffable."""
    flat = json.dumps(obj, ensure_ascii=False)
    if len(flat) + indent <= 150 or not isinstance(obj, (dict, list)) or not obj:
        return flat
    pad = " " * (indent + 1)
    if isinstance(obj, dict):
        items = [f"{pad}{json.dumps(k, ensure_ascii=False)}: {to_json(v, indent + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + "\n" + " " * indent + "}"
    return "[\n" + ",\n".join(pad + to_json(v, indent + 1) for v in obj) + "\n" + " " * indent + "]"
