"""Before anything is measured: install and build the peers, build (or
take) the ricochet binary, check it has the options the harness needs, and
record the environment the run happened in."""

from __future__ import annotations

import datetime
import os
import platform
import re
import shutil
import subprocess

from .servers import Context
from .util import HERE, PEER_BIN, ROOT, Fatal, child_env, log, run_text


def setup(ctx: Context) -> None:
    log("installing and building the peers (bench/install-peers.sh)")
    p = subprocess.run(["bash", os.path.join(HERE, "install-peers.sh")], cwd=ROOT, timeout=1800)
    if p.returncode != 0:
        raise Fatal(f"bench/install-peers.sh failed with status {p.returncode}")
    binary = ctx.args.ricochet
    if not binary:
        log("building ricochet (cargo build --release)")
        p = subprocess.run(["cargo", "build", "--release", "--quiet"], cwd=ROOT, timeout=1800,
                           env=child_env())
        if p.returncode != 0:
            raise Fatal(f"cargo build --release failed with status {p.returncode}")
        target_dir = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
        binary = os.path.join(ROOT, target_dir, "release", "ricochet")
    # A private copy: another build replacing the binary mid-run must not
    # change it between workloads.
    ctx.ricochet = os.path.join(ctx.tmp, "ricochet")
    try:
        shutil.copy2(binary, ctx.ricochet)
    except OSError as e:
        raise Fatal(f"cannot copy the ricochet binary {binary}: {e}") from e
    help_text = run_text([ctx.ricochet, "bench", "--help"])
    for flag in ("--one-shot", "--rate", "--rounds", "--json", "--threads"):
        if flag not in help_text:
            raise Fatal(f"`ricochet bench` has no {flag} option yet: this harness needs it")
    missing = [n for n in ctx.peers if n not in ("ricochet", "socat")
               and not os.access(os.path.join(PEER_BIN, n), os.X_OK)]
    if "socat" in ctx.peers and not shutil.which("socat"):
        missing.append("socat")
    if missing:
        raise Fatal(f"peers not built or not installed: {', '.join(missing)}")


def environment(ctx: Context) -> dict:
    cpu_model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu_model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    py = os.environ.get("PYTHON", "python3")
    commit = run_text(["git", "-C", ROOT, "rev-parse", "HEAD"])
    if re.fullmatch(r"[0-9a-f]{40}", commit):
        dirty = bool(run_text(["git", "-C", ROOT, "status", "--porcelain", "--untracked-files=no"]))
    else:  # an exported tree (git archive, tarball): no commit to name
        commit, dirty = "unknown (not a git checkout)", False
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "kernel": platform.release(),
        "cpu_model": cpu_model,
        "memory_mib": os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20,
        "load_average_at_start": [float(x) for x in load],
        "python": run_text([py, "--version"]),
        "uvloop": run_text([py, "-c", "import uvloop; print(uvloop.__version__)"]),
        "go": run_text(["go", "version"]),
        "node": run_text(["node", "--version"]),
        "rustc": run_text(["rustc", "--version"]),
        "socat": next((l.strip() for l in run_text(["socat", "-V"]).splitlines()
                       if l.startswith("socat version")), "unknown"),
        "ricochet_commit": commit + (" (with uncommitted changes)" if dirty else ""),
        "ricochet_version": run_text([ctx.ricochet, "--version"]),
        "pinning": ctx.pinning,
    }
