"""Benchmark 7 A/B: CPU per turn of this tree's pipeline against a baseline commit's, in one run.

``python bench/pipeline_ab.py --baseline REF [--rounds 3] [--quick]`` extracts ``src/`` of the git
commit ``REF`` into a temporary directory and runs benchmark 7 (``bench/batching.py``: the default
pipeline + 50 rules at batch 1, 8 and 32, CPU time per turn and per stage) alternately in a child
process on the baseline's code and on this tree's, so a slow moment of a shared machine hits both
alike. Prints (and with ``--json PATH`` writes) the medians per side and the ratios after/before.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def _extract(ref: str, into: Path) -> Path:
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref, "src"], check=True, capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def _measure(src: Path, quick: bool) -> dict[str, Any]:
    env = {**os.environ, "PYTHONPATH": str(src), "OMP_NUM_THREADS": "1"}
    code = (
        f"import json, sys, livelens; sys.path.insert(0, {str(BENCH)!r}); import batching; "
        f"r = batching.run({quick!r}); r['livelens'] = livelens.__file__; print('RESULT ' + json.dumps(r))"
    )
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    line = next(line for line in out.splitlines() if line.startswith("RESULT "))
    result: dict[str, Any] = json.loads(line[len("RESULT "):])
    return result


def _median_batches(runs: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for size in runs[0]["batches"]:
        rows = [r["batches"][size] for r in runs]
        stages = {k: round(statistics.median(r["stage_cpu_ms_per_turn"].get(k, 0.0) for r in rows), 2)
                  for k in rows[0].get("stage_cpu_ms_per_turn", {})}
        out[size] = {
            "cpu_ms_per_turn": round(statistics.median(r["cpu_ms_per_turn"] for r in rows), 2),
            "pipeline_cpu_ms_per_turn": round(statistics.median(r["pipeline_cpu_ms_per_turn"] for r in rows), 2),
            "rules_cpu_ms_per_turn": round(statistics.median(r["rules_cpu_ms_per_turn"] for r in rows), 2),
            "stage_cpu_ms_per_turn": stages,
        }
        out[size]["turns_per_core_s"] = round(1000 / out[size]["cpu_ms_per_turn"], 1)
    return out


def run(baseline: str, rounds: int = 3, quick: bool = False) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="livelens-ab-") as tmp:
        before_src = _extract(baseline, Path(tmp))
        runs: dict[str, list[dict[str, Any]]] = {"before": [], "after": []}
        for _ in range(rounds):
            runs["before"].append(_measure(before_src, quick))
            runs["after"].append(_measure(ROOT / "src", quick))
    before, after = _median_batches(runs["before"]), _median_batches(runs["after"])
    return {
        "baseline": baseline,
        "rounds": rounds,
        "before": before,
        "after": after,
        "ratio_after_to_before": {size: round(after[size]["cpu_ms_per_turn"] / before[size]["cpu_ms_per_turn"], 3)
                                  for size in before},
        "all_runs": runs,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="git commit (or branch) to compare against")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    result = run(args.baseline, args.rounds, args.quick)
    if args.json:
        args.json.write_text(json.dumps(result, indent=2))
    print("| batch | side | CPU ms/turn (pipeline / rules) | turns/s/core | per stage, CPU ms/turn |")
    print("| --- | --- | --- | --- | --- |")
    for size in result["before"]:
        for side in ("before", "after"):
            r = result[side][size]
            stages = ", ".join(f"{k} {v:.2f}" for k, v in r["stage_cpu_ms_per_turn"].items())
            print(f"| {size} | {side} | {r['cpu_ms_per_turn']:.2f} ({r['pipeline_cpu_ms_per_turn']:.2f} / "
                  f"{r['rules_cpu_ms_per_turn']:.2f}) | {r['turns_per_core_s']:.1f} | {stages} |")
        print(f"| {size} | after/before | {result['ratio_after_to_before'][size]:.3f} | | |")


if __name__ == "__main__":
    main()
