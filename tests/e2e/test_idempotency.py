"""ClientToken: a repeated call returns the first answer and creates nothing new."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.e2e.conftest import V2_TYPES, assert_client_error, kind_of, list_v2_all, unique, wait_for

JOINED = "application/vnd.amazonaws.connect.event.participant.joined"


def _all_instances(connect: Any) -> list[str]:
    return [s["Id"] for page in connect.get_paginator("list_instances").paginate() for s in page["InstanceSummaryList"]]


def _strip(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k != "ResponseMetadata"}


def test_create_instance(connect: Any) -> None:
    token = unique()
    request = {"IdentityManagementType": "CONNECT_MANAGED", "InstanceAlias": f"idem-{token}",
               "InboundCallsEnabled": True, "OutboundCallsEnabled": True, "ClientToken": token}
    before = _all_instances(connect)
    first = connect.create_instance(**request)
    second = connect.create_instance(**request)
    assert _strip(first) == _strip(second)
    after = _all_instances(connect)
    assert len(after) == len(before) + 1 and first["Id"] in after
    with pytest.raises(ClientError) as error:
        connect.create_instance(**{**request, "OutboundCallsEnabled": False})
    assert_client_error(error, "IdempotencyException")
    assert len(_all_instances(connect)) == len(after)
    # Another token is another instance.
    third = connect.create_instance(**{**request, "ClientToken": unique(), "InstanceAlias": f"idem-{unique()}"})
    assert third["Id"] != first["Id"]


def test_start_chat_contact(connect: Any, participant: Any, instance_id: str) -> None:
    token = unique()
    request = {"InstanceId": instance_id, "ContactFlowId": "e2e-flow", "ClientToken": token,
               "ParticipantDetails": {"DisplayName": "Idem"},
               "InitialMessage": {"ContentType": "text/plain", "Content": "only once please"}}
    first = connect.start_chat_contact(**request)
    second = connect.start_chat_contact(**request)
    assert _strip(first) == _strip(second)
    with pytest.raises(ClientError) as error:
        connect.start_chat_contact(**{**request, "ParticipantDetails": {"DisplayName": "Someone else"}})
    assert_client_error(error, "IdempotencyException")
    connection = participant.create_participant_connection(
        Type=["CONNECTION_CREDENTIALS"], ParticipantToken=first["ParticipantToken"]
    )["ConnectionCredentials"]["ConnectionToken"]
    items = participant.get_transcript(ConnectionToken=connection, ScanDirection="FORWARD", MaxResults=100)
    messages = [i for i in items["Transcript"] if i["Type"] == "MESSAGE"]
    assert [m["Content"] for m in messages] == ["only once please"]
    joined = [i for i in items["Transcript"] if i.get("ContentType") == JOINED]
    assert len(joined) == 1


def test_create_contact(connect: Any, instance_id: str) -> None:
    token = unique()
    request = {"InstanceId": instance_id, "Channel": "VOICE", "InitiationMethod": "INBOUND", "ClientToken": token,
               "Name": "idempotent call"}
    first = connect.create_contact(**request)
    second = connect.create_contact(**request)
    assert _strip(first) == _strip(second)
    with pytest.raises(ClientError) as error:
        connect.create_contact(**{**request, "Name": "another call"})
    assert_client_error(error, "IdempotencyException", 409)
    described = connect.describe_contact(InstanceId=instance_id, ContactId=first["ContactId"])["Contact"]
    assert described["Name"] == "idempotent call"


def test_create_participant(connect: Any, participant: Any, instance_id: str) -> None:
    started = connect.start_chat_contact(InstanceId=instance_id, ContactFlowId="f",
                                         ParticipantDetails={"DisplayName": "C"})
    token = unique()
    request = {"InstanceId": instance_id, "ContactId": started["ContactId"], "ClientToken": token,
               "ParticipantDetails": {"ParticipantRole": "AGENT", "DisplayName": "Agent Idem"}}
    first = connect.create_participant(**request)
    second = connect.create_participant(**request)
    assert first["ParticipantId"] == second["ParticipantId"]
    assert first["ParticipantCredentials"] == second["ParticipantCredentials"]
    with pytest.raises(ClientError) as error:
        connect.create_participant(**{**request, "ParticipantDetails": {"ParticipantRole": "AGENT",
                                                                        "DisplayName": "Other"}})
    assert_client_error(error, "IdempotencyException")

    def two_joins() -> list[dict[str, Any]] | None:
        segments, _ = list_v2_all(connect, instance_id, started["ContactId"], "Raw", ["Event"])
        return segments if len(segments) >= 2 else None

    wait_for(two_joins, timeout=60)
    events, _ = list_v2_all(connect, instance_id, started["ContactId"], "Raw", V2_TYPES)
    joins = [s["Event"] for s in events if kind_of(s) == "Event" and s["Event"]["EventType"] == JOINED]
    assert [j["ParticipantRole"] for j in joins] == ["CUSTOMER", "AGENT"]
    assert joins[1]["ParticipantId"] == first["ParticipantId"]
