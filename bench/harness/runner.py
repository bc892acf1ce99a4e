"""Running `ricochet bench --json` against the started servers, one
workload at a time, with the CPU sampler on; isolating servers that break a
run; collecting each report's figures per server and round."""

from __future__ import annotations

import json
import os
import resource
import subprocess
import time

from . import figures
from .cpu import CLK_TCK, CpuSampler, system_busy_ticks
from .peers import CONNECTIONS, RICOCHET_SOFT_ERRORS, Workload
from .servers import Context, Server, kill_group
from .util import ROOT, Fatal, child_env, log, si


class Runner:
    """Runs `ricochet bench` workloads against the started servers."""

    def __init__(self, ctx: Context, servers: dict[str, dict[str, Server]]):
        self.ctx, self.servers = ctx, servers

    def bench_cmd(self, wl: Workload, endpoints: list[str], rounds: int,
                  duration: float, warmup: float) -> list[str]:
        cmd = self.ctx.client_pin + [
            self.ctx.ricochet, "bench", *endpoints, "-c", str(CONNECTIONS), "-t", "1",
            "-s", str(wl.size), "-d", f"{duration * 1000:.0f}ms", "-w", f"{warmup * 1000:.0f}ms",
            "--rounds", str(rounds), "--json", "-q"]
        if wl.kind == "one_shot":
            cmd.append("--one-shot")
        if wl.kind == "open":
            cmd += ["--rate", f"{wl.rate:.0f}"]
        return cmd

    def invoke(self, cmd: list[str], budget: float, sampled: list[Server] | None = None):
        """Runs one `ricochet bench`; returns (status, report or None, stderr,
        sampler, foreign CPUs)."""
        usage0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self_0 = resource.getrusage(resource.RUSAGE_SELF)
        busy0, steal0 = system_busy_ticks()
        wall0 = time.monotonic()
        sampler = CpuSampler(sampled or [], self.ctx.server_cpu)
        with sampler:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL, env=child_env(), cwd=ROOT,
                                    start_new_session=True)
            self.ctx.processes.append(proc)
            try:
                out, err = proc.communicate(timeout=budget)
            except subprocess.TimeoutExpired:
                kill_group(proc, grace=2)
                out, err = proc.communicate()
                return None, None, f"timed out after {budget:.0f} s", sampler, None
        wall = time.monotonic() - wall0
        busy1, steal1 = system_busy_ticks()
        usage1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        self_1 = resource.getrusage(resource.RUSAGE_SELF)
        ours = (usage1.ru_utime + usage1.ru_stime - usage0.ru_utime - usage0.ru_stime
                + self_1.ru_utime + self_1.ru_stime - self_0.ru_utime - self_0.ru_stime
                + sampler.total_seconds())
        foreign = max(0.0, ((busy1 - busy0) + (steal1 - steal0)) / CLK_TCK - ours) / wall
        report = None
        try:
            report = json.loads(out) if out.strip() else None
        except json.JSONDecodeError:
            pass
        return proc.returncode, report, err.decode(errors="replace").strip(), sampler, foreign

    def run(self, wl: Workload) -> dict:
        """One workload against every usable server; peers that cannot run it
        are marked failed and the rest measured."""
        p = self.ctx.profile
        duration = p.open_duration if wl.kind == "open" else p.duration
        result = {"id": wl.id, "title": wl.title, "kind": wl.kind, "transport": wl.transport,
                  "size": wl.size, "rate": wl.rate, "unit": wl.unit, "rounds": p.rounds,
                  "duration_secs": duration, "warmup_secs": p.warmup,
                  "connections": CONNECTIONS, "targets": {}}
        candidates = []
        for name in self.ctx.peers:
            s = self.servers[name][wl.transport]
            if s.ensure_running():
                candidates.append(s)
            else:
                result["targets"][name] = {"status": "failed", "reason": s.failed}
        with open("/proc/loadavg") as f:
            result["load_average"] = float(f.read().split()[0])
        for _attempt in range(2):
            if not candidates:
                break
            est = len(candidates) * p.rounds * (duration + p.warmup)
            log(f"{wl.title} ({wl.kind.replace('_', '-')}): {len(candidates)} servers × "
                f"{p.rounds} rounds, ~{est:.0f} s (load average {result['load_average']:.2f})")
            cmd = self.bench_cmd(wl, [s.endpoint for s in candidates], p.rounds, duration, p.warmup)
            status, report, err, sampler, foreign = self.invoke(cmd, est * 2 + 60, candidates)
            if report and report.get("verification_failed"):
                self.verification_failed(wl, candidates, report, err)
            if status == 0 and report:
                result["command"] = " ".join(cmd)
                result["foreign_cpus"] = foreign
                self.collect(result, wl, candidates, report, sampler)
                return result
            log(f"  ! ricochet bench failed (status {status}): {err.splitlines()[-1] if err else '?'}")
            candidates = self.drop_failing(wl, candidates, result)
        for s in candidates:
            result["targets"].setdefault(s.peer.name, {"status": "failed", "reason": "ricochet bench failed twice"})
        return result

    def verification_failed(self, wl, candidates, report, err):
        bad = []
        for s, t in zip(candidates, report["targets"]):
            e = t["total"]["errors"]
            if e["mismatch"] or e["short_echo"]:
                bad.append(f"{s.peer.name} ({e['mismatch']} mismatched echoes, {e['short_echo']} short echoes)")
        path = os.path.join(self.ctx.args.out, f"failed-{wl.id}.json")
        os.makedirs(self.ctx.args.out, exist_ok=True)
        with open(path, "w") as f:
            json.dump(report, f, indent=1)
        raise Fatal(f"verification failed in {wl.title} ({wl.kind}): {'; '.join(bad) or err}. "
                    f"The server sent back bytes that were not sent. Report: {path}")

    def drop_failing(self, wl: Workload, candidates: list[Server], result: dict) -> list[Server]:
        """After a failed run: which servers broke it? Dead ones, then each
        alone in a short run. Marks those failed in `result` and returns the
        servers still worth running."""
        keep = []
        for s in candidates:
            if not s.alive():
                reason = f"exited during the run (status {s.proc.returncode}): {s.stderr_tail()}"
            else:
                cmd = self.bench_cmd(wl, [s.endpoint], 1, 0.2, 0.0)
                status, report, e, _, _ = self.invoke(cmd, 60)
                if report and report.get("verification_failed"):
                    self.verification_failed(wl, [s], report, e)
                if status == 0:
                    keep.append(s)
                    continue
                reason = f"ricochet bench exit status {status}: {e.splitlines()[-1] if e else '?'}"
            log(f"  ! {s.peer.name}: {reason}")
            result["targets"][s.peer.name] = {"status": "failed", "reason": reason}
            s.ensure_running()  # a fresh process for the next workload
        return keep

    def collect(self, result, wl, candidates, report, sampler):
        """Per server: each round's figures as the report gives them, with
        the server's CPU in that round's window beside them; the summaries
        from the report (figures.from_json) and the sampler
        (figures.harness_summary)."""
        started = report["started_unix_secs"]
        dur = report["config"]["duration_secs"]
        result["first"] = candidates[0].peer.name  # the JSON's ratios are to this server
        result["summary"] = figures.summary_kind(report)
        for i, (s, t) in enumerate(zip(candidates, report["targets"])):
            if t["endpoint"] != s.endpoint:
                raise Fatal(f"ricochet bench reported {t['endpoint']} where {s.endpoint} was expected")
            rounds = []
            for r in t["rounds"]:
                sm = r["summary"]
                ws = started + r["started_secs"]
                cpu = sampler.window_seconds(i, ws, ws + dur)
                lat = sm["latency_ns"]
                rounds.append({
                    "per_sec": sm["messages_per_sec"], "count": sm["messages"],
                    "p50_ns": lat["p50"], "p99_ns": lat["p99"], "p99_9_ns": lat["p99_9"],
                    "max_ns": lat["max"], "cpu_secs": cpu,
                    "others_on_core_secs": sampler.others_on_core_seconds(i, ws, ws + dur),
                    "cpu_us_per_unit": cpu * 1e6 / sm["messages"] if cpu is not None and sm["messages"] else None,
                    "errors": sm["errors"],
                })
            errors = t["total"]["errors"]
            entry = {"status": "ok", "endpoint": s.endpoint, "rounds": rounds, "errors": errors,
                     # all of this server's CPU during the run: warm-ups, windows,
                     # teardown, idle time; a check on the windowed figures
                     "cpu_secs_whole_run": sampler.whole_run_seconds(i),
                     **figures.from_json(report, i), **figures.harness_summary(rounds, dur)}
            if wl.kind == "open" and entry["per_sec"] < 0.97 * wl.rate:
                entry["note"] = f"did not sustain the rate ({entry['per_sec']:,.0f}/s)"
            if any(errors.get(k) for k in RICOCHET_SOFT_ERRORS):
                entry["note"] = (entry.get("note", "") + " " + ", ".join(
                    f"{errors[k]} {k}" for k in RICOCHET_SOFT_ERRORS if errors.get(k)) + " errors").strip()
            result["targets"][s.peer.name] = entry
        ok = {n: t for n, t in result["targets"].items() if t["status"] == "ok"}
        line = ", ".join(f"{n} {si(t['per_sec'])}" for n, t in
                         sorted(ok.items(), key=lambda kv: -kv[1]["per_sec"]))
        log(f"  {wl.unit}/s: {line}; other load {result['foreign_cpus']:.2f} CPUs")
