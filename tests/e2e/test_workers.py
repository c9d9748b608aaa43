"""Analysis worker processes: killed mid-contact, nothing lost or doubled; health and metrics."""

from __future__ import annotations

import os
import re
import signal
import time
import urllib.request
from collections import Counter
from pathlib import Path
from typing import Any

from tests.e2e.conftest import (
    SHARED_WORKERS,
    Server,
    kind_of,
    start_chat,
    start_server,
    wait_for,
    wait_v2_completed,
)
from tests.e2e.test_rules import create_rule


def worker_pids(server: Server) -> list[int]:
    """The server's live child processes (its analysis workers)."""
    pids: list[int] = []
    for task in Path(f"/proc/{server.process.pid}/task").iterdir():
        pids += [int(p) for p in (task / "children").read_text().split()]
    return [p for p in pids if Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"]


def get(server: Server, path: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(server.url + path, timeout=10) as answer:
            return answer.status, answer.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{name} (\S+)$", text, re.M)
    assert found, f"{name} missing from:\n{text}"
    return float(found.group(1))


def test_killed_workers_lose_and_repeat_nothing(tmp_path: Path) -> None:
    server = start_server(tmp_path, workers="2", env={
        "LIVELENS_ANALYSIS_LEASE_SECONDS": "1.5", "LIVELENS_ANALYSIS_POLL_INTERVAL": "0.2",
        "LIVELENS_ANALYSIS_BATCH": "4"})
    try:
        connect, participant = server.client("connect"), server.client("connectparticipant")
        instance_id = str(connect.create_instance(
            IdentityManagementType="CONNECT_MANAGED", InboundCallsEnabled=True, OutboundCallsEnabled=True)["Id"])
        create_rule(connect, instance_id, "refund", "customer said 'refund'")
        chat = start_chat(connect, participant, instance_id)
        # Both workers up (models loaded) before the contact starts, so the kills land mid-analysis.
        wait_for(lambda: metric(get(server, "/livelens/v1/metrics")[1], "livelens_analysis_workers") == 2,
                 timeout=120, interval=0.2)
        originals = worker_pids(server)
        assert len(originals) == 2
        sent: list[str] = []
        for n in range(36):
            role = "CUSTOMER" if n % 2 == 0 else "AGENT"
            text = f"Turn {n}: I would like a refund for order {n}." if role == "CUSTOMER" else f"Reply {n}."
            token = chat.customer if role == "CUSTOMER" else chat.agent
            sent.append(participant.send_message(ContentType="text/plain", Content=text, ConnectionToken=token)["Id"])
            if n == 8:  # one worker dies; the other takes its contacts over when the lease expires
                os.kill(originals[0], signal.SIGKILL)
            if n == 22:  # then the other: nothing analyses until the first one's replacement is up
                os.kill(originals[1], signal.SIGKILL)
            time.sleep(0.03)  # a live chat's pace: the kills land while turns are being analysed
        connect.stop_contact(InstanceId=instance_id, ContactId=chat.contact_id)
        segments = wait_v2_completed(connect, instance_id, chat.contact_id, timeout=120)
        transcript = [s["Transcript"]["Id"] for s in segments if kind_of(s) == "Transcript"]
        messages = [i for i in transcript if i in set(sent)]
        assert messages == sent  # every acknowledged turn, once, in order
        assert not [i for i, n in Counter(transcript).items() if n > 1]
        kinds = Counter(kind_of(s) for s in segments)
        assert kinds["Categories"] == 1 and kinds["PostContactSummary"] == 1
        assert all(s["Transcript"].get("Sentiment") for s in segments
                   if kind_of(s) == "Transcript" and s["Transcript"]["Id"] in set(sent))
        log = "".join(server.output)
        restarts = metric(get(server, "/livelens/v1/metrics")[1], "livelens_analysis_worker_restarts_total")
        assert restarts == 2, log
        assert log.count("stopped with signal 9 (SIGKILL); restarting") == 2, log
        assert not set(originals) & set(worker_pids(server))
        assert "Traceback" not in log, log
    finally:
        server.stop()


def test_health_is_unsigned_and_metrics_show_the_analysis(server: Server, connect: Any, participant: Any,
                                                            instance_id: str) -> None:
    chat = start_chat(connect, participant, instance_id)
    participant.send_message(ContentType="text/plain", Content="Hello there.", ConnectionToken=chat.customer)
    connect.stop_contact(InstanceId=instance_id, ContactId=chat.contact_id)
    wait_v2_completed(connect, instance_id, chat.contact_id)
    status, body = get(server, "/livelens/v1/health")
    assert status == 200 and '"status": "ok"' in body
    status, text = get(server, "/livelens/v1/metrics")
    assert status == 200
    assert metric(text, "livelens_items_analysed_total") >= 4  # joined x2, message, chat ended, end
    assert metric(text, "livelens_items_accepted_total") >= metric(text, "livelens_items_analysed_total")
    assert metric(text, "livelens_analysis_worker_processes") == int(SHARED_WORKERS)
    assert metric(text, "livelens_analysis_workers") >= 1  # the one(s) that analysed this contact, at least
    assert re.search(r'^livelens_analysis_stage_seconds_count\{stage="sentiment",worker="[^"]+"\} [1-9]', text, re.M)
    assert "# TYPE livelens_analysis_oldest_pending_age_seconds gauge" in text
