"""Validation and not-found errors, as botocore reads them; malformed bodies; redaction policy plumbing."""

from __future__ import annotations

import json
import re
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
    list_v1_all,
    list_v2_all,
    signed_request,
    start_chat,
    unique,
    utterances_path,
    wait_for,
)


@pytest.fixture(scope="module")
def chat(connect: Any, participant: Any, instance_id: str) -> Any:
    return start_chat(connect, participant, instance_id)


@pytest.fixture(scope="module")
def voice(connect: Any, instance_id: str) -> str:
    return str(connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND")["ContactId"])


# connect / connect-contact-lens: InvalidRequestException naming the field -----------------


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"MaxResults": 0}, "MaxResults"),
        ({"MaxResults": 101}, "MaxResults"),
        ({"OutputType": "Both"}, "OutputType"),
        ({"SegmentTypes": ["Transcript", "Sentiment"]}, "SegmentTypes"),
        # more than the seed's 6 (and the botocore model's 7) members
        ({"SegmentTypes": V2_TYPES + ["Transcript", "Event"]}, "SegmentTypes"),
        ({"OutputType": None}, "OutputType"),
        ({"SegmentTypes": None}, "SegmentTypes"),
        ({"NextToken": ""}, "NextToken"),
    ],
)
def test_v2_validation(unvalidated: Callable[[str], Any], instance_id: str, chat: Any, overrides: dict[str, Any],
                       field: str) -> None:
    request = {"InstanceId": instance_id, "ContactId": chat.contact_id, "OutputType": "Raw",
               "SegmentTypes": ["Transcript"], **overrides}
    request = {k: v for k, v in request.items() if v is not None}
    with pytest.raises(ClientError) as error:
        unvalidated("connect").list_realtime_contact_analysis_segments_v2(**request)
    assert_client_error(error, "InvalidRequestException", 400, mentions=field)


@pytest.mark.parametrize("max_results", [0, 101, -5])
def test_v1_max_results(unvalidated: Callable[[str], Any], instance_id: str, voice: str, max_results: int) -> None:
    with pytest.raises(ClientError) as error:
        unvalidated("connect-contact-lens").list_realtime_contact_analysis_segments(
            InstanceId=instance_id, ContactId=voice, MaxResults=max_results
        )
    assert_client_error(error, "InvalidRequestException", 400, mentions="MaxResults")


def test_v1_max_results_bounds_are_accepted(contact_lens: Any, instance_id: str, voice: str) -> None:
    for max_results in (1, 100):
        page = contact_lens.list_realtime_contact_analysis_segments(
            InstanceId=instance_id, ContactId=voice, MaxResults=max_results
        )
        assert page["NextToken"]


@pytest.mark.parametrize(
    "request_, field",
    [
        ({"Channel": "TASK", "InitiationMethod": "API"}, "Channel"),
        ({"Channel": "EMAIL", "InitiationMethod": "API"}, "Channel"),
        ({"Channel": "CARRIER_PIGEON", "InitiationMethod": "API"}, "Channel"),
        ({"Channel": "VOICE", "InitiationMethod": "TELEPATHY"}, "InitiationMethod"),
        ({"InitiationMethod": "API"}, "Channel"),
        ({"Channel": "VOICE", "InitiationMethod": "API", "Attributes": {"livelens:redaction": "Sometimes"}},
         "livelens:redaction"),
    ],
)
def test_create_contact_validation(unvalidated: Callable[[str], Any], instance_id: str, request_: dict[str, Any],
                                   field: str) -> None:
    with pytest.raises(ClientError) as error:
        unvalidated("connect").create_contact(InstanceId=instance_id, **request_)
    assert_client_error(error, "InvalidRequestException", 400, mentions=field)


def test_start_chat_validation(unvalidated: Callable[[str], Any], connect: Any, instance_id: str) -> None:
    client = unvalidated("connect")
    with pytest.raises(ClientError) as error:
        client.start_chat_contact(InstanceId=instance_id, ContactFlowId="f", ParticipantDetails={"DisplayName": "C"},
                                  Attributes={"livelens:redaction": "redactedonly"})
    assert_client_error(error, "InvalidRequestException", 400, mentions="livelens:redaction")
    with pytest.raises(ClientError) as error:
        client.start_chat_contact(InstanceId=instance_id, ParticipantDetails={"DisplayName": "C"})
    assert_client_error(error, "InvalidRequestException", 400, mentions="ContactFlowId")
    with pytest.raises(ClientError) as error:
        client.start_chat_contact(InstanceId=instance_id, ContactFlowId="f", ParticipantDetails={})
    assert_client_error(error, "InvalidRequestException", 400, mentions="DisplayName")
    with pytest.raises(ClientError) as error:
        client.create_instance(IdentityManagementType="CONNECT_MANAGED", InboundCallsEnabled=True)
    assert_client_error(error, "InvalidRequestException", 400, mentions="OutboundCallsEnabled")
    with pytest.raises(ClientError) as error:
        client.create_instance(IdentityManagementType="NOBODY", InboundCallsEnabled=True, OutboundCallsEnabled=True)
    assert_client_error(error, "InvalidRequestException", 400, mentions="IdentityManagementType")


def test_create_participant_validation(unvalidated: Callable[[str], Any], instance_id: str, chat: Any) -> None:
    client = unvalidated("connect")
    with pytest.raises(ClientError) as error:
        client.create_participant(InstanceId=instance_id, ContactId=chat.contact_id,
                                  ParticipantDetails={"ParticipantRole": "WIZARD"})
    assert_client_error(error, "InvalidRequestException", 400, mentions="ParticipantRole")
    with pytest.raises(ClientError) as error:
        client.create_participant(InstanceId=instance_id, ContactId=chat.contact_id)
    assert_client_error(error, "InvalidRequestException", 400, mentions="ParticipantDetails")


# connectparticipant: ValidationException naming the field ---------------------------


def test_participant_validation(unvalidated: Callable[[str], Any], chat: Any) -> None:
    client = unvalidated("connectparticipant")
    cases: list[tuple[Callable[[], Any], str]] = [
        (lambda: client.send_message(ContentType="text/plain", ConnectionToken=chat.customer), "Content"),
        (lambda: client.send_message(ContentType="text/plain", Content="", ConnectionToken=chat.customer),
         "Content"),
        (lambda: client.send_message(ContentType="image/gif", Content="hi", ConnectionToken=chat.customer),
         "ContentType"),
        (lambda: client.send_message(ContentType="application/json", Content="{not json",
                                     ConnectionToken=chat.customer), "Content"),
        (lambda: client.send_event(ContentType="application/vnd.amazonaws.connect.event.bogus",
                                   ConnectionToken=chat.customer), "ContentType"),
        (lambda: client.send_event(ContentType="application/vnd.amazonaws.connect.event.message.read",
                                   Content="not json", ConnectionToken=chat.customer), "Content"),
        (lambda: client.get_transcript(ConnectionToken=chat.customer, MaxResults=101), "MaxResults"),
        (lambda: client.get_transcript(ConnectionToken=chat.customer, ScanDirection="SIDEWAYS"), "ScanDirection"),
        (lambda: client.start_attachment_upload(ContentType="application/x-evil", AttachmentSizeInBytes=10,
                                                AttachmentName="a.exe", ClientToken=unique(),
                                                ConnectionToken=chat.customer), "ContentType"),
        (lambda: client.create_participant_connection(Type=["CONNECTION_CREDENTIALS"]), "ParticipantToken"),
    ]
    for call, field in cases:
        with pytest.raises(ClientError) as error:
            call()
        assert_client_error(error, "ValidationException", 400, mentions=field)


# not found -------------------------------------------------------------------------


def test_unknown_instance_and_contact(connect: Any, contact_lens: Any, instance_id: str, chat: Any,
                                      voice: str) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    calls: list[Callable[[], Any]] = [
        lambda: connect.describe_instance(InstanceId=missing),
        lambda: connect.delete_instance(InstanceId=missing),
        lambda: connect.describe_contact(InstanceId=instance_id, ContactId=missing),
        lambda: connect.describe_contact(InstanceId=missing, ContactId=chat.contact_id),
        lambda: connect.stop_contact(InstanceId=instance_id, ContactId=missing),
        lambda: connect.create_contact(InstanceId=missing, Channel="VOICE", InitiationMethod="INBOUND"),
        lambda: connect.start_chat_contact(InstanceId=missing, ContactFlowId="f",
                                           ParticipantDetails={"DisplayName": "C"}),
        lambda: connect.create_participant(InstanceId=instance_id, ContactId=missing,
                                           ParticipantDetails={"ParticipantRole": "AGENT"}),
        lambda: connect.list_realtime_contact_analysis_segments_v2(
            InstanceId=instance_id, ContactId=missing, OutputType="Raw", SegmentTypes=["Transcript"]),
        lambda: connect.list_realtime_contact_analysis_segments_v2(
            InstanceId=missing, ContactId=chat.contact_id, OutputType="Raw", SegmentTypes=["Transcript"]),
        lambda: contact_lens.list_realtime_contact_analysis_segments(InstanceId=instance_id, ContactId=missing),
        lambda: contact_lens.list_realtime_contact_analysis_segments(InstanceId=missing, ContactId=voice),
    ]
    for call in calls:
        with pytest.raises(ClientError) as error:
            call()
        assert_client_error(error, "ResourceNotFoundException", 404)


def test_contact_of_another_instance_is_not_found(connect: Any, instance_id: str, chat: Any) -> None:
    other = connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InboundCallsEnabled=True,
                                    OutboundCallsEnabled=True)["Id"]
    with pytest.raises(ClientError) as error:
        connect.list_realtime_contact_analysis_segments_v2(
            InstanceId=other, ContactId=chat.contact_id, OutputType="Raw", SegmentTypes=["Transcript"])
    assert_client_error(error, "ResourceNotFoundException", 404)


# malformed bodies through raw signed requests ------------------------------------------


def _v2_path(instance_id: str, contact_id: str) -> str:
    return f"/contact/list-real-time-analysis-segments-v2/{instance_id}/{contact_id}"


@pytest.mark.parametrize(
    "body",
    [b"{", b'{"OutputType": "Raw",', b"\xff\xfe\x00garbage", b'[1, 2, 3]', b'"Raw"', b"42", b"null", b"true",
     b'{"OutputType": "Raw", "SegmentTypes": "Transcript"}', b'{"OutputType": 5, "SegmentTypes": ["Transcript"]}',
     b'{"OutputType": "Raw", "SegmentTypes": ["Transcript"], "MaxResults": "ten"}',
     b'{"OutputType": "Raw", "SegmentTypes": ["Transcript"], "MaxResults": 1.5}',
     b'{"OutputType": "Raw", "SegmentTypes": [{"a": 1}]}'],
)
def test_malformed_v2_body(server: Server, instance_id: str, chat: Any, body: bytes) -> None:
    answer = signed_request(server, "POST", _v2_path(instance_id, chat.contact_id), body)
    assert answer.status_code == 400, answer.text
    assert answer.headers["x-amzn-ErrorType"] == "InvalidRequestException"
    assert answer.headers["Content-Type"].startswith("application/json")
    error = answer.json()
    assert isinstance(error, dict) and (error.get("Message") or error.get("message"))
    assert "Traceback" not in answer.text


@pytest.mark.parametrize("body", [b"{", b"[]", b'"x"', b"17"])
def test_malformed_bodies_elsewhere(server: Server, instance_id: str, voice: str, chat: Any, body: bytes) -> None:
    targets = [
        ("PUT", "/instance", "InvalidRequestException"),
        ("PUT", "/contact/create-contact", "InvalidRequestException"),
        ("POST", "/realtime-contact-analysis/analysis-segments", "InvalidRequestException"),
        ("POST", utterances_path(instance_id, voice), "InvalidRequestException"),
    ]
    for method, path, code in targets:
        answer = signed_request(server, method, path, body)
        assert answer.status_code == 400, (path, answer.text)
        assert answer.headers["x-amzn-ErrorType"] == code, path
        assert isinstance(answer.json(), dict) and "Traceback" not in answer.text
    # connectparticipant authenticates with the token header, not SigV4
    answer = signed_request(server, "POST", "/participant/message", body, sign=False,
                            headers={"X-Amz-Bearer": chat.customer})
    assert answer.status_code == 400, answer.text
    assert answer.headers["x-amzn-ErrorType"] == "ValidationException"
    assert isinstance(answer.json(), dict) and "Traceback" not in answer.text


def test_unknown_route_and_method(server: Server) -> None:
    answer = signed_request(server, "POST", "/no/such/operation", {})
    assert 400 <= answer.status_code < 500 and answer.headers.get("x-amzn-ErrorType")
    answer = signed_request(server, "DELETE", "/contact/chat", {})
    assert answer.status_code in (404, 405) and answer.headers.get("x-amzn-ErrorType")
    assert "Traceback" not in answer.text


# redaction policy -----------------------------------------------------------------


def _database_bytes(server: Server) -> bytes:
    data = b""
    for suffix in ("", "-wal", "-shm", "-journal"):
        path = server.db.with_name(server.db.name + suffix)
        if path.exists():
            data += path.read_bytes()
    return data


def test_redacted_only_chat(server: Server, connect: Any, participant: Any, instance_id: str) -> None:
    email = f"secret.{unique()}@example.net"
    chat = start_chat(connect, participant, instance_id, **{"livelens:redaction": "RedactedOnly"})
    sent = participant.send_message(ContentType="text/plain", Content=f"Please email me at {email} today.",
                                    ConnectionToken=chat.customer)
    participant.send_message(ContentType="text/plain", Content="Sure, noted.", ConnectionToken=chat.agent)

    def analysed() -> list[dict[str, Any]] | None:
        segments, _ = list_v2_all(connect, instance_id, chat.contact_id, "Redacted", ["Transcript"])
        return segments if len(segments) == 2 else None

    segments = wait_for(analysed, timeout=60)
    first = segments[0]["Transcript"]
    assert first["Id"] == sent["Id"]
    assert email not in first["Content"] and "[PII]" in first["Content"]
    with pytest.raises(ClientError) as error:
        connect.list_realtime_contact_analysis_segments_v2(
            InstanceId=instance_id, ContactId=chat.contact_id, OutputType="Raw", SegmentTypes=["Transcript"])
    assert_client_error(error, "OutputTypeNotFoundException", 404)

    transcript = participant.get_transcript(ConnectionToken=chat.agent, ScanDirection="FORWARD", MaxResults=100)
    message = next(i for i in transcript["Transcript"] if i["Id"] == sent["Id"])
    assert email not in message["Content"]

    participant.disconnect_participant(ConnectionToken=chat.customer)
    wait_for(lambda: list_v2_all(connect, instance_id, chat.contact_id, "Redacted")[1]["Status"] == "COMPLETED",
             timeout=60)
    everything, _ = list_v2_all(connect, instance_id, chat.contact_id, "Redacted")
    assert email not in json.dumps(everything, default=str)
    stored = _database_bytes(server)
    assert email.encode() not in stored
    assert email.split("@")[0].encode() not in stored
    assert "Traceback" not in "".join(server.output)
    assert email not in "".join(server.output)


def test_redacted_only_voice(server: Server, connect: Any, contact_lens: Any, instance_id: str) -> None:
    email = f"voice.secret.{unique()}@example.net"
    contact_id = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND",
                                        Attributes={"livelens:redaction": "RedactedOnly"})["ContactId"]
    Endpoint(server.url, ACCESS_KEY, SECRET_KEY).signed_post(utterances_path(instance_id, contact_id), {
        "ParticipantId": "CUSTOMER", "ParticipantRole": "CUSTOMER", "Content": f"my address is {email} thanks",
        "BeginOffsetMillis": 0, "EndOffsetMillis": 1000,
    })
    segments = wait_for(lambda: list_v1_all(contact_lens, instance_id, contact_id)[0], timeout=60)
    assert email not in segments[0]["Transcript"]["Content"]
    assert email.encode() not in _database_bytes(server)


def test_policy_none(connect: Any, participant: Any, instance_id: str) -> None:
    email = f"open.{unique()}@example.org"
    chat = start_chat(connect, participant, instance_id, **{"livelens:redaction": "None"})
    participant.send_message(ContentType="text/plain", Content=f"Write to {email}", ConnectionToken=chat.customer)
    segments = wait_for(
        lambda: list_v2_all(connect, instance_id, chat.contact_id, "Raw", ["Transcript"])[0], timeout=60)
    assert segments[0]["Transcript"]["Content"] == f"Write to {email}"
    assert "Redaction" not in segments[0]["Transcript"]
    with pytest.raises(ClientError) as error:
        connect.list_realtime_contact_analysis_segments_v2(
            InstanceId=instance_id, ContactId=chat.contact_id, OutputType="Redacted", SegmentTypes=["Transcript"])
    assert_client_error(error, "OutputTypeNotFoundException", 404)


def test_redaction_attribute_visible_in_describe_contact(connect: Any, instance_id: str) -> None:
    contact_id = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND",
                                        Attributes={"livelens:redaction": "RedactedOnly"})["ContactId"]
    described = connect.describe_contact(InstanceId=instance_id, ContactId=contact_id)["Contact"]
    assert described["Channel"] == "VOICE"
    assert re.fullmatch(r"arn:aws:connect:us-east-1:\d{12}:instance/.+/contact/" + contact_id, described["Arn"])
    assert described["Attributes"] == {"livelens:redaction": "RedactedOnly"}
    assert described["InitiationMethod"] == "INBOUND"
    assert "DisconnectTimestamp" not in described


def test_redacted_only_initial_message(server: Server, connect: Any, participant: Any, instance_id: str) -> None:
    """StartChatContact's InitialMessage is a turn like any other: under RedactedOnly its original is never stored."""
    email = f"initial.{unique()}@example.net"
    started = connect.start_chat_contact(
        InstanceId=instance_id, ContactFlowId="e2e-flow", ParticipantDetails={"DisplayName": "C"},
        Attributes={"livelens:redaction": "RedactedOnly"},
        InitialMessage={"ContentType": "text/plain", "Content": f"Hi, I am {email}"},
    )
    segments = wait_for(lambda: list_v2_all(connect, instance_id, started["ContactId"], "Redacted",
                                            ["Transcript"])[0], timeout=60)
    assert email not in segments[0]["Transcript"]["Content"]
    connection = participant.create_participant_connection(
        Type=["CONNECTION_CREDENTIALS"], ParticipantToken=started["ParticipantToken"]
    )["ConnectionCredentials"]["ConnectionToken"]
    transcript = participant.get_transcript(ConnectionToken=connection, ScanDirection="FORWARD")
    assert all(email not in item.get("Content", "") for item in transcript["Transcript"])
    assert email.encode() not in _database_bytes(server)


@pytest.mark.parametrize("query, field", [("maxResults=abc", "MaxResults"), ("maxResults=0", "MaxResults"),
                                          ("maxResults=11", "MaxResults")])
def test_bad_query_string(server: Server, query: str, field: str) -> None:
    answer = signed_request(server, "GET", f"/instance?{query}")
    assert answer.status_code == 400, answer.text
    assert answer.headers["x-amzn-ErrorType"] == "InvalidRequestException"
    assert field in answer.json()["Message"]
