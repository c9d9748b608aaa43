"""A whole chat contact, driven exactly as an Amazon Connect chat client drives one."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.e2e.conftest import (
    assert_client_error,
    kind_of,
    list_v2_all,
    segment_id,
    unique,
    wait_for,
    wait_v2_completed,
)

JOINED = "application/vnd.amazonaws.connect.event.participant.joined"
LEFT = "application/vnd.amazonaws.connect.event.participant.left"
ENDED = "application/vnd.amazonaws.connect.event.chat.ended"
TYPING = "application/vnd.amazonaws.connect.event.typing"
READ = "application/vnd.amazonaws.connect.event.message.read"
DELIVERED = "application/vnd.amazonaws.connect.event.message.delivered"


def _transcript_pages(participant: Any, token: str, direction: str, max_results: int) -> list[list[dict[str, Any]]]:
    pages = []
    kwargs: dict[str, Any] = {"ConnectionToken": token, "ScanDirection": direction, "MaxResults": max_results,
                              "SortOrder": "ASCENDING"}
    for _ in range(50):
        answer = participant.get_transcript(**kwargs)
        assert answer["InitialContactId"]
        pages.append(answer["Transcript"])
        if not answer.get("NextToken"):
            return pages
        assert len(answer["Transcript"]) == max_results
        kwargs["NextToken"] = answer["NextToken"]
    raise AssertionError("GetTranscript never stopped paging")


def test_whole_chat_contact(connect: Any, participant: Any, instance_id: str) -> None:
    email = f"chat.{unique()}@example.com"
    started = connect.start_chat_contact(
        InstanceId=instance_id,
        ContactFlowId="e2e-flow",
        ParticipantDetails={"DisplayName": "Casey Customer"},
        InitialMessage={"ContentType": "text/plain", "Content": "Hello, I need help with my bill."},
    )
    contact_id = started["ContactId"]
    customer_participant_id = started["ParticipantId"]
    agent = connect.create_participant(
        InstanceId=instance_id,
        ContactId=contact_id,
        ParticipantDetails={"ParticipantRole": "AGENT", "DisplayName": "Alex Agent"},
    )
    agent_participant_id = agent["ParticipantId"]
    assert agent["ParticipantCredentials"]["ParticipantToken"]
    assert isinstance(agent["ParticipantCredentials"]["Expiry"], str)

    def connection(token: str) -> str:
        answer = participant.create_participant_connection(Type=["CONNECTION_CREDENTIALS"], ParticipantToken=token)
        credentials = answer["ConnectionCredentials"]
        assert credentials["Expiry"]
        return str(credentials["ConnectionToken"])

    customer = connection(started["ParticipantToken"])
    agent_token = connection(agent["ParticipantCredentials"]["ParticipantToken"])

    # Messages from both sides.
    m1 = participant.send_message(ContentType="text/plain", Content=f"My email is {email}.", ConnectionToken=customer)
    participant.send_event(ContentType=TYPING, ConnectionToken=agent_token)
    m2 = participant.send_message(ContentType="text/plain", Content="Thanks, I can see your account now.",
                                  ConnectionToken=agent_token)
    assert m1["Id"] != m2["Id"]
    assert isinstance(m1["AbsoluteTime"], str) and m1["AbsoluteTime"] <= m2["AbsoluteTime"]

    # Read receipt from the agent for the customer's message, delivered receipt from the customer.
    receipt = participant.send_event(ContentType=READ, Content=json.dumps({"messageId": m1["Id"]}),
                                     ConnectionToken=agent_token)
    assert receipt["Id"]
    participant.send_event(ContentType=DELIVERED, Content=json.dumps({"messageId": m2["Id"]}),
                           ConnectionToken=customer)
    with pytest.raises(ClientError) as missing:
        participant.send_event(ContentType=READ, Content=json.dumps({"messageId": "no-such-message"}),
                               ConnectionToken=agent_token)
    assert missing.value.response["Error"]["Code"] in ("ValidationException", "ResourceNotFoundException")

    # An attachment: start, PUT the bytes with the headers handed out, complete.
    data = b"%PDF-1.4 livelens e2e attachment " + unique().encode()
    upload = participant.start_attachment_upload(
        ContentType="application/pdf", AttachmentSizeInBytes=len(data), AttachmentName="bill.pdf",
        ClientToken=unique(), ConnectionToken=customer,
    )
    metadata = upload["UploadMetadata"]
    assert metadata["HeadersToInclude"] == {"Content-Type": "application/pdf"}
    put = requests.put(metadata["Url"], data=data, headers=metadata["HeadersToInclude"], timeout=30)
    assert put.status_code in (200, 204), put.text
    participant.complete_attachment_upload(
        AttachmentIds=[upload["AttachmentId"]], ClientToken=unique(), ConnectionToken=customer
    )

    m3 = participant.send_message(ContentType="text/plain", Content="Great, thank you so much!",
                                  ConnectionToken=customer)

    # GetTranscript: forward and backward, paged with MaxResults, receipts in MessageMetadata.
    forward = _transcript_pages(participant, agent_token, "FORWARD", 2)
    backward = _transcript_pages(participant, agent_token, "BACKWARD", 2)
    forward_items = [item for page in forward for item in page]
    backward_items = [item for page in reversed(backward) for item in page]
    assert len(forward) >= 3
    assert [i["Id"] for i in forward_items] == [i["Id"] for i in backward_items]
    assert len({i["Id"] for i in forward_items}) == len(forward_items)
    messages = [i for i in forward_items if i["Type"] == "MESSAGE"]
    assert [m["Content"] for m in messages] == [
        "Hello, I need help with my bill.",
        f"My email is {email}.",
        "Thanks, I can see your account now.",
        "Great, thank you so much!",
    ]
    assert [m["ParticipantRole"] for m in messages] == ["CUSTOMER", "CUSTOMER", "AGENT", "CUSTOMER"]
    assert [m["Id"] for m in messages[1:]] == [m1["Id"], m2["Id"], m3["Id"]]
    assert all(i["ContactId"] == contact_id for i in forward_items)
    times = [i["AbsoluteTime"] for i in forward_items]
    assert times == sorted(times)
    first = next(m for m in messages if m["Id"] == m1["Id"])
    receipts = first["MessageMetadata"]["Receipts"]
    assert first["MessageMetadata"]["MessageId"] == m1["Id"]
    assert [r["RecipientParticipantId"] for r in receipts] == [agent_participant_id]
    assert receipts[0]["ReadTimestamp"]
    second = next(m for m in messages if m["Id"] == m2["Id"])
    assert second["MessageMetadata"]["Receipts"][0]["RecipientParticipantId"] == customer_participant_id
    assert second["MessageMetadata"]["Receipts"][0]["DeliveredTimestamp"]
    attachments = [i for i in forward_items if i["Type"] == "ATTACHMENT"]
    assert len(attachments) == 1
    assert attachments[0]["Attachments"][0]["AttachmentId"] == upload["AttachmentId"]
    assert attachments[0]["Attachments"][0]["AttachmentName"] == "bill.pdf"
    assert attachments[0]["Attachments"][0]["Status"] == "APPROVED"
    # typing is ephemeral: never part of the transcript
    assert not any(i.get("ContentType") == TYPING for i in forward_items)
    # The same transcript with SortOrder DESCENDING on one page, newest first.
    whole = participant.get_transcript(ConnectionToken=customer, ScanDirection="FORWARD", SortOrder="DESCENDING",
                                       MaxResults=100)
    assert [i["Id"] for i in whole["Transcript"]] == [i["Id"] for i in reversed(forward_items)]
    assert "NextToken" not in whole

    # Analysis is live: all four turns analysed while the contact is still IN_PROGRESS.
    def four_transcripts() -> list[dict[str, Any]] | None:
        segments, last = list_v2_all(connect, instance_id, contact_id)
        assert last["Status"] == "IN_PROGRESS" and last["Channel"] == "CHAT" and last.get("NextToken")
        found = [s for s in segments if kind_of(s) == "Transcript"]
        return segments if len(found) == 4 and any(kind_of(s) == "Attachments" for s in segments) else None

    wait_for(four_transcripts, timeout=60)

    # The customer leaves: the contact ends.
    participant.disconnect_participant(ConnectionToken=customer)
    segments = wait_v2_completed(connect, instance_id, contact_id)

    kinds = [kind_of(s) for s in segments]
    without_issues = [k for k in kinds if k not in ("Issues", "Categories")]
    assert without_issues == [
        "Event",  # customer joined
        "Transcript",  # initial message
        "Event",  # agent joined
        "Transcript",
        "Transcript",
        "Attachments",
        "Transcript",
        "Event",  # customer left
        "Event",  # chat ended
        "PostContactSummary",
    ], kinds
    assert kinds[-1] == "PostContactSummary" and kinds.count("PostContactSummary") == 1
    events = [s["Event"] for s in segments if kind_of(s) == "Event"]
    assert [e["EventType"] for e in events] == [JOINED, JOINED, LEFT, ENDED]
    assert [e.get("ParticipantRole") for e in events[:3]] == ["CUSTOMER", "AGENT", "CUSTOMER"]
    transcripts = [s["Transcript"] for s in segments if kind_of(s) == "Transcript"]
    assert [t["Id"] for t in transcripts][1:] == [m1["Id"], m2["Id"], m3["Id"]]
    assert transcripts[1]["Content"] == f"My email is {email}."  # Raw keeps the original
    assert transcripts[2]["ParticipantId"] == agent_participant_id
    assert transcripts[2]["ParticipantRole"] == "AGENT"
    assert transcripts[2]["DisplayName"] == "Alex Agent"
    assert all(t["Sentiment"] in ("POSITIVE", "NEUTRAL", "NEGATIVE") for t in transcripts)
    assert all(isinstance(t["Time"]["AbsoluteTime"], datetime) for t in transcripts)
    attachment_segment = next(s["Attachments"] for s in segments if kind_of(s) == "Attachments")
    assert attachment_segment["Attachments"][0]["AttachmentId"] == upload["AttachmentId"]
    assert attachment_segment["ParticipantRole"] == "CUSTOMER"
    summary = segments[-1]["PostContactSummary"]
    assert summary["Status"] == "COMPLETED", summary
    assert 0 < len(summary["Content"]) <= 1270
    ids = [segment_id(s) for s in segments if kind_of(s) in ("Transcript", "Event", "Attachments")]
    assert all(ids) and len(ids) == len(set(ids))

    # Redacted output of the same contact hides the email and says where.
    redacted, _ = list_v2_all(connect, instance_id, contact_id, "Redacted", ["Transcript"])
    assert len(redacted) == 4
    hidden = redacted[1]["Transcript"]
    assert email not in hidden["Content"]
    assert hidden["Redaction"]["CharacterOffsets"]
    assert all(email not in json.dumps(s, default=str) for s in redacted)

    # Filtering by SegmentTypes returns only those types, in the same order.
    only_events, last = list_v2_all(connect, instance_id, contact_id, "Raw", ["Event", "PostContactSummary"])
    assert [kind_of(s) for s in only_events] == ["Event"] * 4 + ["PostContactSummary"]
    assert last["Status"] == "COMPLETED" and "NextToken" not in last

    described = connect.describe_contact(InstanceId=instance_id, ContactId=contact_id)["Contact"]
    assert described["Id"] == contact_id
    assert described["Channel"] == "CHAT"
    assert isinstance(described["DisconnectTimestamp"], datetime)
    assert described["DisconnectTimestamp"] >= described["InitiationTimestamp"]

    # The contact has ended: the agent's connection no longer works.
    with pytest.raises(ClientError) as denied:
        participant.send_message(ContentType="text/plain", Content="still there?", ConnectionToken=agent_token)
    assert_client_error(denied, "AccessDeniedException", 403)


def test_summary_fails_without_both_sides(connect: Any, participant: Any, instance_id: str) -> None:
    started = connect.start_chat_contact(
        InstanceId=instance_id, ContactFlowId="e2e-flow", ParticipantDetails={"DisplayName": "Lonely"},
    )
    customer = participant.create_participant_connection(
        Type=["CONNECTION_CREDENTIALS"], ParticipantToken=started["ParticipantToken"]
    )["ConnectionCredentials"]["ConnectionToken"]
    participant.send_message(ContentType="text/plain", Content="Is anybody there?", ConnectionToken=customer)
    connect.stop_contact(InstanceId=instance_id, ContactId=started["ContactId"])
    segments = wait_v2_completed(connect, instance_id, started["ContactId"])
    summary = segments[-1]["PostContactSummary"]
    assert summary["Status"] == "FAILED"
    assert summary["FailureCode"] == "INSUFFICIENT_CONVERSATION_CONTENT"
    assert "Content" not in summary
    with pytest.raises(ClientError) as again:
        connect.stop_contact(InstanceId=instance_id, ContactId=started["ContactId"])
    assert_client_error(again, "ContactNotFoundException")


def test_send_message_client_token_is_idempotent(connect: Any, participant: Any, instance_id: str) -> None:
    from tests.e2e.conftest import start_chat

    chat = start_chat(connect, participant, instance_id)
    token = unique()
    first = participant.send_message(ContentType="text/plain", Content="once", ClientToken=token,
                                     ConnectionToken=chat.customer)
    second = participant.send_message(ContentType="text/plain", Content="once", ClientToken=token,
                                      ConnectionToken=chat.customer)
    assert first["Id"] == second["Id"]
    items = participant.get_transcript(ConnectionToken=chat.agent, ScanDirection="FORWARD", MaxResults=100)
    assert [i["Id"] for i in items["Transcript"] if i["Type"] == "MESSAGE"] == [first["Id"]]
