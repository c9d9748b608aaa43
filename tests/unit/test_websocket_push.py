"""The participant websocket's pure parts: the URL it is offered at, control answers, pushed items."""

from __future__ import annotations

from livelens.config import Settings
from livelens.contacts.models import Contact
from livelens.ingest.websocket import control_answer, pushed_item, websocket_url

PATH = "/livelens/v1/participant/websocket?token=T"


def test_the_url_follows_the_base_and_is_one_chatjs_accepts() -> None:
    assert websocket_url("https://chat.example.com", "T") == f"wss://chat.example.com{PATH}"
    assert websocket_url("https://proxy.example.com/lens/", "T") == f"wss://proxy.example.com/lens{PATH}"
    assert websocket_url("http://127.0.0.1:8765", "T") == f"ws://127.0.0.1:8765{PATH}"
    # chatjs accepts wss:// and ws://127.0.0.1: only; localhost is the same server
    assert websocket_url("http://localhost:8765", "T") == f"ws://127.0.0.1:8765{PATH}"
    assert websocket_url("http://localhost", "T") == f"ws://127.0.0.1{PATH}"
    assert websocket_url("https://localhost:8443", "T") == f"wss://localhost:8443{PATH}"


def test_public_url_is_a_setting_checked_at_start() -> None:
    assert Settings.load(environ={"LIVELENS_PUBLIC_URL": "https://chat.example.com"}).public_url == (
        "https://chat.example.com"
    )
    try:
        Settings.load(environ={"LIVELENS_PUBLIC_URL": "chat.example.com"})
    except ValueError as exc:
        assert "public_url" in str(exc)
    else:
        raise AssertionError("a public_url without a scheme was accepted")


def test_heartbeats_are_answered_and_other_frames_are_not() -> None:
    assert control_answer({"topic": "aws/ping"}) == {"topic": "aws/ping", "statusCode": 200}
    assert control_answer({"topic": "aws/heartbeat"}) == {"topic": "aws/heartbeat"}
    assert control_answer({"topic": "aws/unsubscribe"}) is None
    assert control_answer(["aws/ping"]) is None


def _contact() -> Contact:
    return Contact(id="c", arn="a", instance_id="i", channel="CHAT", initiation_method="API",
                   initiation_timestamp="2026-01-01T00:00:00.000Z", redaction_policy="None", language="en-US",
                   analysis=[], redaction_mask="PII")


def test_typing_is_pushed_as_an_event_and_a_receipt_as_message_metadata() -> None:
    who = {"participant_id": "p", "role": "AGENT", "display_name": "Sam"}
    typing = pushed_item(_contact(), {"kind": "SIGNAL", "id": "t", "time": "2026-01-01T00:00:01.000Z",
                                      "content_type": "application/vnd.amazonaws.connect.event.typing", **who})
    assert typing["Type"] == "EVENT" and typing["ParticipantRole"] == "AGENT"
    assert typing["ContentType"] == "application/vnd.amazonaws.connect.event.typing"
    receipt = {"ReadTimestamp": "2026-01-01T00:00:02.000Z", "RecipientParticipantId": "p"}
    metadata = pushed_item(_contact(), {"kind": "RECEIPT", "id": "r", "time": "2026-01-01T00:00:02.000Z",
                                        "message_id": "m", "receipt": receipt})
    assert metadata == {
        "AbsoluteTime": "2026-01-01T00:00:02.000Z", "Id": "r", "Type": "MESSAGEMETADATA", "ContactId": "c",
        "MessageMetadata": {"MessageId": "m", "Receipts": [receipt]},
    }
