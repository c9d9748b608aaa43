"""The real aws CLI (v1, from the venv) against the server."""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from typing import Any

import pytest

from livelens.replay import Endpoint
from tests.e2e.conftest import (
    ACCESS_KEY,
    SECRET_KEY,
    Server,
    kind_of,
    start_chat,
    unique,
    utterances_path,
    wait_v1_completed,
    wait_v2_completed,
)

# Left out of make test's PostgreSQL pass: the aws CLI's output formats, the same bytes whatever the backend.
pytestmark = pytest.mark.storage_independent


def test_instances_through_the_cli(server: Server) -> None:
    alias = f"cli-{unique()}"
    created = json.loads(server.aws(
        "connect", "create-instance", "--identity-management-type", "CONNECT_MANAGED",
        "--instance-alias", alias, "--inbound-calls-enabled", "--no-outbound-calls-enabled", "--output", "json",
    ).stdout)
    assert set(created) == {"Id", "Arn"} and created["Arn"].endswith(created["Id"])
    described = json.loads(server.aws("connect", "describe-instance", "--instance-id", created["Id"],
                                      "--output", "json").stdout)["Instance"]
    assert described["Id"] == created["Id"]
    assert described["InstanceAlias"] == alias
    assert described["InboundCallsEnabled"] is True and described["OutboundCallsEnabled"] is False
    assert described["IdentityManagementType"] == "CONNECT_MANAGED"
    aliases = server.aws("connect", "list-instances", "--query", "InstanceSummaryList[].InstanceAlias",
                         "--output", "text").stdout.split()
    assert alias in aliases


def test_error_through_the_cli(server: Server) -> None:
    result = server.aws("connect", "describe-instance", "--instance-id", "does-not-exist", check=False)
    assert result.returncode != 0
    assert "ResourceNotFoundException" in result.stderr
    assert "Traceback" not in result.stderr
    result = server.aws("connect-contact-lens", "list-realtime-contact-analysis-segments",
                        "--instance-id", "nope", "--contact-id", "nope", check=False)
    assert result.returncode != 0 and "ResourceNotFoundException" in result.stderr


def test_segments_through_the_cli(server: Server, connect: Any, participant: Any, contact_lens: Any,
                                  instance_id: str) -> None:
    # A finished voice contact, read with V1.
    contact_id = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND",
                                        Attributes={"livelens:redaction": "None"})["ContactId"]
    endpoint = Endpoint(server.url, ACCESS_KEY, SECRET_KEY)
    endpoint.signed_post(utterances_path(instance_id, contact_id), {"Utterances": [
        {"ParticipantId": "CUSTOMER", "ParticipantRole": "CUSTOMER", "Content": "The router lights are blinking.",
         "BeginOffsetMillis": 100, "EndOffsetMillis": 2100},
        {"ParticipantId": "AGENT", "ParticipantRole": "AGENT", "Content": "Let me restart it remotely for you.",
         "BeginOffsetMillis": 2200, "EndOffsetMillis": 4000},
    ]})
    connect.stop_contact(InstanceId=instance_id, ContactId=contact_id)
    expected_v1 = wait_v1_completed(contact_lens, instance_id, contact_id)
    shown = json.loads(server.aws("connect-contact-lens", "list-realtime-contact-analysis-segments",
                                  "--instance-id", instance_id, "--contact-id", contact_id, "--output", "json").stdout)
    assert "NextToken" not in shown
    assert shown["Segments"] == expected_v1
    transcripts = [s["Transcript"] for s in shown["Segments"] if "Transcript" in s]
    assert [(t["Content"], t["BeginOffsetMillis"], t["EndOffsetMillis"]) for t in transcripts] == [
        ("The router lights are blinking.", 100, 2100), ("Let me restart it remotely for you.", 2200, 4000)
    ]
    assert kind_of(shown["Segments"][-1]) == "PostContactSummary"

    # A finished chat contact, read with V2.
    chat = start_chat(connect, participant, instance_id)
    participant.send_message(ContentType="text/plain", Content="Can I change my plan?", ConnectionToken=chat.customer)
    participant.send_message(ContentType="text/plain", Content="Yes, which plan would you like?",
                             ConnectionToken=chat.agent)
    participant.disconnect_participant(ConnectionToken=chat.customer)
    wait_v2_completed(connect, instance_id, chat.contact_id)
    shown = json.loads(server.aws(
        "connect", "list-realtime-contact-analysis-segments-v2", "--instance-id", instance_id,
        "--contact-id", chat.contact_id, "--output-type", "Raw", "--segment-types", "Transcript", "Event",
        "--output", "json",
    ).stdout)
    assert shown["Channel"] == "CHAT" and shown["Status"] == "COMPLETED" and "NextToken" not in shown
    kinds = [kind_of(s) for s in shown["Segments"]]
    assert kinds == ["Event", "Event", "Transcript", "Transcript", "Event", "Event"]
    assert [s["Transcript"]["Content"] for s in shown["Segments"] if "Transcript" in s] == [
        "Can I change my plan?", "Yes, which plan would you like?"
    ]
    # the CLI prints timestamps as the server sent them: RealTimeContactAnalysisTimeInstant is an
    # iso8601 timestamp, written as AWS writes it (UTC, milliseconds, Z)
    now = time.time()
    times = [s[kind_of(s)]["Time"]["AbsoluteTime"] for s in shown["Segments"]]
    assert all(re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", t) for t in times), times
    assert all(now - 3600 < datetime.fromisoformat(t.replace("Z", "+00:00")).timestamp() <= now + 5 for t in times)
