"""The instance stream (``GET /livelens/v1/instances/{I}/stream``) against a real server.

Contacts are driven with boto3, their segments are appended by the shared
server's worker processes, and the stream is read with httpx (SigV4 by
botocore) and compared with what the list operations page out.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from livelens.replay import Endpoint
from livelens.rules.alerts import EVENT_ID_HEADER, SIGNATURE_HEADER, verify
from tests.e2e.conftest import (
    ACCESS_KEY,
    SECRET_KEY,
    Server,
    list_v1_all,
    signed_request,
    start_chat,
    start_server,
    unique,
    utterances_path,
    wait_for,
)
from tests.e2e.test_rules import ALERT, CATEGORY, SECRET, Receiver, create_rule, new_instance
from tests.e2e.test_stream import Event, listed, presigned, signed_headers

V2_ALL = ["Transcript", "Categories", "Issues", "Event", "Attachments", "PostContactSummary"]


def instance_stream_url(server: Server, instance_id: str, query: str = "") -> str:
    return f"{server.url}/livelens/v1/instances/{instance_id}/stream" + (f"?{query}" if query else "")


class Reader(threading.Thread):
    """Reads an instance stream in the background until ``until(events)`` holds (or 90 s of silence)."""

    def __init__(self, url: str, until: Callable[[list[Event]], bool], last_event_id: str | None = None,
                 presign: bool = False) -> None:
        super().__init__(daemon=True)
        self.url, self.until, self.last_event_id, self.presign = url, until, last_event_id, presign
        self.events: list[Event] = []
        self.raw = bytearray()
        self.status: int | None = None
        self.body = b""

    def run(self) -> None:
        url = presigned(self.url) if self.presign else self.url
        headers = {} if self.presign else signed_headers(self.url)
        if self.last_event_id is not None:
            headers["Last-Event-ID"] = self.last_event_id
        with httpx.stream("GET", url, headers=headers, timeout=httpx.Timeout(30, read=90)) as response:
            self.status = response.status_code
            if response.status_code != 200:
                self.body = response.read()
                return
            fields: dict[str, str] = {}
            for line in response.iter_lines():
                self.raw += line.encode() + b"\n"
                if line.startswith(":"):
                    continue
                if line == "":
                    if fields:
                        self.events.append(Event(fields.get("event", "message"), fields.get("data", ""),
                                                 fields.get("id")))
                        fields = {}
                        if self.until(self.events):
                            return
                    continue
                name, _, value = line.partition(":")
                fields[name] = value[1:] if value.startswith(" ") else value

    def opened(self) -> None:
        wait_for(lambda: self.events or self.status not in (None, 200), timeout=30, interval=0.02)
        assert self.status == 200, self.body


def of_contact(events: list[Event], contact_id: str) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for e in events:
        if e.event in ("open", "position"):
            continue
        data = json.loads(e.data)
        cid = data.get("ContactId") or data.get("detail", {}).get("livelens", {}).get("contactId")
        if cid == contact_id:
            found.append((e.event, data))
    return found


def flat(events: list[tuple[str, dict[str, Any]]]) -> list[Any]:
    """The event types, with each SEGMENTS event replaced by its segments."""
    return [item for kind, data in events for item in (data["Segments"] if kind == "SEGMENTS" else [kind])]


def flat_events(events: list[Event]) -> list[Any]:
    """Every contact's events in stream order, each SEGMENTS event replaced by its segments."""
    found: list[Any] = []
    for e in events:
        if e.event in ("open", "position"):
            continue
        data = json.loads(e.data)
        cid = data.get("ContactId") or data.get("detail", {}).get("livelens", {}).get("contactId")
        found += [(cid, s) for s in data["Segments"]] if e.event == "SEGMENTS" else [(cid, e.event, data)]
    return found


def ended(contact_ids: list[str]) -> Callable[[list[Event]], bool]:
    def done(events: list[Event]) -> bool:
        finished = {cid for cid in contact_ids
                    if any(kind in ("COMPLETED", "FAILED") for kind, _ in of_contact(events, cid))}
        return finished == set(contact_ids)
    return done


@pytest.fixture(scope="module")
def streamed(server: Server, connect: Any, participant: Any, contact_lens: Any,
             instance_id: str) -> Iterator[dict[str, Any]]:
    """A chat and a voice contact run while one instance stream (LATEST) is open."""
    ids: list[str] = []
    reader = Reader(instance_stream_url(server, instance_id), lambda events: bool(ids) and ended(ids)(events))
    reader.start()
    reader.opened()
    chat = start_chat(connect, participant, instance_id)
    for token, text in ((chat.customer, "Hello, I was charged twice for my internet bill this month."),
                        (chat.agent, "I am sorry about that, let me look at your account."),
                        (chat.customer, "Thank you, that is very kind.")):
        participant.send_message(ContentType="text/plain", Content=text, ConnectionToken=token)
    voice_id = str(connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND",
                                          Attributes={"livelens:redaction": "None"})["ContactId"])
    Endpoint(server.url, ACCESS_KEY, SECRET_KEY).signed_post(utterances_path(instance_id, voice_id), {"Utterances": [
        {"ParticipantId": "CUSTOMER", "ParticipantRole": "CUSTOMER", "Content": "My internet keeps dropping.",
         "BeginOffsetMillis": 0, "EndOffsetMillis": 2000},
        {"ParticipantId": "AGENT", "ParticipantRole": "AGENT", "Content": "Let me check your line.",
         "BeginOffsetMillis": 2100, "EndOffsetMillis": 4000},
    ]})
    wait_for(lambda: len(list_v1_all(contact_lens, instance_id, voice_id)[0]) >= 2, timeout=60)
    participant.disconnect_participant(ConnectionToken=chat.customer)
    connect.stop_contact(InstanceId=instance_id, ContactId=voice_id)
    ids.extend([chat.contact_id, voice_id])
    reader.join(timeout=120)
    assert not reader.is_alive(), "COMPLETED of both contacts did not arrive"
    yield {"chat": chat.contact_id, "voice": voice_id, "events": list(reader.events)}


def test_a_chat_streams_started_its_segments_in_order_and_completed(
    server: Server, connect: Any, instance_id: str, streamed: dict[str, Any]
) -> None:
    events = of_contact(streamed["events"], streamed["chat"])
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "STARTED" and kinds[-1] == "COMPLETED" and set(kinds[1:-1]) == {"SEGMENTS"}
    for kind, data in events:
        assert data["Version"] == "2.0.0" and data["Channel"] == "CHAT" and data["StreamingEventType"] == kind
        assert data["InstanceId"] == instance_id and data["AccountId"].isdigit()
        assert data["StreamingSettings"] == {
            "LanguageCode": "en-US", "Output": "RedactedAndRaw", "RedactionTypes": ["PII"],
            "RedactionTypesMetadata": {"PII": {"RedactionMaskMode": "PII"}}}
        assert "EventType" not in data
    streamed_segments = [s for kind, data in events if kind == "SEGMENTS" for s in data["Segments"]]
    assert all(data["OutputType"] == "Redacted" for kind, data in events if kind == "SEGMENTS")
    segments, _ = listed(server, instance_id, streamed["chat"], "Redacted", V2_ALL)
    assert streamed_segments == segments  # every segment, once, in log order, as V2 lists it
    assert any("PostContactSummary" in s for s in streamed_segments)
    ids = [e.id for e in streamed["events"]]
    assert all(ids) and len(set(ids)) == len(ids)


def test_a_voice_contact_streams_the_voice_shape(server: Server, instance_id: str,
                                                 streamed: dict[str, Any]) -> None:
    events = of_contact(streamed["events"], streamed["voice"])
    kinds = [kind for kind, _ in events]
    assert kinds[0] == "STARTED" and kinds[-1] == "COMPLETED" and set(kinds[1:-1]) == {"SEGMENTS"}
    for kind, data in events:
        assert set(data) - {"Segments"} == {"Version", "Channel", "AccountId", "InstanceId", "ContactId",
                                            "LanguageCode", "EventType"}
        assert data["Version"] == "1.0.0" and data["Channel"] == "VOICE" and data["EventType"] == kind
    segments = [s for kind, data in events if kind == "SEGMENTS" for s in data["Segments"]]
    expected, _ = listed(server, instance_id, streamed["voice"], None)
    assert segments == expected and segments


def test_last_event_id_resumes_with_no_gap_and_no_duplicate(server: Server, instance_id: str,
                                                            streamed: dict[str, Any]) -> None:
    original = [e for e in streamed["events"] if e.event != "open"]
    middle = len(original) // 2
    rest = flat_events(original[middle + 1:])
    resumed = Reader(instance_stream_url(server, instance_id), lambda events: len(flat_events(events)) >= len(rest),
                     last_event_id=original[middle].id)
    resumed.start()
    resumed.join(timeout=60)
    assert resumed.events[0].event == "open" and resumed.events[0].id == original[middle].id
    # How segments are grouped into SEGMENTS events depends on when they were read (a resumed reader catches up
    # in larger reads); the sequence of events and segments after the resumed id does not: no gap, no duplicate.
    assert flat_events(resumed.events)[:len(rest)] == rest
    # TRIM_HORIZON reads the log from its start: the chat's STARTED comes again, then the same events.
    first = Reader(instance_stream_url(server, instance_id, "StartPosition=TRIM_HORIZON&Channels=CHAT"),
                   ended([streamed["chat"]]), presign=True)
    first.start()
    first.join(timeout=60)
    assert first.status == 200
    # How segments are grouped into SEGMENTS events depends on when they were read; their sequence does not.
    assert flat(of_contact(first.events, streamed["chat"])) == flat(of_contact(streamed["events"], streamed["chat"]))
    assert not of_contact(first.events, streamed["voice"])  # Channels=CHAT


def test_bad_parameters_cursors_and_signatures_are_refused(server: Server, instance_id: str,
                                                           streamed: dict[str, Any]) -> None:
    url = instance_stream_url(server, instance_id)
    for query in ("OutputType=Bogus", "StartPosition=NOW", "EventTypes=SEGMENTS,NOPE", "Channels=TASK",
                  "SegmentTypes=Nope"):
        answer = httpx.get(f"{url}?{query}", headers=signed_headers(f"{url}?{query}"))
        assert answer.status_code == 400 and answer.json()["__type"] == "InvalidRequestException", query
    good_id = streamed["events"][-1].id or ""
    for cursor in (good_id[:-2] + "AA", "garbage"):
        answer = httpx.get(url, headers={**signed_headers(url), "Last-Event-ID": cursor})
        assert answer.status_code == 400 and answer.json()["__type"] == "InvalidRequestException"
    other = instance_stream_url(server, "00000000-0000-0000-0000-000000000000")
    answer = httpx.get(other, headers=signed_headers(other))
    assert answer.status_code == 404 and answer.json()["__type"] == "ResourceNotFoundException"

    unsigned = httpx.get(url)
    assert unsigned.status_code == 403 and unsigned.json()["__type"] == "MissingAuthenticationTokenException"
    good = presigned(url)
    forged = good[:-4] + ("0000" if not good.endswith("0000") else "1111")
    assert httpx.get(forged).json()["__type"] == "InvalidSignatureException"
    foreign = httpx.get(presigned(url, key=(ACCESS_KEY, "not-the-secret")))
    assert foreign.status_code == 403 and foreign.json()["__type"] == "InvalidSignatureException"
    assert httpx.get(good.replace(instance_id, "00000000-0000-0000-0000-000000000000")).status_code == 403
    expiring = presigned(url, expires=1)
    time.sleep(2.1)
    expired = httpx.get(expiring)
    assert expired.status_code == 403 and "Signature expired" in expired.json()["Message"]
    header_forged = signed_headers(url, key=(ACCESS_KEY, "not-the-secret"))
    assert httpx.get(url, headers=header_forged).json()["__type"] == "InvalidSignatureException"


def test_redacted_only_never_puts_the_pii_on_the_stream(server: Server, connect: Any, participant: Any,
                                                        instance_id: str) -> None:
    email = f"zq{unique()}@example.com"
    ids: list[str] = []
    # OutputType=Raw is a preference: a RedactedOnly contact has no original to give.
    reader = Reader(instance_stream_url(server, instance_id, "OutputType=Raw"),
                    lambda events: bool(ids) and ended(ids)(events))
    reader.start()
    reader.opened()
    chat = start_chat(connect, participant, instance_id, **{"livelens:redaction": "RedactedOnly"})
    participant.send_message(ContentType="text/plain", Content=f"My email is {email}, please update it.",
                             ConnectionToken=chat.customer)
    participant.disconnect_participant(ConnectionToken=chat.customer)
    ids.append(chat.contact_id)
    reader.join(timeout=120)
    assert not reader.is_alive()
    events = of_contact(reader.events, chat.contact_id)
    segments = [data for kind, data in events if kind == "SEGMENTS"]
    assert segments and all(data["OutputType"] == "Redacted" for data in segments)
    assert events[0][1]["StreamingSettings"]["Output"] == "Redacted"
    text = bytes(reader.raw).decode()
    assert "[EMAIL]" in text or "[PII]" in text
    assert email not in text and email.split("@")[0] not in text


def test_stream_events_and_alerts_reach_a_subscribed_webhook_signed_and_redacted(
    server: Server, connect: Any, participant: Any
) -> None:
    receiver = Receiver()
    try:
        instance = new_instance(connect)
        alerts_only = Receiver()
        answer = signed_request(server, "PUT", f"/livelens/v1/instances/{instance}/webhooks", {"Webhooks": [
            {"Url": receiver.url, "Secret": SECRET, "StreamEvents": ["STARTED", "SEGMENTS", "COMPLETED"]},
            {"Url": alerts_only.url, "Secret": SECRET},
        ]})
        assert answer.status_code == 200, answer.text
        got = signed_request(server, "GET", f"/livelens/v1/instances/{instance}/webhooks", None).json()
        assert got["Webhooks"] == [{"Url": receiver.url, "StreamEvents": ["STARTED", "SEGMENTS", "COMPLETED"]},
                                   {"Url": alerts_only.url}]
        bad = signed_request(server, "PUT", f"/livelens/v1/instances/{instance}/webhooks",
                             {"Webhooks": [{"Url": receiver.url, "StreamEvents": ["ALERT"]}]})
        assert bad.status_code == 400 and "StreamEvents" in bad.json()["Message"]
        create_rule(connect, instance, "refund", 'customer said "refund"', actions=CATEGORY + ALERT)
        reader = Reader(instance_stream_url(server, instance, "OutputType=Raw"), lambda events: any(
            e.event == "COMPLETED" for e in events))
        reader.start()
        reader.opened()
        chat = start_chat(connect, participant, instance, **{"livelens:redaction": "RedactedOnly"})
        email = f"zq{unique()}@example.com"
        participant.send_message(ContentType="text/plain", Content=f"I want a refund, my email is {email}.",
                                 ConnectionToken=chat.customer)
        participant.disconnect_participant(ConnectionToken=chat.customer)
        reader.join(timeout=120)
        wait_for(lambda: any(r["event"].get("StreamingEventType") == "COMPLETED" for r in receiver.requests),
                 timeout=60)
        wait_for(lambda: alerts_only.requests, timeout=30)
        delivered = [r for r in receiver.requests if r["status"] == 200]
        types = [r["headers"]["X-Livelens-Event-Type"] for r in delivered]
        # Alerts are queued by the commit that fires them, stream events by the delivery loop just after.
        stream_types = [t for t in types if t != "ALERT"]
        assert stream_types[0] == "STARTED" and stream_types[-1] == "COMPLETED" and "SEGMENTS" in types
        assert "ALERT" in types
        for request in delivered:
            assert verify(SECRET, request["headers"][SIGNATURE_HEADER], request["body"])
            assert email not in request["body"].decode()
        ids = [r["headers"][EVENT_ID_HEADER] for r in delivered]
        assert len(ids) == len(set(ids))
        # The webhook got what the stream sent (the stream's OutputType=Raw has no original here either).
        streamed = [(e.event, json.loads(e.data)) for e in reader.events if e.event not in ("open", "position")]
        hooked = [(r["headers"]["X-Livelens-Event-Type"], r["event"]) for r in delivered]
        assert flat([x for x in hooked if x[0] != "ALERT"]) == flat([x for x in streamed if x[0] != "ALERT"])
        assert [x for x in streamed if x[0] == "ALERT"][0][1]["detail"]["ruleName"] == "refund"
        assert all(r["headers"]["X-Livelens-Event-Type"] == "ALERT" for r in alerts_only.requests)
        alerts_only.close()
    finally:
        receiver.close()


@pytest.fixture(scope="module")
def quick_heartbeat(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A server whose streams send a heartbeat after a second of silence."""
    running = start_server(tmp_path_factory.mktemp("heartbeat"), env={"LIVELENS_STREAM_HEARTBEAT_SECONDS": "1"})
    yield running
    running.stop()


def test_a_quiet_stream_pings_and_a_filtered_one_moves_its_cursor_with_a_position_event(
        quick_heartbeat: Server) -> None:
    """Heartbeats come from the tails' tick (no timer per stream): ``: ping`` while nothing happens;
    ``event: position`` when filters dropped what was read, and resuming from it skips what it covered."""
    connect, participant = quick_heartbeat.client("connect"), quick_heartbeat.client("connectparticipant")
    instance = new_instance(connect)
    reader = Reader(instance_stream_url(quick_heartbeat, instance, "EventTypes=ALERT"),
                    lambda events: any(e.event == "position" for e in events))
    reader.start()
    reader.opened()
    wait_for(lambda: reader.raw.count(b": ping\n") >= 2, timeout=30, interval=0.05)
    chat = start_chat(connect, participant, instance)  # its STARTED is filtered out: the cursor moves anyway
    reader.join(timeout=30)
    assert not reader.is_alive(), "no position event after the filtered STARTED"
    moved = next(e for e in reader.events if e.event == "position")
    assert moved.data == "{}" and moved.id and moved.id != reader.events[0].id
    resumed = Reader(instance_stream_url(quick_heartbeat, instance), lambda events: any(
        e.event == "SEGMENTS" for e in events), last_event_id=moved.id)
    resumed.start()
    resumed.opened()
    participant.send_message(ContentType="text/plain", Content="Hello, my bill is wrong.",
                             ConnectionToken=chat.customer)
    resumed.join(timeout=60)
    assert not resumed.is_alive(), "the chat's segments did not arrive"
    assert [kind for kind, _ in of_contact(resumed.events, chat.contact_id)][:1] == ["SEGMENTS"]
