"""Benchmark 10 (a soak, not a speed figure): the wire fuzz test, long.

``tests/unit/test_fuzz_wire.py`` runs in ``make test`` with 25 generated inputs per operation; here it
runs with 500 (``--quick``: 5) for every operation of the four service models, and reports whether any
input produced a 5xx or a traceback, how many inputs were sent and how long it took.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def run(quick: bool = False) -> dict[str, Any]:
    examples = 5 if quick else 500
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/unit/test_fuzz_wire.py"],
        capture_output=True, text=True, cwd=REPO, timeout=3600,
        env={**os.environ, "LIVELENS_FUZZ_EXAMPLES": str(examples)},
    )
    passed = re.search(r"(\d+) passed", result.stdout)
    failed = re.search(r"(\d+) failed", result.stdout)
    return {
        "examples_per_operation": examples,
        "operations": int(passed.group(1)) + (int(failed.group(1)) if failed else 0) - 1 if passed else 0,
        "clean": result.returncode == 0,
        "seconds": time.monotonic() - started,
        "failures": result.stdout[-2000:] if result.returncode else "",
    }


if __name__ == "__main__":
    print(run())
