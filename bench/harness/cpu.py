"""Server CPU accounting from /proc: ticks of a server process (and a
forking server's children), of one core, of the whole box, and a sampler
thread from whose samples each round's measured window is cut out, so CPU
is attributed per server and per round although the rounds interleave.
ricochet bench cannot see the servers' CPU, so this is the harness's own."""

from __future__ import annotations

import bisect
import os
import threading
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


def proc_ticks(pid: int) -> int:
    """utime+stime+cutime+cstime of one process, in clock ticks."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15])


def proc_children(pid: int) -> list[int]:
    kids = []
    try:
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as f:
                kids += [int(x) for x in f.read().split()]
    except OSError:
        pass
    return kids


def group_ticks(pid: int, forks: bool) -> int:
    """CPU ticks of a server: the process (all its threads), plus, for a
    forking server, its live children; reaped children are already in the
    parent's cutime/cstime."""
    total = proc_ticks(pid)
    if forks:
        for kid in proc_children(pid):
            try:
                total += proc_ticks(kid)
            except OSError:
                pass  # exited between listing and reading
    return total


def core_busy_ticks(core: int) -> int:
    """user+nice+system ticks of one CPU, from /proc/stat."""
    with open("/proc/stat") as f:
        for line in f:
            if line.startswith(f"cpu{core} "):
                v = line.split()[1:]
                return int(v[0]) + int(v[1]) + int(v[2])
    raise ValueError(f"no cpu{core} in /proc/stat")


def system_busy_ticks() -> tuple[int, int]:
    """(user+nice+system, steal) over all CPUs, from /proc/stat."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return v[0] + v[1] + v[2], (v[7] if len(v) > 7 else 0)


class CpuSampler:
    """Samples the CPU ticks of some servers every `period` seconds on a
    thread, so each round's measured window can be cut out afterwards."""

    def __init__(self, servers: list, core: int | None, period: float = 0.025):
        self.servers = servers
        self.core = core  # the servers' CPU: how busy it was besides them
        self.period = period
        self.times: list[float] = []
        self.ticks: list[list[int | None]] = []
        self.core_ticks: list[list[int | None]] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self):
        row = []
        for s in self.servers:
            try:
                row.append(group_ticks(s.proc.pid, s.peer.forks))
            except (OSError, ValueError, IndexError):
                row.append(None)
        try:
            core = core_busy_ticks(self.core) if self.core is not None else None
        except (OSError, ValueError):
            core = None
        self.times.append(time.time())
        self.ticks.append(row)
        self.core_ticks.append([core])

    def _run(self):
        while not self._stop.wait(self.period):
            self._sample()

    def __enter__(self):
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(5)
        self._sample()

    def at(self, i: int, t: float, series=None) -> float | None:
        """Server i's ticks (or another series) at wall time t, linearly
        interpolated."""
        series = self.ticks if series is None else series
        k = bisect.bisect_left(self.times, t)
        if k == 0 or k >= len(self.times):
            return None
        t0, t1 = self.times[k - 1], self.times[k]
        a, b = series[k - 1][i], series[k][i]
        if a is None or b is None:
            return None
        return a + (b - a) * (t - t0) / (t1 - t0) if t1 > t0 else float(a)

    def window_seconds(self, i: int, start: float, end: float) -> float | None:
        a, b = self.at(i, start), self.at(i, end)
        return None if a is None or b is None else (b - a) / CLK_TCK

    def others_on_core_seconds(self, i: int, start: float, end: float) -> float | None:
        """CPU seconds the servers' core spent on anything but server i in
        the window: someone else's work competing with it."""
        a, b = self.at(0, start, self.core_ticks), self.at(0, end, self.core_ticks)
        own = self.window_seconds(i, start, end)
        if a is None or b is None or own is None:
            return None
        return max(0.0, (b - a) / CLK_TCK - own)

    def whole_run_seconds(self, i: int) -> float | None:
        a, b = self.ticks[0][i], self.ticks[-1][i]
        return None if a is None or b is None else (b - a) / CLK_TCK

    def total_seconds(self) -> float:
        first, last = self.ticks[0], self.ticks[-1]
        return sum((b - a) for a, b in zip(first, last) if a is not None and b is not None) / CLK_TCK
