"""Process probes: CPU time of another process and peak resident memory of this one (Linux)."""

from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass

_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def process_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) consumed so far by ``pid``.

    ``/proc/<pid>/schedstat`` has nanosecond resolution (the server is single-threaded, so its
    main thread is the whole process); ``/proc/<pid>/stat`` (clock ticks) is the fallback.
    """
    try:
        with open(f"/proc/{pid}/schedstat") as fh:
            return int(fh.read().split()[0]) / 1e9
    except (OSError, ValueError, IndexError):
        pass
    with open(f"/proc/{pid}/stat") as fh:
        fields = fh.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _CLK_TCK


def system_busy_seconds() -> float:
    """CPU time all processes on the machine have used (``/proc/stat``; 0 where absent)."""
    try:
        with open("/proc/stat") as fh:
            fields = [int(v) for v in fh.readline().split()[1:9]]
    except (OSError, ValueError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / _CLK_TCK


@dataclass
class Interval:
    """Wall time and CPU time (this process, the server, everything else) over a block."""

    wall: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    other_cpu: float = 0.0

    def __add__(self, other: Interval) -> Interval:
        return Interval(
            self.wall + other.wall,
            self.client_cpu + other.client_cpu,
            self.server_cpu + other.server_cpu,
            self.other_cpu + other.other_cpu,
        )

    @property
    def server_share(self) -> float:
        """The server's CPU time as a fraction of wall time (1.0 = one core busy throughout)."""
        return self.server_cpu / self.wall if self.wall > 0 else 0.0

    @property
    def other_share(self) -> float:
        """CPU used by every other process (background load), in cores."""
        return self.other_cpu / self.wall if self.wall > 0 else 0.0


class Stopwatch:
    """Measures an :class:`Interval`; ``server_pid`` is the benchmark server's process id."""

    def __init__(self, server_pid: int) -> None:
        self.server_pid = server_pid
        self._wall = self._cpu = self._server = self._busy = 0.0

    def start(self) -> None:
        self._busy = system_busy_seconds()
        self._server = process_cpu_seconds(self.server_pid)
        self._cpu = time.process_time()
        self._wall = time.perf_counter()

    def stop(self) -> Interval:
        wall = time.perf_counter() - self._wall
        cpu = time.process_time() - self._cpu
        server = process_cpu_seconds(self.server_pid) - self._server
        busy = system_busy_seconds() - self._busy
        return Interval(wall, cpu, server, max(0.0, busy - cpu - server))


def peak_rss_bytes() -> int:
    """Peak resident set size of this process (``VmHWM``; ``ru_maxrss`` where /proc is absent)."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
