"""Benchmark 8 (issue 12): analysis in worker processes.

* ``throughput``: a database seeded through the storage layer with pending chat turns (corpus texts, each
  made distinct by a made-up word in its last sentence, not by appended digits, which would make every
  turn a number-bearing, two-sentence one) in contacts of an instance with 50 published category rules (benchmark 5's
  rules); then ``livelens worker`` processes drain it, each pinned to its own core with ``taskset``.
  Analysed turns/s (from the database's analysed counter, between 15 % and 90 % of the backlog, so
  model loading is not counted) and the workers' CPU per turn, for: one worker at batch 1, one worker
  at batch K (``analysis_batch``), two workers at batch K. Interleaved rounds; ratios in the same run.
* ``latency``: benchmark 1's N live chats (one turn every 2 s each) against ``serve`` with its default
  worker processes, for several N.
* ``kill``: benchmark 1 at N=200 while a worker process is killed with SIGKILL every 2 s, 10 times;
  then every acknowledged turn is looked up in the segment log: lost (no Transcript segment) and
  duplicated (more than one) turns, and the longest gap in analysis.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import latency
from analysis_cost import rule_sources
from batching import _vary
from corpus import TURNS
from harness import LIVELENS, start_livelens, workdir

from livelens.app import server_key
from livelens.contacts.models import IN_PROGRESS, Instance, now_iso
from livelens.storage.sqlite import SqliteStorage

BATCH_K = 16


def seed_pending(db: Path, contacts: int, turns: int) -> int:
    """``contacts`` chat contacts with ``turns`` pending turns each, and 50 published rules; the item count."""
    storage = SqliteStorage(db)
    try:
        server_key(storage)
        instance_id = str(uuid.uuid4())
        instance = Instance(
            id=instance_id, arn=f"arn:aws:connect:us-east-1:123456789012:instance/{instance_id}",
            identity_management_type="CONNECT_MANAGED", inbound_calls_enabled=True, outbound_calls_enabled=True,
            created_time=now_iso(), service_role="arn:aws:iam::123456789012:role/bench", alias="bench",
            analysis=["redaction", "sentiment", "issues", "summary"],
        )
        with storage.write() as tx:
            tx.insert_instance(instance_id, instance.to_record())
            for i, source in enumerate(rule_sources()):
                rule_id = str(uuid.uuid4())
                tx.insert_rule(rule_id, instance_id, f"rule-{i}", {
                    "InstanceId": instance_id, "Name": f"rule-{i}", "RuleId": rule_id,
                    "RuleArn": f"{instance.arn}/rule/{rule_id}",
                    "TriggerEventSource": {"EventSourceName": "OnRealTimeChatAnalysisAvailable"},
                    "Function": source, "PublishStatus": "PUBLISHED",
                    "Actions": [{"ActionType": "ASSIGN_CONTACT_CATEGORY", "AssignContactCategoryAction": {}}],
                })
            for c in range(contacts):
                contact_id = str(uuid.uuid4())
                record = {
                    "id": contact_id, "arn": f"{instance.arn}/contact/{contact_id}", "instance_id": instance_id,
                    "channel": "CHAT", "initiation_method": "API", "initiation_timestamp": now_iso(),
                    "redaction_policy": "RedactedAndOriginal", "language": "en-US",
                    "analysis": ["redaction", "sentiment", "issues", "summary"], "redaction_mask": "PII",
                    "attributes": {"tier": "gold"},
                }
                tx.insert_contact(contact_id, instance_id, "CHAT", IN_PROGRESS, record)
                for k in range(turns):
                    role, text = TURNS[(c * 7 + k) % len(TURNS)]
                    tx.append_item(contact_id, str(uuid.uuid4()), "MESSAGE", None, {
                        "content": _vary(text, _made_up_word(c * turns + k)),
                        "participant_id": f"{contact_id[:8]}-{role.lower()}",
                        "role": role, "display_name": role.title(), "content_type": "text/plain",
                        "time": now_iso()})
        return contacts * turns
    finally:
        storage.close()


def _made_up_word(n: int) -> str:
    """A distinct word per turn ("zza", "zzb", … "zzba"), without digits (see ``batching._vary``)."""
    letters = ""
    while True:
        letters = chr(97 + n % 26) + letters
        n //= 26
        if n == 0:
            return "zz" + letters


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drain(db: Path, cores: list[int], batch: int, total: int, timeout: float) -> dict[str, Any]:
    """Run one ``livelens worker`` per core (pinned) until the backlog is analysed; the rate and CPU."""
    env = {**os.environ, "LIVELENS_ANALYSIS_BATCH": str(batch), "LIVELENS_LOG_LEVEL": "warning",
           "LIVELENS_ANALYSIS_POLL_INTERVAL": "0.05"}
    taskset = shutil.which("taskset")
    processes = [
        subprocess.Popen([*([taskset, "-c", str(core)] if taskset else []), LIVELENS, "worker", "--db", str(db)],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         # Each in a session of its own, as serve starts them: with the kernel's autogroup
                         # scheduling, processes of one session share one CPU share on a busy machine.
                         start_new_session=True)
        for core in cores
    ]
    storage = SqliteStorage(db)
    samples: list[tuple[float, int, float]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            with storage.read() as tx:
                done = tx.analysis_backlog().analysed_items
            samples.append((time.monotonic(), done, sum(_cpu_seconds(p.pid) for p in processes)))
            if done >= total:
                break
            time.sleep(0.1)
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        storage.close()

    def at(fraction: float) -> tuple[float, int, float]:
        return next((s for s in samples if s[1] >= fraction * total), samples[-1])

    first, last = at(0.15), at(0.9)
    items = last[1] - first[1]
    seconds = max(last[0] - first[0], 1e-9)
    return {"workers": len(cores), "batch": batch, "analysed": samples[-1][1], "total": total,
            "turns_per_s": round(items / seconds, 1), "turns_per_s_per_worker": round(items / seconds / len(cores), 1),
            "worker_cpu_ms_per_turn": round((last[2] - first[2]) / max(items, 1) * 1000, 2),
            "pinned": bool(taskset)}


def throughput(quick: bool) -> dict[str, Any]:
    contacts, turns = (24, 1) if quick else (800, 1)  # live load: about one pending turn per contact
    rounds = 1 if quick else 2
    cases = [("1 worker, batch 1", [0], 1), (f"1 worker, batch {BATCH_K}", [0], BATCH_K),
             (f"2 workers, batch {BATCH_K}", [0, 1], BATCH_K)]
    results: dict[str, list[dict[str, Any]]] = {name: [] for name, _, _ in cases}
    with workdir("workers-throughput") as directory:
        template = directory / "template.db"
        total = seed_pending(template, contacts, turns)
        for _ in range(rounds):
            for name, cores, batch in cases:
                db = directory / "run.db"
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{db}{suffix}").unlink(missing_ok=True)
                shutil.copy(template, db)
                results[name].append(drain(db, cores, batch, total, timeout=60 if quick else 600))
    best = {name: max(runs, key=lambda r: r["turns_per_s"]) for name, runs in results.items()}
    one_1, one_k, two_k = (best[name]["turns_per_s"] for name, _, _ in cases)
    return {"turns": total, "rules": 50, "cases": best, "rounds": results,
            "ratio_batch_k_to_1": round(one_k / max(one_1, 1e-9), 2),
            "ratio_2_workers_to_1": round(two_k / max(one_k, 1e-9), 2)}


def _children(pid: int) -> list[int]:
    pids: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            pids += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    alive = []
    for child in pids:
        try:
            if Path(f"/proc/{child}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z":
                alive.append(child)
        except OSError:
            continue
    return alive


def check_log(db: Path, accepted: list[str]) -> dict[str, int]:
    """Acknowledged turns against the Transcript segments stored for them: lost and duplicated."""
    storage = SqliteStorage(db)
    try:
        counts: Counter[str] = Counter()
        with storage.read() as tx:
            for (body,) in tx.conn.execute("SELECT raw FROM segments WHERE kind = 'Transcript'"):
                counts[json.loads(body)["Id"]] += 1
    finally:
        storage.close()
    return {"acknowledged": len(accepted), "lost": sum(1 for i in accepted if counts[i] == 0),
            "duplicated": sum(1 for i in accepted if counts[i] > 1)}


def kill(quick: bool) -> dict[str, Any]:
    n, duration, drain_s, kills, every = (10, 6.0, 20.0, 2, 2.0) if quick else (200, 24.0, 40.0, 10, 2.0)
    with workdir("workers-kill") as directory:
        server = start_livelens(directory, env={"LIVELENS_ANALYSIS_WORKERS": "2"})
        killed: list[int] = []

        async def killer() -> None:
            for _ in range(3 * kills):  # a kill every ``every`` s, whenever a worker is up, until ``kills``
                await asyncio.sleep(every)
                children = _children(server.pid)
                if children:
                    victim = children[len(killed) % len(children)]
                    os.kill(victim, signal.SIGKILL)
                    killed.append(victim)
                if len(killed) >= kills:
                    return

        try:
            runs: list[latency.Run] = []
            result = asyncio.run(latency._measure(server, n, duration, drain_s, during=killer, runs=runs))
            # Lost means never analysed, not late: let the workers finish the backlog before counting.
            result["backlog_drain_s"] = wait_drained(directory / "livelens.db", timeout=60 if quick else 900)
        finally:
            server.stop()
        accepted = [t.item_id for t in runs[0].turns if t.item_id]
        result.update(check_log(directory / "livelens.db", accepted))
        result["kills"] = len(killed)
        return result


def wait_drained(db: Path, timeout: float) -> float | None:
    """Seconds until nothing is pending in ``db`` (None: still pending after ``timeout``)."""
    storage = SqliteStorage(db)
    started = time.monotonic()
    try:
        while time.monotonic() - started < timeout:
            with storage.read() as tx:
                if tx.analysis_backlog().pending_items == 0:
                    return round(time.monotonic() - started, 1)
            time.sleep(0.5)
        return None
    finally:
        storage.close()


def latency_runs(quick: bool) -> list[dict[str, Any]]:
    """N live chats against serve with its default workers; at the first N also with analysis in-process
    (``--analysis-workers 0``, what livelens did before worker processes) as the same-run baseline."""
    sizes = [5] if quick else [200, 500, 1000]
    duration, drain_s = (2.0, 8.0) if quick else (20.0, 20.0)
    results = []
    for n, workers in [(sizes[0], "0"), *((n, "auto") for n in sizes)]:
        with workdir(f"workers-latency-{n}") as directory:
            server = start_livelens(directory, env={"LIVELENS_ANALYSIS_WORKERS": workers})
            try:
                result = asyncio.run(latency._measure(server, n, duration, drain_s))
            finally:
                server.stop()
            result["analysis_workers"] = workers
            results.append(result)
    return results


def run(quick: bool = False, only: str = "throughput,latency,kill") -> dict[str, Any]:
    only = os.environ.get("LIVELENS_BENCH_WORKERS", only)
    out: dict[str, Any] = {"cores": os.cpu_count()}
    parts = only.split(",")
    if "throughput" in parts:
        out["throughput"] = throughput(quick)
    if "latency" in parts:
        out["latency"] = latency_runs(quick)
    if "kill" in parts:
        out["kill"] = kill(quick)
    return out


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    only = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--only=")), "throughput,latency,kill")
    print(json.dumps(run(quick, only), indent=2, default=str))
