"""Benchmark 11 (issue 15): N stateless nodes + M workers on one PostgreSQL database.

* ``scale``: benchmark 1's N live chats (one turn every 2 s each, read back through
  ListRealtimeContactAnalysisSegmentsV2) against, in one run and at the same N:
  SQLite, one ``livelens serve`` with its default worker processes (the baseline);
  PostgreSQL, 1 node + 1 ``livelens worker``; PostgreSQL, 2 nodes + 2 workers, every client
  spreading its connections over both nodes (what a load balancer does). Each "machine" is a core
  set: the SQLite node and the 1+1 pair run on core 0 (``taskset -c 0``); in 2+2, node A and worker
  A on core 0, node B and worker B on core 1. PostgreSQL itself is not pinned (a shared server).
  Analysed turns/s and p99 send→visible; ratios against the baseline and 2+2 against 1+1.
* ``faults``: a 2+2 run during which one node and one worker are killed with SIGKILL (each
  restarted at once) and, when ``LIVELENS_BENCH_PG_RESTART`` holds a command (e.g.
  ``pg_ctlcluster --skip-systemctl-redirect 15 main restart -m fast``), PostgreSQL is restarted.
  SendMessage is retried on 5xx and cut connections with the same ClientToken, as AWS SDKs do.
  Then every contact is stopped and, once every one is COMPLETED (or a bound passed), the
  database is audited: turns acknowledged, stored (items with the turn's ClientToken), analysed
  (Transcript segments with the turn's Id), lost, duplicated, and per-contact order (segments in
  item order, items in send order).
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import depth
import latency
import pg
import psycopg
from harness import LIVELENS, ServerProcess, free_port, pinned, start_livelens, workdir

RESTART_POSTGRES = os.environ.get("LIVELENS_BENCH_PG_RESTART", "")
#: First of the fixed ports of the nodes (a killed node comes back on its port); 0: free ports.
#: How long a client retries a request that failed with a retryable error (an SDK's retries, generously).
RETRY_FOR = 60.0
PORT_BASE = int(os.environ.get("LIVELENS_BENCH_PORT_BASE", "0"))


@dataclass
class Cluster:
    """Nodes and workers on one PostgreSQL database; each given as the core set it is pinned to."""

    directory: Path
    url: str
    node_cores: list[str]
    worker_cores: list[str]
    nodes: list[ServerProcess] = field(default_factory=list)
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    ports: list[int] = field(default_factory=list)
    events: list[str] = field(default_factory=list)

    def start(self) -> None:
        self.ports = [PORT_BASE + i if PORT_BASE else free_port() for i in range(len(self.node_cores))]
        for index in range(len(self.node_cores)):
            self.nodes.append(self._node(index))
        self.workers = [self._worker(index) for index in range(len(self.worker_cores))]

    def _node(self, index: int) -> ServerProcess:
        return start_livelens(self.directory / f"node{index}", db=self.url, port=self.ports[index],
                              extra=["--analysis-workers", "0"], cores=self.node_cores[index])

    def _worker(self, index: int) -> subprocess.Popen[bytes]:
        log = (self.directory / f"worker{index}.log").open("ab")
        return subprocess.Popen(
            [*pinned(self.worker_cores[index]), LIVELENS, "worker", "--db", self.url],
            env={**os.environ, "LIVELENS_LOG_LEVEL": "warning"}, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True,  # as serve starts its workers (see workers.drain)
        )

    def kill_node(self, index: int) -> float:
        """SIGKILL node ``index`` and start it again on its port; seconds until it accepts again."""
        node = self.nodes[index]
        node.process.send_signal(signal.SIGKILL)
        node.process.wait()
        began = time.perf_counter()
        fresh = self._node(index)
        node.process, node.output = fresh.process, fresh.output  # the same object: clients keep the port
        self.events.append(f"node {index} killed (SIGKILL) and restarted in {time.perf_counter() - began:.1f} s")
        return time.perf_counter() - began

    def kill_worker(self, index: int) -> None:
        self.workers[index].send_signal(signal.SIGKILL)
        self.workers[index].wait()
        self.workers[index] = self._worker(index)
        self.events.append(f"worker {index} killed (SIGKILL) and restarted")

    def stop(self) -> None:
        for process in self.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        for process in self.workers:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        for node in self.nodes:
            node.stop()


def other_clients() -> list[str]:
    """Databases of the server that sessions other than this benchmark's are connected to."""
    with psycopg.connect(pg.SERVER, autocommit=True) as conn:
        return [row[0] for row in conn.execute(
            "SELECT DISTINCT datname FROM pg_stat_activity WHERE datname IS NOT NULL AND pid <> pg_backend_pid() "
            "AND datname NOT LIKE 'livelens\\_bench\\_%%'").fetchall()]


def restart_postgres() -> dict[str, Any]:
    """Run ``LIVELENS_BENCH_PG_RESTART``, unless other clients use the server (a shared one is not ours)."""
    others = other_clients()
    if others:
        return {"command": None, "reason": f"not restarted: other clients connected to {', '.join(others)}"}
    began = time.perf_counter()
    done = subprocess.run(shlex.split(RESTART_POSTGRES), capture_output=True, text=True, timeout=120)
    return {"command": RESTART_POSTGRES, "returncode": done.returncode,
            "seconds": round(time.perf_counter() - began, 1), "output": (done.stdout + done.stderr).strip()[-300:]}


# --- the scale runs ---------------------------------------------------------------------


def _sqlite(n: int, duration: float, drain: float) -> dict[str, Any]:
    with workdir("pgnodes-sqlite") as directory:
        server = start_livelens(directory, cores="0")
        try:
            return asyncio.run(latency._measure(server, n, duration, drain))
        finally:
            server.stop()


def _postgres(n: int, duration: float, drain: float, node_cores: list[str], worker_cores: list[str]) -> dict[str, Any]:
    with workdir("pgnodes") as directory, pg.database("nodes") as url:
        cluster = Cluster(directory, url, node_cores, worker_cores)
        try:
            cluster.start()
            return asyncio.run(latency._measure(cluster.nodes, n, duration, drain, retry_for=RETRY_FOR))
        finally:
            cluster.stop()


def _ratio(a: float, b: float) -> float | None:
    return round(a / b, 2) if b and math.isfinite(a) and math.isfinite(b) else None


def scale_at(n: int, duration: float, drain: float) -> dict[str, Any]:
    runs = {
        "sqlite, 1 node (its worker processes)": _sqlite(n, duration, drain),
        "postgres, 1 node + 1 worker": _postgres(n, duration, drain, ["0"], ["0"]),
        "postgres, 2 nodes + 2 workers": _postgres(n, duration, drain, ["0", "1"], ["0", "1"]),
    }
    base, one, two = runs.values()
    return {
        "contacts": n, "duration_s": duration, "drain_s": drain, "runs": runs,
        "ratio_turns_1x1_to_sqlite": _ratio(one["analysed_turns_per_s"], base["analysed_turns_per_s"]),
        "ratio_turns_2x2_to_sqlite": _ratio(two["analysed_turns_per_s"], base["analysed_turns_per_s"]),
        "ratio_turns_2x2_to_1x1": _ratio(two["analysed_turns_per_s"], one["analysed_turns_per_s"]),
        "ratio_p99_1x1_to_sqlite": _ratio(one["p99_ms"], base["p99_ms"]),
        "ratio_p99_2x2_to_1x1": _ratio(two["p99_ms"], one["p99_ms"]),
    }


def scale(quick: bool) -> list[dict[str, Any]]:
    """At each N (``LIVELENS_BENCH_NODES_N``, default 20 and 100: one that a core keeps up with, for p99;
    one beyond it, for the analysed turns/s a configuration sustains)."""
    if quick:
        return [scale_at(6, 3.0, 8.0)]
    sizes = [int(n) for n in os.environ.get("LIVELENS_BENCH_NODES_N", "20,100").split(",")]
    return [scale_at(n, 30.0, 20.0) for n in sizes]


# --- the fault run ----------------------------------------------------------------------


async def _stop_all(cluster: Cluster, run: latency.Run) -> int:
    """StopContact for every chat (through both nodes, retried like an SDK); the number refused for good."""
    client = latency.Client(cluster.nodes, 8, retry_for=RETRY_FOR)
    failed = 0

    async def stop(chat: latency.Chat) -> None:
        nonlocal failed
        try:
            await client.send("POST", "/contact/stop", {"InstanceId": run.instance_id, "ContactId": chat.contact_id})
        except Exception:
            failed += 1

    semaphore = asyncio.Semaphore(8)

    async def bounded(chat: latency.Chat) -> None:
        async with semaphore:
            await stop(chat)

    await asyncio.gather(*(bounded(chat) for chat in run.chats))
    client.close()
    return failed


def _statuses(url: str, contact_ids: list[str]) -> Counter[str]:
    with psycopg.connect(url) as conn:
        return Counter(dict(conn.execute(
            "SELECT analysis_status, count(*) FROM contacts WHERE id = ANY(%s) GROUP BY 1", (contact_ids,)).fetchall()))


def wait_completed(url: str, contact_ids: list[str], timeout: float) -> tuple[Counter[str], float | None]:
    began = time.monotonic()
    while True:
        statuses = _statuses(url, contact_ids)
        if statuses.get("COMPLETED", 0) == len(contact_ids):
            return statuses, round(time.monotonic() - began, 1)
        if time.monotonic() - began > timeout:
            return statuses, None
        time.sleep(1.0)


def audit(url: str, run: latency.Run) -> dict[str, Any]:
    """Every turn sent, against the database: stored, analysed, lost, duplicated, order."""
    contact_ids = [chat.contact_id for chat in run.chats]
    with psycopg.connect(url) as conn:
        items = conn.execute("SELECT contact_id, seq, id, client_key FROM items WHERE kind = 'MESSAGE' "
                             "AND contact_id = ANY(%s) ORDER BY contact_id, seq", (contact_ids,)).fetchall()
        segments = conn.execute("SELECT contact_id, seq, raw FROM segments WHERE kind = 'Transcript' "
                                "AND contact_id = ANY(%s) ORDER BY contact_id, seq", (contact_ids,)).fetchall()
    stored_by_token: Counter[str] = Counter(key.rsplit(":", 1)[1] for _, _, _, key in items if key)
    stored_ids = {item_id for _, _, item_id, _ in items}
    analysed: Counter[str] = Counter()
    segment_order: dict[str, list[str]] = defaultdict(list)
    for contact_id, _, raw in segments:
        item_id = json.loads(raw)["Id"]
        analysed[item_id] += 1
        segment_order[contact_id].append(item_id)
    item_order: dict[str, list[str]] = defaultdict(list)
    seq_of: dict[str, int] = {}
    for contact_id, seq, item_id, _ in items:
        item_order[contact_id].append(item_id)
        seq_of[item_id] = seq
    acknowledged = [t for t in run.turns if t.item_id]
    unacknowledged = [t for t in run.turns if not t.item_id]
    sent_order: dict[str, list[latency.Turn]] = defaultdict(list)
    for turn in sorted(acknowledged, key=lambda t: t.due):
        sent_order[turn.chat.contact_id].append(turn)
    return {
        "sent": len(run.turns),
        "acknowledged": len(acknowledged),
        "stored": sum(1 for t in acknowledged if t.item_id in stored_ids),
        "analysed": sum(1 for t in acknowledged if analysed[t.item_id] == 1),
        "lost": sum(1 for t in acknowledged if t.item_id not in stored_ids or analysed[t.item_id] == 0),
        "duplicated": sum(1 for t in run.turns if stored_by_token[t.client_token] > 1)
        + sum(1 for t in acknowledged if analysed[t.item_id] > 1),
        "unacknowledged": len(unacknowledged),
        "unacknowledged_but_stored": sum(1 for t in unacknowledged if stored_by_token[t.client_token]),
        "items_without_a_turn": len(stored_ids - {t.item_id for t in acknowledged})
        - sum(1 for t in unacknowledged if stored_by_token[t.client_token]),
        "contacts_segments_out_of_item_order": sum(
            1 for c in contact_ids if segment_order[c] != [i for i in item_order[c] if analysed[i]]),
        # Order is promised for a turn sent after the previous one was acknowledged; two turns in flight at
        # once (the first still being retried) have none, for any client.
        "contacts_items_out_of_send_order": sum(1 for turns in sent_order.values() if _out_of_order(turns, seq_of)),
        "contacts_with_turns_in_flight_together": sum(
            1 for turns in sent_order.values()
            if any(a.answered > b.sent for a, b in zip(turns, turns[1:], strict=False))),
    }


def _out_of_order(turns: list[latency.Turn], seq_of: dict[str, int]) -> bool:
    """Whether a turn sent after an earlier one was acknowledged is stored before it."""
    return any(seq_of.get(a.item_id or "", -1) > seq_of.get(b.item_id or "", -1)
               for i, a in enumerate(turns) for b in turns[i + 1:] if a.answered < b.sent)


def faults(quick: bool) -> dict[str, Any]:
    n, duration, drain = (6, 8.0, 10.0) if quick else (
        int(os.environ.get("LIVELENS_BENCH_FAULTS_N", "60")), 45.0, 30.0)
    at = (1.5, 3.0, 4.5) if quick else (10.0, 20.0, 30.0)
    with workdir("pgnodes-faults") as directory, pg.database("faults") as url:
        cluster = Cluster(directory, url, ["0", "1"], ["0", "1"])
        restart: dict[str, Any] = {"command": None, "reason": "LIVELENS_BENCH_PG_RESTART not set"}
        runs: list[latency.Run] = []

        async def during() -> None:
            nonlocal restart
            began = time.perf_counter()
            await asyncio.sleep(at[0])
            await asyncio.to_thread(cluster.kill_node, 1)
            await asyncio.sleep(max(0.0, began + at[1] - time.perf_counter()))
            await asyncio.to_thread(cluster.kill_worker, 0)
            if RESTART_POSTGRES:
                await asyncio.sleep(max(0.0, began + at[2] - time.perf_counter()))
                restart = await asyncio.to_thread(restart_postgres)
                cluster.events.append(f"PostgreSQL restarted ({restart['seconds']} s, rc {restart['returncode']})"
                                      if restart["command"] else f"PostgreSQL {restart['reason']}")

        try:
            cluster.start()
            result = asyncio.run(latency._measure(cluster.nodes, n, duration, drain, during=during, runs=runs,
                                                  retry_for=RETRY_FOR))
            run = runs[0]
            stop_failures = asyncio.run(_stop_all(cluster, run))
            statuses, completed_after = wait_completed(url, [c.contact_id for c in run.chats],
                                                       timeout=60 if quick else 300)
            result.update(audit(url, run))
        finally:
            cluster.stop()
        logs = {f"worker{i}": (directory / f"worker{i}.log").read_text(errors="replace").splitlines()[-15:]
                for i in range(len(cluster.worker_cores))}
        logs.update({f"node{i}": [line.rstrip() for line in node.output[-15:]] for i, node in enumerate(cluster.nodes)})
        result.update({
            "log_tails": logs,
            "events": cluster.events, "postgres_restart": restart, "stop_contact_failures": stop_failures,
            "statuses": dict(statuses), "completed": statuses.get("COMPLETED", 0), "contacts": n,
            "completed_after_stop_s": completed_after,
        })
        return result


def depth_on_postgres(quick: bool) -> dict[str, Any]:
    """Benchmark 4 (page depth, contact count) with both databases on PostgreSQL; 30,000 segments and contacts
    by default (seeding through the storage layer costs ~3 ms a contact here: 100,000 would take minutes)."""
    size = 2_000 if quick else int(os.environ.get("LIVELENS_BENCH_PG_DEPTH", "30000"))
    rounds, per_round = (3, 10) if quick else (10, 40)
    with workdir("pgnodes-depth") as directory, pg.database("depth_one") as one, pg.database("depth_many") as many:
        return depth.measure(directory, one, many, depth=size, contacts=size, rounds=rounds, per_round=per_round)


def run(quick: bool = False, only: str = "scale,faults,depth") -> dict[str, Any]:
    only = os.environ.get("LIVELENS_BENCH_PGNODES", only)
    out: dict[str, Any] = {"cores": os.cpu_count()}
    if "scale" in only.split(","):
        out["scale"] = scale(quick)
    if "faults" in only.split(","):
        out["faults"] = faults(quick)
    if "depth" in only.split(","):
        out["depth"] = depth_on_postgres(quick)
    return out


if __name__ == "__main__":
    quick = "--quick" in sys.argv
    only = next((a.split("=", 1)[1] for a in sys.argv if a.startswith("--only=")), "scale,faults,depth")
    print(json.dumps(run(quick, only), indent=2, default=str))
