"""Under a redacting policy no original PII goes anywhere: every field that can hold it, every place it could go.

A server is started with ``summary_generator=openai`` pointed at a local fake
endpoint that also receives the instance's webhooks. A RedactedOnly contact
and a RedactedAndOriginal contact carry PII in the display name, contact
attributes, an attachment name and message text. Then every original value
is looked for in the database and its WAL, the server's log, every webhook
and LLM request body, and every response livelens gives (the Raw output of
RedactedAndOriginal aside, which exists to hold the original).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests

from tests.e2e.conftest import (
    Server,
    list_v2_all,
    signed_request,
    start_server,
    unique,
    utterances_path,
    wait_for,
    wait_v1_completed,
)
from tests.e2e.test_rules import ALERT, create_rule, set_webhook

NAME = "Jonathan Whitaker"
EMAIL = "jonathan.whitaker@example.com"
PHONE = "212-555-0199"
CARD = "4111 1111 1111 1111"
ORIGINALS = (NAME, EMAIL, PHONE, CARD, "Whitaker", "4111111111111111", "555-0199")


class FakeEndpoint:
    """An OpenAI-compatible /chat/completions and a webhook receiver; keeps every request body."""

    def __init__(self) -> None:
        self.bodies: list[bytes] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.bodies.append(body)
                answer = b""
                if self.path.endswith("/chat/completions"):
                    answer = json.dumps({"choices": [{"finish_reason": "stop", "message": {
                        "role": "assistant", "content": "The customer asked about a charge."}}]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def llm_bodies(self) -> list[bytes]:
        return [b for b in self.bodies if b'"messages"' in b]


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeEndpoint]:
    endpoint = FakeEndpoint()
    yield endpoint
    endpoint.httpd.shutdown()


@pytest.fixture(scope="module")
def private_server(tmp_path_factory: pytest.TempPathFactory, fake: FakeEndpoint) -> Iterator[Server]:
    running = start_server(tmp_path_factory.mktemp("privacy"), env={
        "LIVELENS_SUMMARY_GENERATOR": "openai", "LIVELENS_SUMMARY_URL": fake.url + "/v1",
        "LIVELENS_SUMMARY_MODEL": "fake", "LIVELENS_LOG_LEVEL": "debug",
    })
    yield running
    running.stop()


def _chat(server: Server, policy: str, fake: FakeEndpoint) -> dict[str, Any]:
    connect, participant = server.client("connect"), server.client("connectparticipant")
    instance = connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InstanceAlias=f"p-{unique()}",
                                       InboundCallsEnabled=True, OutboundCallsEnabled=True,
                                       Tags={"livelens:redaction": policy})["Id"]
    set_webhook(server, instance, fake.url + "/hook")
    create_rule(connect, instance, "card", 'customer said "card"', actions=ALERT)
    started = connect.start_chat_contact(
        InstanceId=instance, ContactFlowId="f", ParticipantDetails={"DisplayName": NAME},
        Attributes={"customerEmail": EMAIL, "phone": PHONE},
    )
    agent = connect.create_participant(InstanceId=instance, ContactId=started["ContactId"],
                                       ParticipantDetails={"ParticipantRole": "AGENT", "DisplayName": "Agent"})
    customer = participant.create_participant_connection(
        Type=["CONNECTION_CREDENTIALS"], ParticipantToken=started["ParticipantToken"]
    )["ConnectionCredentials"]["ConnectionToken"]
    agent_token = participant.create_participant_connection(
        Type=["CONNECTION_CREDENTIALS"], ParticipantToken=agent["ParticipantCredentials"]["ParticipantToken"]
    )["ConnectionCredentials"]["ConnectionToken"]
    participant.send_message(ConnectionToken=customer, ContentType="text/plain",
                             Content=f"Hi, I'm {NAME}, my card {CARD} was charged twice, call {PHONE}.")
    participant.send_message(ConnectionToken=agent_token, ContentType="text/plain",
                             Content="Sorry about that, I will refund the duplicate charge today.")
    body = b"statement\n"
    upload = participant.start_attachment_upload(
        ContentType="text/plain", AttachmentSizeInBytes=len(body), AttachmentName=f"statement for {EMAIL}.txt",
        ClientToken=unique(), ConnectionToken=customer,
    )
    assert requests.put(upload["UploadMetadata"]["Url"], data=body,
                        headers=upload["UploadMetadata"]["HeadersToInclude"], timeout=30).status_code == 200
    participant.complete_attachment_upload(AttachmentIds=[upload["AttachmentId"]], ClientToken=unique(),
                                           ConnectionToken=customer)
    transcript = participant.get_transcript(ConnectionToken=customer, MaxResults=100)
    participant.disconnect_participant(ConnectionToken=customer)

    def completed() -> list[dict[str, Any]] | None:
        segments, last = list_v2_all(connect, instance, started["ContactId"], output_type="Redacted")
        return segments if last["Status"] == "COMPLETED" and not last.get("NextToken") else None

    redacted = wait_for(completed, timeout=90)
    return {
        "instance": instance, "contact": started["ContactId"], "transcript": transcript, "redacted": redacted,
        "described": connect.describe_contact(InstanceId=instance, ContactId=started["ContactId"]),
    }


def _leaks(text: str, originals: tuple[str, ...] = ORIGINALS) -> list[str]:
    return [value for value in originals if value in text]


def test_nothing_original_leaves_a_redacted_only_contact(private_server: Server, fake: FakeEndpoint) -> None:
    chat = _chat(private_server, "RedactedOnly", fake)
    assert fake.llm_bodies(), "the summary went to the LLM endpoint"
    wait_for(lambda: any(b'"ruleName"' in body for body in fake.bodies), timeout=30)  # a webhook was delivered
    for place, text in (
        ("GetTranscript", json.dumps(chat["transcript"], default=str)),
        ("V2 Redacted", json.dumps(chat["redacted"], default=str)),
        ("DescribeContact", json.dumps(chat["described"], default=str)),
        ("LLM and webhook bodies", b"\n".join(fake.bodies).decode()),
        ("log", "".join(private_server.output)),
    ):
        leaked = _leaks(text)
        assert not leaked, (place, leaked, [text[max(0, text.find(v) - 300):text.find(v) + 60] for v in leaked])
    names = [m.get("DisplayName") for m in chat["transcript"]["Transcript"] if m.get("ParticipantRole") == "CUSTOMER"]
    assert names and all(name and NAME not in name for name in names)
    stored = private_server.stored_bytes()
    assert stored  # the database holds the contact (a dump of nothing would prove nothing)
    for value in ORIGINALS:
        assert value.encode() not in stored, value
        assert json.dumps(value)[1:-1].encode() not in stored, value


def test_the_llm_sees_only_redacted_text_of_a_redacted_and_original_contact(
    private_server: Server, fake: FakeEndpoint
) -> None:
    before = len(fake.llm_bodies())
    chat = _chat(private_server, "RedactedAndOriginal", fake)
    sent = fake.llm_bodies()[before:]
    assert sent, "the summary went to the LLM endpoint"
    assert not _leaks(b"\n".join(sent).decode()), sent
    assert not _leaks(json.dumps(chat["redacted"], default=str)), "the Redacted output leaks PII"
    connect = private_server.client("connect")
    raw, _ = list_v2_all(connect, chat["instance"], chat["contact"], output_type="Raw")
    assert NAME in json.dumps(raw, default=str) and EMAIL in json.dumps(raw, default=str)  # the Raw output keeps them


AGENT_LABEL = "agent-7"
#: Values of their own for the voice contacts: the RedactedAndOriginal chat above legitimately stores its originals.
V_NAME = "Margaret Ellingsworth"
V_EMAIL = "m.ellingsworth@example.org"
V_PHONE = "415-555-0142"
V_CARD = "5500 0000 0000 0004"
V_ORIGINALS = (V_NAME, V_EMAIL, V_PHONE, V_CARD, "Ellingsworth", "5500000000000004", "555-0142")


def _voice(server: Server, policy: str, fake: FakeEndpoint) -> dict[str, Any]:
    """A voice contact whose caller-chosen ParticipantId is the customer's name, with PII in every field."""
    connect, lens = server.client("connect"), server.client("connect-contact-lens")
    instance = connect.create_instance(IdentityManagementType="CONNECT_MANAGED", InstanceAlias=f"v-{unique()}",
                                       InboundCallsEnabled=True, OutboundCallsEnabled=True,
                                       Tags={"livelens:redaction": policy})["Id"]
    set_webhook(server, instance, fake.url + "/hook")
    contact = connect.create_contact(
        InstanceId=instance, Channel="VOICE", InitiationMethod="INBOUND", Name=f"Call from {V_NAME}",
        Description=f"Caller {V_NAME} on {V_PHONE}", Attributes={"customerEmail": V_EMAIL, "phone": V_PHONE},
    )["ContactId"]
    batch = {"ClientToken": unique(), "Utterances": [
        {"ParticipantId": AGENT_LABEL, "ParticipantRole": "AGENT", "Content": "Thanks for calling, how can I help?",
         "BeginOffsetMillis": 0, "EndOffsetMillis": 2000},
        {"ParticipantId": V_NAME, "ParticipantRole": "CUSTOMER",
         "Content": f"Hi, I'm {V_NAME}, my card {V_CARD} was charged twice, call {V_PHONE}.",
         "BeginOffsetMillis": 2500, "EndOffsetMillis": 7000},
        {"ParticipantId": AGENT_LABEL, "ParticipantRole": "AGENT", "Content": "I will refund the duplicate today.",
         "BeginOffsetMillis": 7500, "EndOffsetMillis": 9000},
        {"ParticipantId": V_NAME, "ParticipantRole": "CUSTOMER", "Content": "Thank you, that is all.",
         "BeginOffsetMillis": 9500, "EndOffsetMillis": 11000},
    ]}
    first = signed_request(server, "POST", utterances_path(instance, contact), batch)
    retried = signed_request(server, "POST", utterances_path(instance, contact), batch)
    assert first.status_code == retried.status_code == 200, (first.text, retried.text)
    assert first.json()["Ids"] == retried.json()["Ids"], "an idempotent retry of the same batch matches"
    connect.stop_contact(InstanceId=instance, ContactId=contact)
    segments = wait_v1_completed(lens, instance, contact, timeout=90)
    return {"instance": instance, "contact": contact, "segments": segments, "responses": [first.text, retried.text],
            "described": connect.describe_contact(InstanceId=instance, ContactId=contact)}


def _speakers(segments: list[dict[str, Any]]) -> dict[str, set[str]]:
    found: dict[str, set[str]] = {}
    for segment in segments:
        if "Transcript" in segment:
            found.setdefault(segment["Transcript"]["ParticipantRole"], set()).add(
                segment["Transcript"]["ParticipantId"])
    return found


def test_nothing_original_leaves_a_redacted_only_voice_contact(private_server: Server, fake: FakeEndpoint) -> None:
    call = _voice(private_server, "RedactedOnly", fake)
    speakers = _speakers(call["segments"])
    assert speakers["AGENT"] == {AGENT_LABEL}, "a label without PII is kept"
    (customer,) = speakers["CUSTOMER"]  # one stable stand-in for every utterance of the customer
    assert customer.startswith("P-") and customer != AGENT_LABEL
    for place, text in (
        ("V1 segments", json.dumps(call["segments"], default=str)),
        ("PutUtterances answers", "\n".join(call["responses"])),
        ("DescribeContact", json.dumps(call["described"], default=str)),
        ("LLM and webhook bodies", b"\n".join(fake.bodies).decode()),
        ("log", "".join(private_server.output)),
    ):
        leaked = _leaks(text, V_ORIGINALS)
        assert not leaked, (place, leaked)
    stored = private_server.stored_bytes()
    assert stored  # the database holds the contact (a dump of nothing would prove nothing)
    for value in V_ORIGINALS:
        assert value.encode() not in stored, value
        assert json.dumps(value)[1:-1].encode() not in stored, value


def test_a_redacted_and_original_voice_contact_shows_the_redacted_label(
    private_server: Server, fake: FakeEndpoint
) -> None:
    call = _voice(private_server, "RedactedAndOriginal", fake)
    assert not _leaks(json.dumps(call["segments"], default=str), V_ORIGINALS)  # V1 lists the Redacted output
    speakers = _speakers(call["segments"])
    assert speakers["AGENT"] == {AGENT_LABEL}
    (customer,) = speakers["CUSTOMER"]
    assert customer.startswith("P-")
