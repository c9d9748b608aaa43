"""Several stateless nodes and workers on one PostgreSQL database (docs/deploy.md).

Two ``livelens serve`` nodes and two ``livelens worker`` processes share a database. Chats are
started and written through node A and read through node B (boto3, and the customer's participant
websocket on B receives the agent's messages sent through A); then node B and one worker are
killed with SIGKILL mid-conversation, the rest is sent through A, and every contact must become
COMPLETED with every turn found exactly once, in order.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.client import connect as ws_connect

from tests import postgres
from tests.e2e.conftest import BACKEND, LIVELENS, Server, list_v2_all, start_chat, start_server, wait_for

pytestmark = pytest.mark.skipif(
    BACKEND != "postgres", reason="a PostgreSQL cluster test: it runs in the PostgreSQL pass of make test"
)
LEASE = {"LIVELENS_ANALYSIS_LEASE_SECONDS": "2"}


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[Server, Server, list[subprocess.Popen[str]]]]:
    url = postgres.create_database("livelens_cluster")
    node_a = start_server(tmp_path / "a", db=url, env=LEASE, workers="0")
    node_b = start_server(tmp_path / "b", db=url, env=LEASE, workers="0")
    workers = [
        subprocess.Popen([LIVELENS, "worker", "--db", url], stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
                         text=True, env={**os.environ, **LEASE})
        for _ in range(2)
    ]
    try:
        yield node_a, node_b, workers
    finally:
        for process in workers:
            if process.poll() is None:
                process.terminate()
                process.wait(20)
        node_a.stop()
        node_b.stop()
        postgres.drop_database(url)


def _chat_items(socket: Any, count: int) -> list[dict[str, Any]]:
    items = []
    while len(items) < count:
        frame = json.loads(socket.recv(timeout=20))
        if frame.get("topic") == "aws/chat":
            items.append(json.loads(frame["content"]))
    return items


def test_two_nodes_and_two_workers_lose_nothing_when_one_of_each_is_killed(cluster: Any) -> None:
    node_a, node_b, workers = cluster
    connect_a, participant_a = node_a.client("connect"), node_a.client("connectparticipant")
    connect_b, participant_b = node_b.client("connect"), node_b.client("connectparticipant")
    instance_id = connect_a.create_instance(IdentityManagementType="CONNECT_MANAGED", InstanceAlias="cluster",
                                            InboundCallsEnabled=True, OutboundCallsEnabled=True)["Id"]
    assert connect_b.describe_instance(InstanceId=instance_id)["Instance"]["Id"] == instance_id

    # The customer's websocket on node B sees the agent's message sent through node A.
    started = connect_a.start_chat_contact(InstanceId=instance_id, ContactFlowId="flow",
                                           ParticipantDetails={"DisplayName": "Customer"})
    customer = participant_b.create_participant_connection(Type=["WEBSOCKET", "CONNECTION_CREDENTIALS"],
                                                           ParticipantToken=started["ParticipantToken"])
    agent = connect_b.create_participant(InstanceId=instance_id, ContactId=started["ContactId"],
                                         ParticipantDetails={"ParticipantRole": "AGENT", "DisplayName": "Sam"})
    agent_token = participant_a.create_participant_connection(
        Type=["CONNECTION_CREDENTIALS"], ParticipantToken=agent["ParticipantCredentials"]["ParticipantToken"]
    )["ConnectionCredentials"]["ConnectionToken"]
    with ws_connect(customer["Websocket"]["Url"]) as socket:
        socket.send(json.dumps({"topic": "aws/subscribe", "content": {"topics": ["aws/chat"]}}))
        assert json.loads(socket.recv(timeout=10))["content"]["status"] == "success"
        sent = participant_a.send_message(ConnectionToken=agent_token, ContentType="text/plain", Content="Hi from A")
        (item,) = _chat_items(socket, 1)  # (the agent joined before the socket subscribed)
        assert item["Id"] == sent["Id"] and item["Content"] == "Hi from A"
    connect_a.stop_contact(InstanceId=instance_id, ContactId=started["ContactId"])

    # Many chats: turns through both nodes, then node B and one worker die, the rest goes through A.
    chats = [start_chat(connect_a, participant_b, instance_id) for _ in range(6)]
    expected: dict[str, list[str]] = {chat.contact_id: [] for chat in chats}
    turns = 8

    def send(participant: Any, turn: int) -> None:
        for chat in chats:
            token = chat.customer if turn % 2 == 0 else chat.agent
            text = f"{chat.contact_id[:8]} turn {turn}: {'the order is late' if turn % 3 else 'thanks a lot'}"
            participant.send_message(ConnectionToken=token, ContentType="text/plain", Content=text)
            expected[chat.contact_id].append(text)

    for turn in range(turns // 2):
        send(participant_a if turn % 2 else participant_b, turn)
    # a page read through B (a NextToken made on B) continues on A
    page = connect_b.list_realtime_contact_analysis_segments_v2(
        InstanceId=instance_id, ContactId=chats[0].contact_id, OutputType="Raw", SegmentTypes=["Event"],
        MaxResults=1)
    if page.get("NextToken"):
        connect_a.list_realtime_contact_analysis_segments_v2(
            InstanceId=instance_id, ContactId=chats[0].contact_id, OutputType="Raw", SegmentTypes=["Event"],
            MaxResults=1, NextToken=page["NextToken"])
    node_b.process.send_signal(signal.SIGKILL)
    workers[0].send_signal(signal.SIGKILL)
    node_b.process.wait(10)
    workers[0].wait(10)
    for turn in range(turns // 2, turns):
        send(participant_a, turn)
    for chat in chats:
        participant_a.disconnect_participant(ConnectionToken=chat.customer)

    def completed(contact_id: str) -> list[dict[str, Any]] | None:
        segments, page = list_v2_all(connect_a, instance_id, contact_id)
        return segments if page["Status"] == "COMPLETED" else None

    for chat in chats:
        segments = wait_for(lambda chat=chat: completed(chat.contact_id), timeout=120, interval=0.5)
        contents = [s["Transcript"]["Content"] for s in segments if "Transcript" in s]
        assert contents == expected[chat.contact_id]  # every turn exactly once, in order
        assert sum("PostContactSummary" in s for s in segments) == 1
    assert workers[1].poll() is None  # the surviving worker kept going
