"""Restarts: everything acknowledged survives SIGTERM and SIGKILL, analysed exactly once."""

from __future__ import annotations

import signal
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from livelens.replay import Endpoint
from tests.e2e.conftest import (
    ACCESS_KEY,
    SECRET_KEY,
    V2_TYPES,
    Server,
    kind_of,
    list_v1_all,
    list_v2_all,
    start_chat,
    start_server,
    utterances_path,
    wait_for,
    wait_v1_completed,
    wait_v2_completed,
)

TURNS = [
    ("CUSTOMER", "My package arrived damaged."),
    ("AGENT", "I am sorry, can you describe the damage?"),
    ("CUSTOMER", "The box was crushed and the lamp is broken."),
    ("AGENT", "I will send you a new lamp today."),
    ("CUSTOMER", "Thank you, that is very kind."),
]


def _new_instance(server: Server) -> str:
    return str(server.client("connect").create_instance(
        IdentityManagementType="CONNECT_MANAGED", InboundCallsEnabled=True, OutboundCallsEnabled=True
    )["Id"])


def _send(participant: Any, chat: Any, role: str, text: str) -> str:
    token = chat.customer if role == "CUSTOMER" else chat.agent
    return str(participant.send_message(ContentType="text/plain", Content=text, ConnectionToken=token)["Id"])


def _check_log(*servers: Server) -> None:
    log = "".join(line for s in servers for line in s.output)
    assert "Traceback" not in log, log


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_chat_survives_restart(tmp_path: Path, sig: int) -> None:
    first = start_server(tmp_path / "db")
    try:
        connect, participant = first.client("connect"), first.client("connectparticipant")
        instance_id = _new_instance(first)
        chat = start_chat(connect, participant, instance_id)
        acknowledged = [_send(participant, chat, role, text) for role, text in TURNS[:2]]

        # A NextToken issued before the restart, after the first two turns were analysed.
        def two() -> dict[str, Any] | None:
            page = connect.list_realtime_contact_analysis_segments_v2(
                InstanceId=instance_id, ContactId=chat.contact_id, OutputType="Raw", SegmentTypes=V2_TYPES,
                MaxResults=100)
            return page if sum(kind_of(s) == "Transcript" for s in page["Segments"]) == 2 else None

        before = wait_for(two, timeout=60)
        token = before["NextToken"]
        # More turns, then stop at once (SIGKILL: right after SendMessage returned, analysis likely pending).
        acknowledged += [_send(participant, chat, role, text) for role, text in TURNS[2:4]]
    finally:
        first.stop(sig)
    assert first.process.returncode is not None

    second = start_server(tmp_path / "db")
    try:
        connect, participant = second.client("connect"), second.client("connectparticipant")
        # The token issued before the restart still pages on from where it was.
        page = connect.list_realtime_contact_analysis_segments_v2(
            InstanceId=instance_id, ContactId=chat.contact_id, OutputType="Raw", SegmentTypes=V2_TYPES,
            NextToken=token)
        assert page["NextToken"]
        assert not any(s in before["Segments"] for s in page["Segments"])
        # The connection tokens still work.
        acknowledged.append(_send(participant, chat, *TURNS[4]))
        transcript = participant.get_transcript(ConnectionToken=chat.agent, ScanDirection="FORWARD", MaxResults=100)
        assert [i["Id"] for i in transcript["Transcript"] if i["Type"] == "MESSAGE"] == acknowledged
        participant.disconnect_participant(ConnectionToken=chat.customer)
        segments = wait_v2_completed(connect, instance_id, chat.contact_id)
        transcripts = [s["Transcript"] for s in segments if kind_of(s) == "Transcript"]
        ids = [t["Id"] for t in transcripts]
        assert ids == acknowledged, Counter(ids)
        assert [t["Content"] for t in transcripts] == [text for _, text in TURNS]
        assert kind_of(segments[-1]) == "PostContactSummary"
        assert segments[-1]["PostContactSummary"]["Status"] == "COMPLETED"
        # Paging on from the old token reaches exactly the rest of the log.
        rest: list[dict[str, Any]] = []
        while token:
            page = connect.list_realtime_contact_analysis_segments_v2(
                InstanceId=instance_id, ContactId=chat.contact_id, OutputType="Raw", SegmentTypes=V2_TYPES,
                NextToken=token)
            rest.extend(page["Segments"])
            token = page.get("NextToken")
        assert before["Segments"] + rest == segments
    finally:
        second.stop()
    _check_log(second) if sig == signal.SIGKILL else _check_log(first, second)


def test_voice_survives_sigkill(tmp_path: Path) -> None:
    first = start_server(tmp_path / "db")
    try:
        instance_id = _new_instance(first)
        connect = first.client("connect")
        contact_id = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND",
                                            Attributes={"livelens:redaction": "None"})["ContactId"]
        endpoint = Endpoint(first.url, ACCESS_KEY, SECRET_KEY)
        batch = {"ClientToken": "restart-batch", "Utterances": [
            {"ParticipantId": role, "ParticipantRole": role, "Content": text,
             "BeginOffsetMillis": n * 1000, "EndOffsetMillis": n * 1000 + 900}
            for n, (role, text) in enumerate(TURNS)
        ]}
        ids = endpoint.signed_post(utterances_path(instance_id, contact_id), batch)["Ids"]
    finally:
        first.stop(signal.SIGKILL)

    second = start_server(tmp_path / "db")
    try:
        endpoint = Endpoint(second.url, ACCESS_KEY, SECRET_KEY)
        # The client retries after the crash with the same ClientToken: nothing is added twice.
        assert endpoint.signed_post(utterances_path(instance_id, contact_id), batch)["Ids"] == ids
        second.client("connect").stop_contact(InstanceId=instance_id, ContactId=contact_id)
        lens = second.client("connect-contact-lens")
        segments = wait_v1_completed(lens, instance_id, contact_id)
        transcripts = [s["Transcript"] for s in segments if kind_of(s) == "Transcript"]
        assert [t["Id"] for t in transcripts] == ids
        assert [t["BeginOffsetMillis"] for t in transcripts] == [0, 1000, 2000, 3000, 4000]
        assert kind_of(segments[-1]) == "PostContactSummary"
        again, _ = list_v1_all(lens, instance_id, contact_id)
        assert again == segments
    finally:
        second.stop()
    _check_log(second)


def test_many_sigkills_in_a_row(tmp_path: Path) -> None:
    """Kill the server right after each acknowledged message; nothing is lost or analysed twice."""
    server = start_server(tmp_path / "db")
    connect, participant = server.client("connect"), server.client("connectparticipant")
    instance_id = _new_instance(server)
    chat = start_chat(connect, participant, instance_id)
    acknowledged: list[str] = []
    servers = []
    for role, text in TURNS[:3]:
        acknowledged.append(_send(participant, chat, role, text))
        server.stop(signal.SIGKILL)
        server = start_server(tmp_path / "db")
        servers.append(server)
        connect, participant = server.client("connect"), server.client("connectparticipant")
    try:
        participant.disconnect_participant(ConnectionToken=chat.customer)
        segments = wait_v2_completed(connect, instance_id, chat.contact_id)
        transcripts = [s["Transcript"]["Id"] for s in segments if kind_of(s) == "Transcript"]
        assert transcripts == acknowledged
        raw, _ = list_v2_all(connect, instance_id, chat.contact_id, "Raw", ["PostContactSummary"])
        assert len(raw) == 1
    finally:
        server.stop()
    _check_log(*servers)
