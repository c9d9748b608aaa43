"""Edges of the contract: deleted instances, big contacts, limits, unicode."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from livelens.replay import Endpoint
from tests.e2e.conftest import (
    ACCESS_KEY,
    SECRET_KEY,
    V2_TYPES,
    Server,
    assert_client_error,
    kind_of,
    list_v2_all,
    signed_request,
    start_chat,
    utterances_path,
    wait_for,
    wait_v1_completed,
    wait_v2_completed,
)


def test_deleted_instance_takes_its_contacts_along(connect: Any, participant: Any, contact_lens: Any) -> None:
    instance_id = connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InboundCallsEnabled=True,
                                          OutboundCallsEnabled=True)["Id"]
    chat = start_chat(connect, participant, instance_id)
    participant.send_message(ContentType="text/plain", Content="hello", ConnectionToken=chat.customer)
    voice = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND")["ContactId"]
    connect.delete_instance(InstanceId=instance_id)
    calls: list[Callable[[], Any]] = [
        lambda: connect.describe_contact(InstanceId=instance_id, ContactId=chat.contact_id),
        lambda: connect.list_realtime_contact_analysis_segments_v2(
            InstanceId=instance_id, ContactId=chat.contact_id, OutputType="Raw", SegmentTypes=["Transcript"]),
        lambda: contact_lens.list_realtime_contact_analysis_segments(InstanceId=instance_id, ContactId=voice),
        lambda: connect.stop_contact(InstanceId=instance_id, ContactId=voice),
    ]
    for call in calls:
        with pytest.raises(ClientError) as error:
            call()
        assert_client_error(error, "ResourceNotFoundException", 404)
    # Its chat participants can no longer write into (or read from) a contact that no longer exists.
    calls = [
        lambda: participant.send_message(ContentType="text/plain", Content="still there?",
                                         ConnectionToken=chat.customer),
        lambda: participant.get_transcript(ConnectionToken=chat.agent),
    ]
    for call in calls:
        with pytest.raises(ClientError) as error:
            call()
        assert_client_error(error, "AccessDeniedException", 403)


def test_instance_next_token_is_not_a_segment_token(connect: Any, participant: Any, instance_id: str) -> None:
    for _ in range(2):
        connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InboundCallsEnabled=True,
                                OutboundCallsEnabled=True)
    token = connect.list_instances(MaxResults=1)["NextToken"]
    chat = start_chat(connect, participant, instance_id)
    with pytest.raises(ClientError) as error:
        connect.list_realtime_contact_analysis_segments_v2(
            InstanceId=instance_id, ContactId=chat.contact_id, OutputType="Raw", SegmentTypes=["Transcript"],
            NextToken=token)
    assert_client_error(error, "InvalidRequestException", 400, mentions="NextToken")
    page = connect.list_realtime_contact_analysis_segments_v2(
        InstanceId=instance_id, ContactId=chat.contact_id, OutputType="Raw", SegmentTypes=["Event"])
    with pytest.raises(ClientError) as error:
        connect.list_instances(NextToken=page["NextToken"])
    assert_client_error(error, "InvalidRequestException", 400, mentions="NextToken")
    with pytest.raises(ClientError) as error:
        participant.get_transcript(ConnectionToken=chat.customer, NextToken=page["NextToken"])
    assert_client_error(error, "ValidationException", 400, mentions="NextToken")


def test_big_voice_contact_pages_at_100(server: Server, connect: Any, contact_lens: Any, instance_id: str) -> None:
    contact_id = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND",
                                        Attributes={"livelens:redaction": "None"})["ContactId"]
    endpoint = Endpoint(server.url, ACCESS_KEY, SECRET_KEY)
    words = ("The modem restarts itself whenever the neighbours start streaming films in the evening, "
             "and every time it does I lose the video call I am on for work. ")
    ids: list[str] = []
    for start in range(0, 110, 55):
        batch = [{"ParticipantId": "CUSTOMER" if n % 2 == 0 else "AGENT",
                  "ParticipantRole": "CUSTOMER" if n % 2 == 0 else "AGENT",
                  "Content": f"Turn {n}. {words}", "BeginOffsetMillis": n * 10_000,
                  "EndOffsetMillis": n * 10_000 + 9_000} for n in range(start, start + 55)]
        ids += endpoint.signed_post(utterances_path(instance_id, contact_id), {"Utterances": batch})["Ids"]
    too_many = signed_request(server, "POST", utterances_path(instance_id, contact_id),
                              {"Utterances": [batch[0]] * 101})
    assert too_many.status_code == 400 and too_many.headers["x-amzn-ErrorType"] == "InvalidRequestException"
    assert "Utterances" in too_many.json()["Message"]
    connect.stop_contact(InstanceId=instance_id, ContactId=contact_id)
    segments = wait_v1_completed(contact_lens, instance_id, contact_id, timeout=120)
    first = contact_lens.list_realtime_contact_analysis_segments(InstanceId=instance_id, ContactId=contact_id)
    assert len(first["Segments"]) == 100 and first["NextToken"]  # the default page is 100
    transcripts = [s["Transcript"]["Id"] for s in segments if kind_of(s) == "Transcript"]
    assert transcripts == ids
    summary = segments[-1]["PostContactSummary"]
    assert summary["Status"] == "COMPLETED"
    assert 0 < len(summary["Content"]) <= 1762


def test_long_chat_summary_fits_v2(connect: Any, participant: Any, instance_id: str) -> None:
    chat = start_chat(connect, participant, instance_id, **{"livelens:redaction": "None"})
    sentence = ("I have been charged twice for the same subscription this month and the second charge "
                "also included a late fee that I never agreed to. ")
    for n in range(12):
        participant.send_message(ContentType="text/plain", Content=f"{n}: {sentence * 4}",
                                 ConnectionToken=chat.customer if n % 2 == 0 else chat.agent)
    participant.disconnect_participant(ConnectionToken=chat.customer)
    segments = wait_v2_completed(connect, instance_id, chat.contact_id, timeout=120)
    summary = segments[-1]["PostContactSummary"]
    assert summary["Status"] == "COMPLETED" and 0 < len(summary["Content"]) <= 1270


def test_unicode_round_trip(connect: Any, participant: Any, instance_id: str) -> None:
    chat = start_chat(connect, participant, instance_id, **{"livelens:redaction": "None"})
    text = "Grüße aus Köln 👋🏽 — 你好, ça va? \"quotes\" and \\ backslash\nnew line"
    sent = participant.send_message(ContentType="text/plain", Content=text, ConnectionToken=chat.customer)
    transcript = participant.get_transcript(ConnectionToken=chat.agent, ScanDirection="FORWARD")
    assert next(i for i in transcript["Transcript"] if i["Id"] == sent["Id"])["Content"] == text
    segments = wait_for(lambda: list_v2_all(connect, instance_id, chat.contact_id, "Raw", ["Transcript"])[0],
                        timeout=60)
    assert segments[0]["Transcript"]["Content"] == text


def test_message_length_limits(connect: Any, participant: Any, unvalidated: Any, instance_id: str) -> None:
    chat = start_chat(connect, participant, instance_id)
    participant.send_message(ContentType="text/plain", Content="x" * 16384, ConnectionToken=chat.customer)
    with pytest.raises(ClientError) as error:
        unvalidated("connectparticipant").send_message(ContentType="text/plain", Content="x" * 16385,
                                                       ConnectionToken=chat.customer)
    assert_client_error(error, "ValidationException", 400, mentions="Content")


def test_json_message_content_types(connect: Any, participant: Any, instance_id: str) -> None:
    chat = start_chat(connect, participant, instance_id)
    body = json.dumps({"templateType": "QuickReply", "data": {"content": {"title": "Pick one"}}})
    sent = participant.send_message(ContentType="application/vnd.amazonaws.connect.message.interactive",
                                    Content=body, ConnectionToken=chat.agent)
    transcript = participant.get_transcript(ConnectionToken=chat.customer, ScanDirection="FORWARD")
    item = next(i for i in transcript["Transcript"] if i["Id"] == sent["Id"])
    assert item["ContentType"] == "application/vnd.amazonaws.connect.message.interactive"
    assert json.loads(item["Content"]) == json.loads(body)
    _, last = list_v2_all(connect, instance_id, chat.contact_id, "Raw", V2_TYPES)
    assert last["Status"] == "IN_PROGRESS"
