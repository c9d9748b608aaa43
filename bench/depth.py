"""Benchmark 4: depth does not cost.

Two databases seeded through the storage layer:

* ``one``: a single CHAT contact with D Transcript segments (D = 100,000);
* ``many``: the same kind of contact (D segments) among C - 1 other contacts
  with 2 segments each (C = 100,000).

One keep-alive connection, one request at a time, the three cases in
alternating rounds: a page of 100 after segment 10 of ``one``, a page of 100
ending at segment D of ``one``, and a page of 100 after segment 10 of
``many``. Ratios of the median times: deep / shallow, and many / one.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from harness import Connection, median, raw_request, start_livelens, workdir
from seed import Seeded, seed

PAGE = 100


async def _time_pages(cases: dict[str, tuple[Any, Seeded, int]], rounds: int, per_round: int) -> dict[str, list[float]]:
    times: dict[str, list[float]] = {name: [] for name in cases}
    connections = {name: Connection("127.0.0.1", server.port) for name, (server, _, _) in cases.items()}
    try:
        requests = {}
        for name, (server, seeded, after) in cases.items():
            path = f"/contact/list-real-time-analysis-segments-v2/{seeded.instance_id}/{seeded.contact_id}"
            body = json.dumps({"OutputType": "Raw", "SegmentTypes": ["Transcript"], "MaxResults": PAGE,
                               "NextToken": seeded.next_token(after)}).encode()
            requests[name] = raw_request("POST", server.host, path, body)
            answer = await connections[name].request(requests[name])
            page = answer.json()
            if answer.status != 200 or len(page["Segments"]) != PAGE:
                raise RuntimeError(f"{name}: unexpected answer {answer.status}: {answer.body[:300]!r}")
        for _ in range(rounds):
            for name in cases:
                for _ in range(per_round):
                    started = time.perf_counter()
                    answer = await connections[name].request(requests[name])
                    elapsed = time.perf_counter() - started
                    if answer.status != 200:
                        raise RuntimeError(f"{name}: HTTP {answer.status}")
                    times[name].append(elapsed)
    finally:
        for conn in connections.values():
            conn.close()
    return times


def measure(directory: Path, one_db: Path | str, many_db: Path | str, *, depth: int, contacts: int,
            rounds: int, per_round: int) -> dict[str, Any]:
    """Seed ``one_db`` and ``many_db`` (files or PostgreSQL URLs), serve each, time the three cases."""
    started = time.perf_counter()
    one = seed(one_db, segments=depth)
    many = seed(many_db, segments=depth, other_contacts=contacts - 1)
    seeding = time.perf_counter() - started
    server_one = start_livelens(directory / "one", db=one.db)
    try:
        server_many = start_livelens(directory / "many", db=many.db)
        try:
            server_one.wait_idle()
            server_many.wait_idle()
            cases = {
                "one_at_10": (server_one, one, 10),
                "one_at_end": (server_one, one, depth - PAGE),
                "many_at_10": (server_many, many, 10),
            }
            times = asyncio.run(_time_pages(cases, rounds, per_round))
        finally:
            server_many.stop()
    finally:
        server_one.stop()
    medians = {name: median(values) * 1000 for name, values in times.items()}
    return {
        "segments": depth,
        "contacts": contacts,
        "requests_per_case": rounds * per_round,
        "seed_seconds": round(seeding, 1),
        **{f"{name}_ms": round(value, 2) for name, value in medians.items()},
        "depth_ratio": round(medians["one_at_end"] / medians["one_at_10"], 3),
        "contacts_ratio": round(medians["many_at_10"] / medians["one_at_10"], 3),
    }


def run(quick: bool = False) -> dict[str, Any]:
    depth, contacts = (2_000, 2_000) if quick else (100_000, 100_000)
    rounds, per_round = (3, 10) if quick else (10, 40)
    with workdir("depth") as directory:
        return measure(directory, directory / "one" / "livelens.db", directory / "many" / "livelens.db",
                       depth=depth, contacts=contacts, rounds=rounds, per_round=per_round)
