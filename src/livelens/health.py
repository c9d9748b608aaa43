"""``GET /livelens/v1/health`` and ``GET /livelens/v1/metrics``: is the node up, is analysis keeping up.

* ``/livelens/v1/health`` is unsigned (for load balancers): 200 with a small
  JSON body while the database answers a read, 503 when it does not.
* ``/livelens/v1/metrics`` is the Prometheus text format (0.0.4). It answers
  unsigned requests from the loopback interface; from anywhere else it needs
  a SigV4 signature by one of the server's credentials (a scraper on another
  host signs, or scrapes through a local agent).

Figures come from the database, so they cover every worker of the database
(the server's own, and ``livelens worker`` processes elsewhere): totals of
items accepted and analysed, the backlog, the age of the oldest unanalysed
item, and each live worker's counters and per-stage latency histograms from
its last heartbeat. Rates are computed between scrapes in this process.
"""

from __future__ import annotations

import collections
import ipaddress
import json
import threading
import time
from collections.abc import Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response

from livelens.api.auth import AuthError, SigV4Verifier
from livelens.storage.base import Backlog, Storage
from livelens.worker.stats import BUCKETS

HEALTH_PATH = "/livelens/v1/health"
METRICS_PATH = "/livelens/v1/metrics"
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _loopback(host: str | None) -> bool:
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


class Observatory:
    """The two endpoints; ``restarts``/``configured`` come from the worker supervisor, if any."""

    def __init__(
        self,
        storage: Storage,
        verifier: SigV4Verifier,
        *,
        workers_alive_seconds: float,
        configured_workers: int,
        restarts: Callable[[], int] = lambda: 0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = storage
        self.verifier = verifier
        self.workers_alive_seconds = workers_alive_seconds
        self.configured_workers = configured_workers
        self.restarts = restarts
        self.clock = clock
        self._samples: collections.deque[tuple[float, int, int]] = collections.deque()
        self._lock = threading.Lock()

    def _read(self) -> tuple[Backlog, list[dict[str, Any]]]:
        with self.storage.read() as tx:
            return tx.analysis_backlog(), tx.list_workers(self.clock() - self.workers_alive_seconds)

    async def health(self, request: Request) -> Response:
        import asyncio

        try:
            backlog, workers = await asyncio.to_thread(self._read)
        except Exception as exc:
            down = {"status": "unavailable", "database": f"{type(exc).__name__}: {exc}"[:300]}
            return Response(json.dumps(down), status_code=503, media_type="application/json")
        now = self.clock()
        body: dict[str, Any] = {
            "status": "ok",
            "database": "ok",
            "analysis": {
                "workers": len(workers),
                "pending_items": backlog.pending_items,
                "pending_contacts": backlog.pending_contacts,
                "oldest_pending_seconds": (
                    round(max(0.0, now - backlog.oldest_pending_accepted_at), 3)
                    if backlog.oldest_pending_accepted_at is not None else 0.0
                ),
            },
        }
        return Response(json.dumps(body), media_type="application/json")

    async def metrics(self, request: Request) -> Response:
        import asyncio

        if not _loopback(request.client.host if request.client else None):
            body = await request.body()
            try:
                self.verifier.verify(request.method, str(request.url), dict(request.headers), body)
            except AuthError as exc:
                return PlainTextResponse(f"{exc.code}: {exc.message}\n", status_code=403)
        try:
            backlog, workers = await asyncio.to_thread(self._read)
        except Exception as exc:
            return PlainTextResponse(f"database unavailable: {type(exc).__name__}\n", status_code=503)
        return Response(self.render(backlog, workers), media_type=CONTENT_TYPE)

    def _rates(self, backlog: Backlog) -> tuple[float, float] | None:
        now = time.monotonic()
        with self._lock:
            self._samples.append((now, backlog.accepted_items, backlog.analysed_items))
            while len(self._samples) > 2 and now - self._samples[1][0] >= 60:
                self._samples.popleft()
            first = self._samples[0]
        elapsed = now - first[0]
        if elapsed < 1.0:
            return None
        return (backlog.accepted_items - first[1]) / elapsed, (backlog.analysed_items - first[2]) / elapsed

    def render(self, backlog: Backlog, workers: list[dict[str, Any]]) -> str:
        out: list[str] = []

        def metric(name: str, kind: str, help_text: str, samples: list[tuple[str, float]]) -> None:
            out.append(f"# HELP {name} {help_text}")
            out.append(f"# TYPE {name} {kind}")
            for labels, value in samples:
                out.append(f"{name}{labels} {_number(value)}")

        now = self.clock()
        metric("livelens_items_accepted_total", "counter",
               "Transcript items (turns, events, end markers) accepted and stored.", [("", backlog.accepted_items)])
        metric("livelens_items_analysed_total", "counter",
               "Transcript items analysed and committed to the segment log.", [("", backlog.analysed_items)])
        rates = self._rates(backlog)
        if rates is not None:
            metric("livelens_items_accepted_per_second", "gauge",
                   "Items accepted per second since an earlier scrape (up to a minute ago).", [("", rates[0])])
            metric("livelens_items_analysed_per_second", "gauge",
                   "Items analysed per second since an earlier scrape (up to a minute ago).", [("", rates[1])])
        metric("livelens_analysis_backlog_items", "gauge", "Items accepted but not yet analysed.",
               [("", backlog.pending_items)])
        metric("livelens_analysis_backlog_contacts", "gauge", "Contacts with items not yet analysed.",
               [("", backlog.pending_contacts)])
        metric("livelens_analysis_claimed_contacts", "gauge", "Contacts a worker holds a claim on.",
               [("", backlog.claimed_contacts)])
        oldest = backlog.oldest_pending_accepted_at
        metric("livelens_analysis_oldest_pending_age_seconds", "gauge",
               "Age of the oldest item not yet analysed (0 when none).",
               [("", max(0.0, now - oldest) if oldest is not None else 0.0)])
        metric("livelens_analysis_workers", "gauge", "Analysis workers with a recent heartbeat.", [("", len(workers))])
        metric("livelens_analysis_worker_processes", "gauge",
               "Worker processes this server runs (0: analysis in the server process).",
               [("", self.configured_workers)])
        metric("livelens_analysis_worker_restarts_total", "counter",
               "Worker processes this server restarted after they died.", [("", self.restarts())])
        counters: dict[str, list[tuple[str, float]]] = {}
        histograms: dict[str, list[tuple[str, dict[str, Any]]]] = {}
        for worker in workers:
            label = _escape(str(worker["id"]))
            stats = worker["stats"] or {}
            for name, value in (stats.get("counters") or {}).items():
                counters.setdefault(name, []).append((f'{{worker="{label}"}}', value))
            for stage, histogram in (stats.get("histograms") or {}).items():
                histograms.setdefault(stage, []).append((label, histogram))
        for name, samples in sorted(counters.items()):
            metric(f"livelens_worker_{name}_total", "counter", f"Per worker (since it started): {name}.", samples)
        if histograms:
            out.append("# HELP livelens_analysis_stage_seconds Time per call of each analysis stage (pipeline "
                       "components: per batch; rules: per turn; summary: per contact).")
            out.append("# TYPE livelens_analysis_stage_seconds histogram")
            for stage, per_worker in sorted(histograms.items()):
                for label, histogram in per_worker:
                    labels = f'stage="{_escape(stage)}",worker="{label}"'
                    cumulative = 0
                    counts = histogram["counts"]
                    for bound, count in zip((*BUCKETS, float("inf")), counts, strict=False):
                        cumulative += count
                        le = "+Inf" if bound == float("inf") else _number(bound)
                        out.append(f'livelens_analysis_stage_seconds_bucket{{{labels},le="{le}"}} {cumulative}')
                    out.append(f"livelens_analysis_stage_seconds_sum{{{labels}}} {_number(histogram['sum'])}")
                    out.append(f"livelens_analysis_stage_seconds_count{{{labels}}} {cumulative}")
        return "\n".join(out) + "\n"


def _number(value: float) -> str:
    if isinstance(value, int):
        return str(value)
    return repr(round(float(value), 6))


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
