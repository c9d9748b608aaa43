"""The benchmark harness still runs: every benchmark in its ``--quick`` mode (tiny, a few seconds each).

This checks that the harness works, not how fast livelens is: `make bench`
measures that and BENCHMARKS.md records it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
BENCH = REPO / "bench"
MOTO = Path(sys.executable).parent / "moto_server"

sys.path.insert(0, str(BENCH))


def test_signer_matches_botocore() -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    from harness import ACCESS_KEY, REGION, SECRET_KEY, sigv4

    body = b'{"OutputType":"Raw","MaxResults":100}'
    headers = sigv4("POST", "127.0.0.1:8765", "/contact/list-real-time-analysis-segments-v2/i-1/c-1",
                    "b=2&a=1 2", body, {"Content-Type": "application/json"}, amz_date="20260102T030405Z")
    request = AWSRequest("POST", "http://127.0.0.1:8765/contact/list-real-time-analysis-segments-v2/i-1/c-1"
                         "?b=2&a=1%202", data=body,
                         headers={k: v for k, v in headers.items() if k != "Authorization"})
    request.context["timestamp"] = "20260102T030405Z"
    signer = SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "connect", REGION)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    assert headers["Authorization"].endswith(f"Signature={expected}")


def test_every_benchmark_runs_in_quick_mode(tmp_path: Path) -> None:
    chosen = ["latency", "list", "depth", "analysis", "startup", "batching", "seek"] + (
        ["peer"] if MOTO.exists() else [])
    if not MOTO.exists():
        warnings.warn("moto_server is not installed (pip install -e '.[bench]'): benchmark 3 not exercised",
                      stacklevel=1)
    out = tmp_path / "results.json"
    result = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--quick", "--only", ",".join(chosen), "--out", str(out)],
        capture_output=True, text=True, timeout=240, cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "| benchmark" in result.stdout and "QUICK mode" in result.stdout
    written = json.loads(out.read_text())
    assert set(written["results"]) == set(chosen)
    assert written["machine"]["nproc"]
    latency = written["results"]["latency"]["runs"][0]
    assert latency["accepted"] > 0 and latency["visible"] == latency["accepted"], latency
    assert written["results"]["list"]["ratio"] > 0
    assert written["results"]["depth"]["depth_ratio"] > 0
    assert written["results"]["analysis"]["turns_per_core_s"] > 0
    assert written["results"]["startup"]["first_answer_s"] > 0
    assert written["results"]["batching"]["batches"]["8"]["cpu_ms_per_turn"] > 0
    assert written["results"]["seek"]["indexed_ratio"] > 0
    if "peer" in chosen:
        assert written["results"]["peer"]["ratio"] > 0
    rows = {(row["benchmark"], row["measure"]) for row in written["table"]}
    assert len(rows) >= 10


def test_the_postgresql_cluster_benchmark_runs_and_audits_in_quick_mode(tmp_path: Path) -> None:
    """Benchmark 11's fault run, tiny: 2 nodes + 2 workers on PostgreSQL, a node and a worker killed with
    SIGKILL, then every turn audited in the database (the figures themselves come from `make bench`)."""
    from tests import postgres

    out = tmp_path / "results.json"
    server = postgres.with_database(postgres.POSTGRES_URL, "postgres")
    result = subprocess.run(
        [sys.executable, str(BENCH / "run.py"), "--quick", "--only", "pgnodes", "--out", str(out)],
        capture_output=True, text=True, timeout=240, cwd=REPO,
        env={**os.environ, "LIVELENS_BENCH_PGNODES": "faults", "LIVELENS_BENCH_POSTGRES": server},
    )
    assert result.returncode == 0, result.stdout + result.stderr
    faults = json.loads(out.read_text())["results"]["pgnodes"]["faults"]
    assert faults["acknowledged"] > 0 and faults["lost"] == 0 and faults["duplicated"] == 0, faults
    assert faults["completed"] == faults["contacts"], faults
    assert len(faults["events"]) == 2, faults["events"]


def test_the_interleaved_tok2vec_benchmark_runs_and_leaves_the_fused_networks_in_place() -> None:
    import tok2vec_interleaved

    from livelens.analysis.nlp import load_spacy

    result = tok2vec_interleaved.run(passes=1, batch=8)
    assert result["turns_per_side"] > 0 and result["thinc_cpu_ms_per_turn"] > 0 and result["fused_over_thinc"] > 0
    nlp = load_spacy()
    assert nlp.get_pipe("tok2vec").model.name == "fused_tok2vec"
    assert nlp.get_pipe("ner").model.get_ref("tok2vec").layers[0].name == "fused_tok2vec"


def test_the_rule_state_rows_benchmark_counts_what_a_turn_writes() -> None:
    import rule_state_rows

    result = rule_state_rows.run()
    assert result["turns"] > 0 and result["rules"] == 50
    assert 1 <= result["rows_per_turn"] < result["rules"] + 1 and result["bytes_per_turn"] > 0


def test_the_interleaved_worker_benchmark_steps_two_workers_and_swaps_their_roles() -> None:
    import worker_interleaved

    result = worker_interleaved.run("temp_store=MEMORY", "temp_store=DEFAULT", rounds=6, batch=1)
    first, second = result["runs"]
    assert (first["first"], first["second"]) == (second["second"], second["first"]) == (
        "temp_store=DEFAULT", "temp_store=MEMORY")
    assert all(ms > 0 for run in result["runs"] for ms in run["cpu_ms_per_turn"] + run["wall_ms_per_turn"])
    assert 0.2 < result["cpu_setting_over_against"] < 5  # a ratio of two measured costs, not a verdict
