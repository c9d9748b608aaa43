"""One load-generator process: closed-loop HTTP/1.1 over N keep-alive connections.

Reads its job as JSON on stdin (see ``harness.load``), prints its counts as
JSON on stdout. Runs until the measuring window closes, then stops.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from harness import Connection  # noqa: E402

MAX_SAMPLES = 20_000


async def main(spec: dict) -> dict:
    requests = [r.encode("latin-1") for r in spec["requests"]]
    begin = spec["start_at"] + spec["warmup"]
    end = begin + spec["duration"]
    counts = {"completed": 0, "errors": 0, "statuses": {}, "latencies": []}

    async def worker(index: int) -> None:
        conn = Connection(spec["host"], spec["port"])
        position = index + spec["offset"]
        try:
            while time.time() < end:
                data = requests[position % len(requests)]
                position += 1
                sent = time.perf_counter()
                try:
                    answer = await conn.request(data)
                except (OSError, asyncio.IncompleteReadError, ValueError):
                    conn.close()
                    counts["errors"] += 1
                    continue
                now = time.time()
                if begin <= now < end:
                    status = str(answer.status)
                    counts["statuses"][status] = counts["statuses"].get(status, 0) + 1
                    if answer.status == 200:
                        counts["completed"] += 1
                        if len(counts["latencies"]) < MAX_SAMPLES:
                            counts["latencies"].append(time.perf_counter() - sent)
                    else:
                        counts["errors"] += 1
        finally:
            conn.close()

    # Open every connection first, then start together.
    delay = spec["start_at"] - time.time()
    if delay > 0:
        await asyncio.sleep(delay)
    await asyncio.gather(*(worker(i) for i in range(spec["connections"])))
    return counts


if __name__ == "__main__":
    job = json.loads(sys.stdin.read())
    print(json.dumps(asyncio.run(main(job))))
