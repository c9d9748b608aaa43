"""Two analysis workers in one process, one SQLite setting apart, stepped alternately (benchmark 8's rounds).

    python bench/worker_interleaved.py [--setting temp_store=MEMORY] [--against temp_store=DEFAULT]
                                       [--rounds 800] [--batch 1]

Benchmark 8 drains in separate processes, and on a shared VM whose speed drifts by ±10 % between runs that
cannot resolve a change of a few per cent. Here both workers share one process, so the models are loaded
once and a slow moment hits both alike: each gets its own copy of one seeded database (benchmark 8's
pending chat turns and 50 rules), its connections get ``PRAGMA <setting>`` or ``PRAGMA <against>``, and
their rounds (``Worker.step``) alternate. The worker created second runs slower by itself (by a few per
cent), so the run is made twice with the roles swapped, and the setting's effect is the geometric mean of
the two ratios with that bias divided out. Prints CPU (``time.process_time``) and wall time per turn.
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from workers import seed_pending


def _workers(directory: Path, template: Path, pragmas: list[str], batch: int) -> list[Any]:
    import livelens.storage.sqlite as sqlite_storage
    from livelens.app import build_worker, contact_center, pipeline_factory
    from livelens.config import Settings
    from livelens.storage import open_storage
    from livelens.worker.notify import EventWaker

    connect = sqlite_storage._connect
    built = []
    try:
        for n, pragma in enumerate(pragmas):
            db = directory / f"worker-{n}.db"
            shutil.copy(template, db)

            def with_pragma(path: str, pragma: str = pragma) -> Any:
                conn = connect(path)
                conn.execute(f"PRAGMA {pragma}")
                return conn

            sqlite_storage._connect = with_pragma  # type: ignore[assignment]
            settings = Settings(db=str(db), analysis_batch=batch)
            storage = open_storage(settings.db)
            center = contact_center(settings, storage, pipeline_factory(settings, frozenset()))
            built.append(build_worker(settings, storage, center, EventWaker()))
    finally:
        sqlite_storage._connect = connect  # type: ignore[assignment]
    return built


def _run(directory: Path, template: Path, first: str, second: str, rounds: int, batch: int) -> dict[str, Any]:
    workers = _workers(directory, template, [first, second], batch)
    for worker in workers:  # warm-up: models, caches, the first claims
        for _ in range(10):
            worker.step()
    cpu: list[list[float]] = [[], []]
    wall: list[list[float]] = [[], []]
    for r in range(rounds):
        for n in ((0, 1) if r % 2 == 0 else (1, 0)):
            cpu0, wall0 = time.process_time(), time.perf_counter()
            done = workers[n].step()
            if done:
                cpu[n].append((time.process_time() - cpu0) / done)
                wall[n].append((time.perf_counter() - wall0) / done)
    for worker in workers:
        worker.storage.close()
    return {
        "first": first, "second": second,
        "cpu_ms_per_turn": [round(statistics.mean(c) * 1000, 3) for c in cpu],
        "wall_ms_per_turn": [round(statistics.mean(w) * 1000, 3) for w in wall],
        "cpu_second_over_first": round(statistics.mean(cpu[1]) / statistics.mean(cpu[0]), 4),
    }


def run(setting: str = "temp_store=MEMORY", against: str = "temp_store=DEFAULT", rounds: int = 800,
        batch: int = 1) -> dict[str, Any]:
    contacts = (rounds + 20) * batch  # one pending turn each; every round of each worker takes ``batch``
    with tempfile.TemporaryDirectory(prefix="livelens-bench-") as tmp:
        directory = Path(tmp)
        template = directory / "template.db"
        seed_pending(template, contacts, 1)
        runs = []
        for first, second in ((against, setting), (setting, against)):
            run_dir = directory / f"run-{len(runs)}"
            run_dir.mkdir()
            runs.append(_run(run_dir, template, first, second, rounds, batch))
    # run 0: setting second -> (1 + bias) * effect; run 1: against second -> (1 + bias) / effect
    setting_second, against_second = (r["cpu_second_over_first"] for r in runs)
    return {"setting": setting, "against": against, "rounds": rounds, "batch": batch, "runs": runs,
            "cpu_setting_over_against": round(math.sqrt(setting_second / against_second), 4),
            "second_worker_bias": round(math.sqrt(setting_second * against_second), 4)}


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--setting", default="temp_store=MEMORY")
    parser.add_argument("--against", default="temp_store=DEFAULT")
    parser.add_argument("--rounds", type=int, default=800)
    parser.add_argument("--batch", type=int, default=1)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.setting, args.against, args.rounds, args.batch), indent=2))


if __name__ == "__main__":
    main(sys.argv[1:])
