"""Benchmark 6: start-up, from ``livelens serve`` to the first answered request.

The clock starts just before the process is spawned (fresh database, so the
migrations run too) and stops when a signed ListInstances is answered 200;
the client retries every 5 ms from the spawn on. Median of several starts.
"""

from __future__ import annotations

import asyncio
import os
import re
import subprocess
import time
from typing import Any

from harness import LIVELENS, Connection, credentials_file, median, raw_request, workdir


async def _first_answer(process: subprocess.Popen[str], deadline: float) -> float:
    assert process.stdout is not None
    # The port is unknown until the server says where it listens: read that line without blocking the clock.
    loop = asyncio.get_running_loop()
    line = ""
    while "listening on" not in line:
        line = await loop.run_in_executor(None, process.stdout.readline)
        if not line:
            raise RuntimeError("livelens serve exited before listening")
    listening = time.perf_counter()
    found = re.search(r"listening on http://([\d.]+):(\d+)", line)
    assert found is not None, line
    host, port = found.group(1), int(found.group(2))
    request = raw_request("GET", f"{host}:{port}", "/instance")
    while time.perf_counter() < deadline:
        conn = Connection(host, port)
        try:
            answer = await conn.request(request)
            if answer.status == 200:
                return listening
        except OSError:
            pass
        finally:
            conn.close()
        await asyncio.sleep(0.005)
    raise RuntimeError("no answer before the deadline")


def _once() -> dict[str, float]:
    with workdir("startup") as directory:
        environment = {**os.environ, "LIVELENS_LOG_LEVEL": "warning"}
        started = time.perf_counter()
        process = subprocess.Popen(
            [LIVELENS, "serve", "--port", "0", "--db", str(directory / "livelens.db"),
             "--credentials", str(credentials_file(directory))],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=environment,
        )
        try:
            listening = asyncio.run(_first_answer(process, started + 120))
            answered = time.perf_counter()
        finally:
            process.terminate()
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
    return {"listening_s": listening - started, "first_answer_s": answered - started}


def run(quick: bool = False) -> dict[str, Any]:
    runs = [_once() for _ in range(1 if quick else 5)]
    return {
        "runs": len(runs),
        "first_answer_s": round(median([r["first_answer_s"] for r in runs]), 3),
        "listening_s": round(median([r["listening_s"] for r in runs]), 3),
        "all_first_answer_s": [round(r["first_answer_s"], 3) for r in runs],
    }
