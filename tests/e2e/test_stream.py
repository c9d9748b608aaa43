"""The segment stream (``GET /livelens/v1/instances/{I}/contacts/{C}/stream``) against a real server.

Segments are appended by the shared server's worker processes; the stream is
read with httpx, signed by botocore (headers, or a presigned URL made by
``SigV4QueryAuth``), and compared with what the list operations page out.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from botocore.auth import SigV4Auth, SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from livelens.replay import Endpoint
from tests.e2e.conftest import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    V2_TYPES,
    Server,
    list_v1_all,
    signed_request,
    start_chat,
    start_server,
    unique,
    utterances_path,
    wait_for,
)

OTHER = ("LLIAOTHERACCOUNT0001", "other-secret-0000000000000000000000001")
INGEST = ("LLIAINGESTONLY000001", "ingest-secret-0000000000000000000000001")


@dataclass
class Event:
    event: str
    data: str
    id: str | None


def stream_path(instance_id: str, contact_id: str) -> str:
    return f"/livelens/v1/instances/{instance_id}/contacts/{contact_id}/stream"


def signed_headers(url: str, key: tuple[str, str] = (ACCESS_KEY, SECRET_KEY)) -> dict[str, str]:
    request = AWSRequest("GET", url)
    SigV4Auth(Credentials(*key), "connect", REGION).add_auth(request)
    return dict(request.headers)


def presigned(url: str, expires: int = 60, key: tuple[str, str] = (ACCESS_KEY, SECRET_KEY)) -> str:
    request = AWSRequest("GET", url)
    SigV4QueryAuth(Credentials(*key), "connect", REGION, expires=expires).add_auth(request)
    return str(request.url)


def events_of(response: httpx.Response, collected: list[Event] | None = None) -> list[Event]:
    """Parse a ``text/event-stream`` body (comments kept as event ``comment``) until the server closes."""
    events = collected if collected is not None else []
    fields: dict[str, str] = {}
    for line in response.iter_lines():
        if line.startswith(":"):
            events.append(Event("comment", line[1:].strip(), None))
        elif line == "":
            if fields:
                events.append(Event(fields.get("event", "message"), fields.get("data", ""), fields.get("id")))
                fields = {}
        else:
            name, _, value = line.partition(":")
            fields[name] = value[1:] if value.startswith(" ") else value
    return events


def read_stream(server: Server, instance_id: str, contact_id: str, query: str = "OutputType=Raw",
                last_event_id: str | None = None, collected: list[Event] | None = None) -> list[Event]:
    url = f"{server.url}{stream_path(instance_id, contact_id)}" + (f"?{query}" if query else "")
    headers = signed_headers(url)
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(60, read=60)) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"].startswith("text/event-stream")
        return events_of(response, collected)


def listed(server: Server, instance_id: str, contact_id: str, output_type: str | None = "Raw",
           segment_types: list[str] | None = None) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Every segment the list operation pages out now, as its wire JSON (V2 with an ``output_type``, else V1)."""
    if output_type is None:
        path, body = "/realtime-contact-analysis/analysis-segments", {"InstanceId": instance_id,
                                                                      "ContactId": contact_id}
    else:
        path = f"/contact/list-real-time-analysis-segments-v2/{instance_id}/{contact_id}"
        body = {"OutputType": output_type, "SegmentTypes": segment_types or V2_TYPES}
    segments: list[dict[str, Any]] = []
    while True:
        answer = signed_request(server, "POST", path, {**body, "MaxResults": 3})
        assert answer.status_code == 200, answer.text
        page = answer.json()
        segments += page["Segments"]
        if not page.get("NextToken") or not page["Segments"]:
            return segments, page
        body["NextToken"] = page["NextToken"]


def segments_of(events: list[Event]) -> list[dict[str, Any]]:
    return [json.loads(e.data) for e in events if e.event == "segment"]


@pytest.fixture(scope="module")
def finished_chat(server: Server, connect: Any, participant: Any, instance_id: str) -> Iterator[dict[str, Any]]:
    """A chat streamed while its turns are sent: the events seen, and the contact."""
    chat = start_chat(connect, participant, instance_id)
    collected: list[Event] = []
    reader = threading.Thread(target=read_stream, args=(server, instance_id, chat.contact_id),
                              kwargs={"collected": collected}, daemon=True)
    reader.start()
    turns = [
        (chat.customer, "Hello, my router keeps dropping the connection every evening."),
        (chat.agent, "I am sorry to hear that, let me check your line right away."),
        (chat.customer, "Thank you, that would be great."),
        (chat.agent, "The line looks fine now, please try again."),
    ]
    for n, (token, text) in enumerate(turns, 1):
        participant.send_message(ContentType="text/plain", Content=text, ConnectionToken=token)
        # pushed while the contact is live: the n-th message arrives before the contact ends
        wait_for(lambda n=n: sum("Transcript" in s for s in segments_of(collected)) >= n, timeout=60, interval=0.05)
    participant.disconnect_participant(ConnectionToken=chat.customer)
    reader.join(timeout=120)
    assert not reader.is_alive(), "the stream did not end after the contact was COMPLETED"
    yield {"contact_id": chat.contact_id, "events": list(collected)}


def test_a_live_chat_streams_every_segment_once_in_order_as_v2_lists_them(
    server: Server, instance_id: str, finished_chat: dict[str, Any]
) -> None:
    events = finished_chat["events"]
    segments, last = listed(server, instance_id, finished_chat["contact_id"])
    assert last["Status"] == "COMPLETED" and not last.get("NextToken")
    streamed = segments_of(events)
    assert streamed == segments  # every segment, once, in log order, the same JSON
    assert any("PostContactSummary" in s for s in streamed)
    assert events[-1].event == "end" and json.loads(events[-1].data) == {"Channel": "CHAT", "Status": "COMPLETED"}
    ids = [e.id for e in events if e.event == "segment"]
    assert all(ids) and len(set(ids)) == len(ids)


def test_last_event_id_resumes_with_no_gap_and_no_duplicate(
    server: Server, instance_id: str, finished_chat: dict[str, Any]
) -> None:
    events = [e for e in finished_chat["events"] if e.event == "segment"]
    middle = len(events) // 2
    resumed = read_stream(server, instance_id, finished_chat["contact_id"], last_event_id=events[middle].id)
    assert segments_of(resumed) == segments_of(events[middle + 1:])
    assert resumed[-1].event == "end"
    # A cursor is bound to its request: another OutputType refuses it as the list does a foreign NextToken.
    url = f"{server.url}{stream_path(instance_id, finished_chat['contact_id'])}?OutputType=Raw&SegmentTypes=Transcript"
    answer = httpx.get(url, headers={**signed_headers(url), "Last-Event-ID": events[middle].id or ""})
    assert answer.status_code == 400 and answer.json()["__type"] == "InvalidRequestException"
    tampered = (events[middle].id or "")[:-2] + "AA"
    answer = httpx.get(url.split("&")[0], headers={**signed_headers(url.split("&")[0]), "Last-Event-ID": tampered})
    assert answer.status_code == 400 and answer.json()["__type"] == "InvalidRequestException"


def test_segment_types_select_what_is_streamed(server: Server, instance_id: str,
                                               finished_chat: dict[str, Any]) -> None:
    contact_id = finished_chat["contact_id"]
    events = read_stream(server, instance_id, contact_id, "OutputType=Raw&SegmentTypes=Transcript,Categories")
    segments, _ = listed(server, instance_id, contact_id, "Raw", ["Transcript", "Categories"])
    assert segments_of(events) == segments and {k for s in segments for k in s} <= {"Transcript", "Categories"}


def test_bad_requests_get_the_list_apis_errors(server: Server, instance_id: str,
                                               finished_chat: dict[str, Any]) -> None:
    base = f"{server.url}{stream_path(instance_id, finished_chat['contact_id'])}"
    for query, code, status in (
        ("OutputType=Bogus", "InvalidRequestException", 400),
        ("OutputType=Raw&SegmentTypes=Nope", "InvalidRequestException", 400),
        ("", "InvalidRequestException", 400),
    ):
        url = base + (f"?{query}" if query else "")
        answer = httpx.get(url, headers=signed_headers(url))
        assert (answer.status_code, answer.json()["__type"]) == (status, code), (query, answer.text)
    url = f"{server.url}{stream_path(instance_id, '00000000-0000-0000-0000-000000000000')}?OutputType=Raw"
    answer = httpx.get(url, headers=signed_headers(url))
    assert answer.status_code == 404 and answer.json()["__type"] == "ResourceNotFoundException"


def test_redacted_only_refuses_raw_and_never_streams_the_pii(
    server: Server, connect: Any, participant: Any, instance_id: str
) -> None:
    chat = start_chat(connect, participant, instance_id, **{"livelens:redaction": "RedactedOnly"})
    email = f"zq{unique()}@example.com"
    participant.send_message(ContentType="text/plain", Content=f"My email is {email}, please update it.",
                             ConnectionToken=chat.customer)
    raw = f"{server.url}{stream_path(instance_id, chat.contact_id)}?OutputType=Raw"
    answer = httpx.get(raw, headers=signed_headers(raw))
    assert answer.status_code == 404 and answer.json()["__type"] == "OutputTypeNotFoundException"
    participant.disconnect_participant(ConnectionToken=chat.customer)
    events = read_stream(server, instance_id, chat.contact_id, "OutputType=Redacted")
    text = "\n".join(e.data for e in events)
    assert "[EMAIL]" in text or "[PII]" in text
    assert email not in text and email.split("@")[0] not in text
    assert events[-1].event == "end"


def test_a_voice_contact_streams_the_v1_shape(server: Server, connect: Any, contact_lens: Any,
                                              instance_id: str) -> None:
    contact_id = str(connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND",
                                            Attributes={"livelens:redaction": "None"})["ContactId"])
    endpoint = Endpoint(server.url, ACCESS_KEY, SECRET_KEY)
    endpoint.signed_post(utterances_path(instance_id, contact_id), {"Utterances": [
        {"ParticipantId": "CUSTOMER", "ParticipantRole": "CUSTOMER", "Content": "My internet keeps dropping.",
         "BeginOffsetMillis": 0, "EndOffsetMillis": 2000},
        {"ParticipantId": "AGENT", "ParticipantRole": "AGENT", "Content": "Let me check your line.",
         "BeginOffsetMillis": 2100, "EndOffsetMillis": 4000},
    ]})
    wait_for(lambda: len(list_v1_all(contact_lens, instance_id, contact_id)[0]) >= 2, timeout=60)
    connect.stop_contact(InstanceId=instance_id, ContactId=contact_id)
    events = read_stream(server, instance_id, contact_id, query="")
    segments, last = listed(server, instance_id, contact_id, None)
    assert not last.get("NextToken")
    assert segments_of(events) == segments and segments
    assert events[-1].event == "end" and json.loads(events[-1].data)["Channel"] == "VOICE"
    url = f"{server.url}{stream_path(instance_id, contact_id)}?OutputType=Raw"
    assert httpx.get(url, headers=signed_headers(url)).json()["__type"] == "InvalidRequestException"


def test_presigned_urls_stream_and_bad_signatures_get_403(server: Server, instance_id: str,
                                                           finished_chat: dict[str, Any]) -> None:
    url = f"{server.url}{stream_path(instance_id, finished_chat['contact_id'])}?OutputType=Raw"
    with httpx.stream("GET", presigned(url), timeout=30) as response:
        assert response.status_code == 200
        assert segments_of(events_of(response)) == segments_of(finished_chat["events"])

    unsigned = httpx.get(url)
    assert unsigned.status_code == 403 and unsigned.json()["__type"] == "MissingAuthenticationTokenException"
    good = presigned(url)
    forged = good[:-4] + ("0000" if not good.endswith("0000") else "1111")
    answer = httpx.get(forged)
    assert answer.status_code == 403 and answer.json()["__type"] == "InvalidSignatureException"
    foreign = httpx.get(presigned(url, key=(ACCESS_KEY, "not-the-secret")))
    assert foreign.status_code == 403 and foreign.json()["__type"] == "InvalidSignatureException"
    other_contact = good.replace(finished_chat["contact_id"], "00000000-0000-0000-0000-000000000000")
    assert httpx.get(other_contact).status_code == 403  # the signature covers the path
    expiring = presigned(url, expires=1)
    time.sleep(2.1)
    expired = httpx.get(expiring)
    assert expired.status_code == 403 and expired.json()["__type"] == "InvalidSignatureException"
    assert "Signature expired" in expired.json()["Message"]
    header_forged = signed_headers(url, key=(ACCESS_KEY, "not-the-secret"))
    assert httpx.get(url, headers=header_forged).json()["__type"] == "InvalidSignatureException"


def test_policies_apply_to_the_stream(tmp_path_factory: pytest.TempPathFactory) -> None:
    directory = tmp_path_factory.mktemp("stream-authz")
    credentials = directory / "keys"
    credentials.write_text(f"{ACCESS_KEY} {SECRET_KEY}\n{OTHER[0]} {OTHER[1]}\n"
                           f"{INGEST[0]} {INGEST[1]} role=ingest instances=*\n")
    server = start_server(directory, "--credentials", str(credentials), credentials=False,
                          env={"LIVELENS_ANALYSIS": "sentiment", "LIVELENS_STREAM_HEARTBEAT_SECONDS": "1"})
    try:
        connect, participant = server.client("connect"), server.client("connectparticipant")
        instance = str(connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InboundCallsEnabled=True,
                                               OutboundCallsEnabled=True)["Id"])
        chat = start_chat(connect, participant, instance)
        url = f"{server.url}{stream_path(instance, chat.contact_id)}?OutputType=Raw"
        for key in (OTHER, INGEST):  # another account's key; a key whose role cannot read
            for answer in (httpx.get(url, headers=signed_headers(url, key)), httpx.get(presigned(url, key=key))):
                assert answer.status_code == 403 and answer.json()["__type"] == "AccessDeniedException", answer.text
                assert f"user/{key[0]} is not authorized to perform: connect:ListRealtimeContactAnalysisSegmentsV2" \
                    in answer.json()["Message"]
        # The instance stream applies the same policy.
        instance_url = f"{server.url}/livelens/v1/instances/{instance}/stream"
        for key in (OTHER, INGEST):
            for answer in (httpx.get(instance_url, headers=signed_headers(instance_url, key)),
                           httpx.get(presigned(instance_url, key=key))):
                assert answer.status_code == 403 and answer.json()["__type"] == "AccessDeniedException", answer.text
        with httpx.stream("GET", url, headers=signed_headers(url), timeout=30) as idle:  # nothing to send yet
            assert next(line for line in idle.iter_lines() if line.startswith(":")) == ": ping"
        participant.disconnect_participant(ConnectionToken=chat.customer)
        assert read_stream(server, instance, chat.contact_id)[-1].event == "end"
        # An open stream does not hold up a shutdown: the server closes it (clients resume with Last-Event-ID).
        live = start_chat(connect, participant, instance)
        seen: list[Event] = []
        reader = threading.Thread(target=read_stream, args=(server, instance, live.contact_id),
                                  kwargs={"collected": seen}, daemon=True)
        reader.start()
        wait_for(lambda: seen)
        stopping = time.monotonic()
        server.stop()
        assert time.monotonic() - stopping < 10 and server.process.returncode != -9
        reader.join(timeout=10)
        assert not reader.is_alive() and all(e.event != "end" for e in seen)
    finally:
        server.stop()
    assert "Traceback" not in "".join(server.output)
