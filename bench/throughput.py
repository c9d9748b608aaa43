"""Benchmarks 2 and 3: request rates against the stack's own limit and against moto.

Both use :func:`harness.load`: the same closed-loop client in separate
processes, the same concurrency, the same duration, the servers measured in
alternating rounds (A B A B …) so that noise from the shared machine falls on
both; each figure is the median of its rounds.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from harness import (
    LoadResult,
    call,
    load,
    median,
    raw_request,
    start_baseline,
    start_livelens,
    start_moto,
    workdir,
)
from seed import seed

CONCURRENCY = 8
PROCESSES = 2


def _settings(quick: bool) -> dict[str, Any]:
    if quick:
        return {"rounds": 1, "duration": 0.6, "warmup": 0.2}
    return {"rounds": 3, "duration": 8.0, "warmup": 2.0}


def _rounds(targets: dict[str, tuple[str, list[bytes]]], quick: bool) -> dict[str, dict[str, Any]]:
    settings = _settings(quick)
    results: dict[str, list[LoadResult]] = {name: [] for name in targets}
    for _ in range(settings["rounds"]):
        for name, (url, requests) in targets.items():
            results[name].append(load(url, requests, concurrency=CONCURRENCY, processes=PROCESSES,
                                      duration=settings["duration"], warmup=settings["warmup"]))
    summary = {}
    for name, rounds in results.items():
        summary[name] = {
            "requests_per_s": round(median([r.requests_per_second for r in rounds]), 1),
            "rounds_requests_per_s": [round(r.requests_per_second, 1) for r in rounds],
            "p50_ms": round(median([r.p50_ms for r in rounds]), 2),
            "p99_ms": round(median([r.p99_ms for r in rounds]), 2),
            "errors": sum(r.errors for r in rounds),
            "statuses": rounds[-1].statuses,
        }
        if summary[name]["errors"] or not any(r.completed for r in rounds):
            raise RuntimeError(f"{name}: requests failed: {summary[name]}")
    return summary


def list_vs_limit(quick: bool = False) -> dict[str, Any]:
    """Benchmark 2: V2 pages of 100 segments from livelens vs the same bytes from a no-work app."""
    with workdir("list") as directory:
        seeded = seed(directory / "livelens.db", segments=400)
        server = start_livelens(directory, db=seeded.db)
        baseline = None
        try:
            path = f"/contact/list-real-time-analysis-segments-v2/{seeded.instance_id}/{seeded.contact_id}"
            payload = {"OutputType": "Raw", "SegmentTypes": ["Transcript"], "MaxResults": 100,
                       "NextToken": seeded.next_token(100)}
            page = call(server.url, "POST", path, payload)
            assert len(page["Segments"]) == 100, page
            body = json.dumps(payload).encode()
            answer_bytes = json.dumps(page, separators=(",", ":"), ensure_ascii=False).encode()
            body_file = directory / "page.json"
            body_file.write_bytes(answer_bytes)
            baseline = start_baseline(body_file, {"x-amzn-RequestId": str(uuid.uuid4())})
            server.wait_idle()
            summary = _rounds({
                "livelens": (server.url, [raw_request("POST", server.host, path, body)]),
                "baseline": (baseline.url, [raw_request("POST", baseline.host, path, body)]),
            }, quick)
        finally:
            server.stop()
            if baseline is not None:
                baseline.stop()
    ratio = summary["livelens"]["requests_per_s"] / summary["baseline"]["requests_per_s"]
    return {**summary, "ratio": round(ratio, 3), "page_bytes": len(answer_bytes), "concurrency": CONCURRENCY,
            "client_processes": PROCESSES, **_settings(quick)}


def against_moto(quick: bool = False) -> dict[str, Any]:
    """Benchmark 3: DescribeInstance on livelens vs moto's server mode."""
    with workdir("peer") as directory:
        server = start_livelens(directory)
        moto = None
        try:
            moto = start_moto()
            create = {"IdentityManagementType": "CONNECT_MANAGED", "InstanceAlias": "bench-peer",
                      "InboundCallsEnabled": True, "OutboundCallsEnabled": True}
            targets = {}
            for name, target in (("livelens", server), ("moto", moto)):
                instance_id = call(target.url, "PUT", "/instance", create)["Id"]
                path = f"/instance/{instance_id}"
                described = call(target.url, "GET", path)
                assert described["Instance"]["Id"] == instance_id, described
                targets[name] = (target.url, [raw_request("GET", target.host, path)])
            server.wait_idle()
            moto.wait_idle()
            summary = _rounds(targets, quick)
        finally:
            server.stop()
            if moto is not None:
                moto.stop()
    ratio = summary["livelens"]["requests_per_s"] / summary["moto"]["requests_per_s"]
    return {**summary, "ratio": round(ratio, 3), "concurrency": CONCURRENCY, "client_processes": PROCESSES,
            **_settings(quick)}
