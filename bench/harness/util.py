"""Small shared pieces: paths, logging, number formatting, child
environments and atomic file writes."""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time

HARNESS = os.path.dirname(os.path.abspath(__file__))
HERE = os.path.dirname(HARNESS)                 # bench/
ROOT = os.path.dirname(HERE)                    # the crate root
DEFAULT_OUT = os.path.join(HERE, "results")
QUICK_OUT = os.path.join(DEFAULT_OUT, "quick")  # git-ignored: smoke runs never touch the committed results
PEER_BIN = os.path.join(HERE, "peers", "bin")
HOST = "127.0.0.1"
KIB = 1024
T0 = time.monotonic()


class Fatal(Exception):
    """The harness cannot go on: printed as one line, exit status 1."""


def log(msg: str) -> None:
    el = int(time.monotonic() - T0)
    print(f"[{el // 60:02d}:{el % 60:02d}] {msg}", file=sys.stderr, flush=True)


def si(x: float | None, digits: int = 3) -> str:
    """45213 -> 45.2k; 1.5e6 -> 1.50M."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    for div, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"{x / div:.{max(digits - len(str(int(x / div))), 0)}f}{suffix}"
    return f"{x:.{max(digits - len(str(int(x))), 0)}f}" if x else "0"


def us(ns: float | None) -> str:
    if ns is None:
        return "–"
    v = ns / 1e3
    return f"{v:.0f} µs" if v >= 100 else f"{v:.1f} µs" if v >= 10 else f"{v:.2f} µs"


def run_text(cmd: list[str], timeout: float = 20) -> str:
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        return (p.stdout or p.stderr).strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"unavailable ({e.__class__.__name__})"


def child_env(extra: tuple = ()) -> dict:
    """The environment for every process we start: no RICOCHET_* settings
    leaking in from the caller's shell, no RUST_BACKTRACE (tokio_echo prints a
    backtrace per reset connection with it); `extra` is a peer's own."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("RICOCHET_") and k != "RUST_BACKTRACE"}
    env.update(dict(extra))
    return env


def write(path: str, text: str) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(text)
    os.replace(tmp, path)
