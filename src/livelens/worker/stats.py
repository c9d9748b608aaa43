"""What a worker reports in its heartbeat: counters and latency histograms (Prometheus-shaped)."""

from __future__ import annotations

import bisect
import threading
from typing import Any

#: Histogram bucket upper bounds in seconds (Prometheus ``le``), the last one +Inf implied.
BUCKETS: tuple[float, ...] = (0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class WorkerStats:
    """Thread-safe counters and per-stage histograms; :meth:`snapshot` is stored as JSON."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.counters: dict[str, int] = {
            "batches": 0, "turns": 0, "items": 0, "commits": 0, "refused_commits": 0, "failures": 0,
            "failed_contacts": 0,
        }
        self.histograms: dict[str, tuple[list[int], list[float]]] = {}  # stage -> (bucket counts, [sum])

    def count(self, name: str, value: int = 1) -> None:
        with self._lock:
            self.counters[name] = self.counters.get(name, 0) + value

    def observe(self, stage: str, seconds: float, times: int = 1) -> None:
        """Record ``times`` observations of ``seconds`` each (a batch's per-turn share, ``times`` turns)."""
        with self._lock:
            counts, total = self.histograms.setdefault(stage, ([0] * (len(BUCKETS) + 1), [0.0]))
            counts[bisect.bisect_left(BUCKETS, seconds)] += times
            total[0] += seconds * times

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {
                "counters": dict(self.counters),
                "histograms": {k: {"counts": list(c), "sum": s[0]} for k, (c, s) in self.histograms.items()},
            }
