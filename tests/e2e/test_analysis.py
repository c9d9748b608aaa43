"""What the analysis finds, read through the real AWS clients.

Chat (V2): sentiment per turn, PII spans in Raw and placeholders in Redacted
output with offsets that point at them, Issues segments whose offsets point at
their text; voice (V1): redacted content (spoken digits included), issue
offsets inside the turn; and the post-contact summary at the end.
"""

from __future__ import annotations

from typing import Any

from livelens.replay import Endpoint
from tests.e2e.conftest import (
    ACCESS_KEY,
    SECRET_KEY,
    Server,
    start_chat,
    utterances_path,
    wait_v1_completed,
    wait_v2_completed,
)

EMAIL = "jane.doe@example.com"


def _transcripts(segments: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [s["Transcript"] for s in segments if "Transcript" in s]


def test_chat_turns_are_analysed_in_both_outputs(server: Server, connect: Any, participant: Any,
                                                 instance_id: str) -> None:
    chat = start_chat(connect, participant, instance_id)
    complaint = f"I was charged twice for my order and I want a refund. My email is {EMAIL}."
    participant.send_message(ConnectionToken=chat.customer, ContentType="text/plain", Content=complaint)
    participant.send_message(ConnectionToken=chat.agent, ContentType="text/plain",
                             Content="I'm sorry to hear that. I have issued a refund for the duplicate charge.")
    participant.send_message(ConnectionToken=chat.customer, ContentType="text/plain",
                             Content="This is terrible service, I am furious and nothing ever works.")
    participant.send_message(ConnectionToken=chat.customer, ContentType="text/plain",
                             Content="Actually thank you so much, that was wonderful and quick!")
    connect.stop_contact(InstanceId=instance_id, ContactId=chat.contact_id)
    raw = wait_v2_completed(connect, instance_id, chat.contact_id, output_type="Raw")
    redacted = wait_v2_completed(connect, instance_id, chat.contact_id, output_type="Redacted")

    raw_turns, redacted_turns = _transcripts(raw), _transcripts(redacted)
    assert [t["Id"] for t in raw_turns] == [t["Id"] for t in redacted_turns]
    assert all(t["Sentiment"] in ("POSITIVE", "NEUTRAL", "NEGATIVE") for t in raw_turns)
    by_content = {t["Content"]: t for t in raw_turns}
    assert by_content["This is terrible service, I am furious and nothing ever works."]["Sentiment"] == "NEGATIVE"
    assert by_content["Actually thank you so much, that was wonderful and quick!"]["Sentiment"] == "POSITIVE"

    # Raw: the spans stand where the email is; Redacted: where its placeholder is.
    first_raw, first_redacted = raw_turns[0], redacted_turns[0]
    assert first_raw["Content"] == complaint
    raw_spans = first_raw["Redaction"]["CharacterOffsets"]
    assert [first_raw["Content"][s["BeginOffsetChar"]:s["EndOffsetChar"]] for s in raw_spans] == [EMAIL]
    assert EMAIL not in first_redacted["Content"]
    placeholders = [first_redacted["Content"][s["BeginOffsetChar"]:s["EndOffsetChar"]]
                    for s in first_redacted["Redaction"]["CharacterOffsets"]]
    assert placeholders == ["[PII]"]
    assert first_raw["Sentiment"] == first_redacted["Sentiment"]

    # The customer's reason for contacting, pointing into the first turn.
    for segments, turn in ((raw, first_raw), (redacted, first_redacted)):
        issues = [item for s in segments if "Issues" in s
                  for issue in s["Issues"]["IssuesDetected"] for item in issue["TranscriptItems"]]
        assert issues, "no issue detected in the complaint"
        item = issues[0]
        assert item["Id"] == turn["Id"]
        offsets = item["CharacterOffsets"]
        assert turn["Content"][offsets["BeginOffsetChar"]:offsets["EndOffsetChar"]] == item["Content"]
        assert "charged twice" in item["Content"]

    assert EMAIL not in str(redacted)
    summaries = [s["PostContactSummary"] for s in redacted if "PostContactSummary" in s]
    assert len(summaries) == 1 and summaries[0]["Status"] == "COMPLETED"
    assert 0 < len(summaries[0]["Content"]) <= 1270
    assert "charged twice" in summaries[0]["Content"] and EMAIL not in summaries[0]["Content"]


def test_voice_turns_are_redacted_and_analysed_in_v1(server: Server, connect: Any, contact_lens: Any,
                                                     instance_id: str) -> None:
    contact_id = connect.create_contact(InstanceId=instance_id, Channel="VOICE", InitiationMethod="INBOUND")[
        "ContactId"
    ]
    endpoint = Endpoint(server.url, ACCESS_KEY, SECRET_KEY)
    customer = ("My internet is not working since yesterday. You can call me back on "
                "four one five five five five zero one nine eight.")
    endpoint.signed_post(utterances_path(instance_id, contact_id), {"Utterances": [
        {"ParticipantId": "AGENT", "ParticipantRole": "AGENT", "Content": "Thanks for calling, how can I help?",
         "BeginOffsetMillis": 0, "EndOffsetMillis": 2000},
        {"ParticipantId": "CUSTOMER", "ParticipantRole": "CUSTOMER", "Content": customer,
         "BeginOffsetMillis": 2500, "EndOffsetMillis": 9000},
        {"ParticipantId": "AGENT", "ParticipantRole": "AGENT",
         "Content": "I have reset your line and booked a technician for tomorrow.",
         "BeginOffsetMillis": 9500, "EndOffsetMillis": 13000},
    ]})
    connect.stop_contact(InstanceId=instance_id, ContactId=contact_id)
    segments = wait_v1_completed(contact_lens, instance_id, contact_id)
    turns = _transcripts(segments)
    assert [t["BeginOffsetMillis"] for t in turns] == [0, 2500, 9500]
    spoken = turns[1]
    assert "four one five" not in spoken["Content"] and "[PII]" in spoken["Content"]
    assert spoken["Content"].startswith("My internet is not working since yesterday.")
    issue = spoken["IssuesDetected"][0]["CharacterOffsets"]
    assert "not working" in spoken["Content"][issue["BeginOffsetChar"]:issue["EndOffsetChar"]]
    summary = [s["PostContactSummary"] for s in segments if "PostContactSummary" in s]
    assert len(summary) == 1 and summary[0]["Status"] == "COMPLETED" and len(summary[0]["Content"]) <= 1762
