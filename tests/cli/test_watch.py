"""livelens watch: the view, rendered to a string (no tty)."""

from __future__ import annotations

import io
import json
import subprocess
import threading
from typing import Any

from rich.console import Console

from livelens.cli.watch import ISSUE_STYLE, REDACTED_STYLE, SENTIMENT_STYLE, ContactView, _styled_content, render
from tests.cli.conftest import LIVELENS, Run, client_env, v1_args, v2_args
from tests.e2e.conftest import Server, start_chat, wait_for

V2_SEGMENTS = [
    {"Event": {"Id": "e1", "ParticipantRole": "CUSTOMER", "DisplayName": "Ann",
               "EventType": "application/vnd.amazonaws.connect.event.participant.joined"}},
    {"Transcript": {"Id": "t1", "ParticipantId": "p1", "ParticipantRole": "CUSTOMER", "DisplayName": "Ann",
                    "Content": "My card ending 4417 was charged twice!", "Sentiment": "NEGATIVE",
                    "Redaction": {"CharacterOffsets": [{"BeginOffsetChar": 15, "EndOffsetChar": 19}]}}},
    {"Issues": {"IssuesDetected": [{"TranscriptItems": [{"Id": "t1", "CharacterOffsets":
                                                          {"BeginOffsetChar": 24, "EndOffsetChar": 37}}]}]}},
    {"Categories": {"MatchedCategories": ["billing-dispute"], "MatchedDetails": {"billing-dispute": {
        "PointsOfInterest": [{"TranscriptItems": [{"Id": "t1"}]}]}}}},
    {"Transcript": {"Id": "t2", "ParticipantId": "p2", "ParticipantRole": "AGENT", "DisplayName": "Bo",
                    "Content": "I have refunded the second charge.", "Sentiment": "POSITIVE"}},
    {"Transcript": {"Id": "t3", "ParticipantId": "p1", "ParticipantRole": "CUSTOMER", "DisplayName": "Ann",
                    "Content": "Thanks!"}},
    {"PostContactSummary": {"Status": "COMPLETED", "Content": "Refunded a duplicate card charge."}},
]


def text_of(renderable: object, width: int = 100) -> str:
    console = Console(file=io.StringIO(), width=width, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_view_marks_sentiment_redaction_issues_categories_and_summary() -> None:
    view = ContactView("c1", channel="CHAT")
    for segment in V2_SEGMENTS:
        view.add(segment, {"Status": "COMPLETED"})
    first = view.turns["t1"]
    assert first.redacted == [(15, 19)] and first.issues == [(24, 37)]
    spans = {(span.start, span.end, str(span.style)) for span in _styled_content(first).spans}
    assert (15, 19, REDACTED_STYLE) in spans and (24, 37, ISSUE_STYLE) in spans
    assert _styled_content(first).style == SENTIMENT_STYLE["NEGATIVE"]
    assert _styled_content(view.turns["t3"]).style == ""  # no Sentiment: no colour, nothing invented
    screen = text_of(render(view))
    assert "CUSTOMER Ann" in screen and "AGENT Bo" in screen
    assert "billing-dispute turn 1" in screen
    assert "Customer ▼  score -1" in screen and "Agent    ▲  score +1" in screen
    assert "Post-contact summary" in screen and "Refunded a duplicate card charge." in screen
    assert "COMPLETED" in screen.splitlines()[0]


def test_view_keeps_the_latest_turns_when_long() -> None:
    view = ContactView("c1", channel="VOICE")
    for i in range(30):
        view.add({"Transcript": {"Id": str(i), "ParticipantRole": "AGENT", "Content": f"turn {i} [PII]"}})
    screen = text_of(render(view, max_turns=5))
    assert "last 5 of 30" in screen and "turn 29" in screen and "turn 24 " not in screen
    assert view.turns["0"].redacted == [(7, 12)]  # V1 text: the placeholder is the redacted span


def test_watch_once_on_live_server(livelens: Run, aws: Run, instance_id: str, chat_contact: str,
                                   voice_contact: str) -> None:
    for contact_id, args in ((chat_contact, v2_args(instance_id, chat_contact, "Redacted")),
                             (voice_contact, v1_args(instance_id, voice_contact))):
        result = livelens("watch", "--instance-id", instance_id, "--contact-id", contact_id, "--once")
        assert result.returncode == 0, result.stderr
        segments = json.loads(aws(*args).stdout)["Segments"]
        first = next(s["Transcript"]["Content"] for s in segments if "Transcript" in s)
        assert first.split()[0] in result.stdout
        assert contact_id in result.stdout and "COMPLETED" in result.stdout
        assert "Post-contact summary" in result.stdout


def test_watch_live_is_pushed_turn_by_turn_until_the_contact_completes(server: Server, connect: Any,
                                                                       participant: Any, instance_id: str) -> None:
    """In a terminal `livelens watch` follows the segment stream; it draws each turn and exits at COMPLETED."""
    chat = start_chat(connect, participant, instance_id)
    env = client_env(server, TTY_COMPATIBLE="1", COLUMNS="120", LINES="40")
    watcher = subprocess.Popen([LIVELENS, "watch", "--instance-id", instance_id, "--contact-id", chat.contact_id],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    output = bytearray()
    try:
        assert watcher.stdout is not None

        def pump() -> None:
            while chunk := watcher.stdout.read1(4096):  # type: ignore[union-attr]
                output.extend(chunk)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        participant.send_message(ContentType="text/plain", Content="My invoice arrived twice.",
                                 ConnectionToken=chat.customer)
        # drawn while the contact is live: pushed, not read at the end
        try:
            wait_for(lambda: b"invoice arrived twice" in output, timeout=60, interval=0.05)
        except AssertionError:
            watcher.kill()
            raise AssertionError(f"{bytes(output)[-3000:]!r} {watcher.stderr.read()!r}") from None
        assert watcher.poll() is None
        participant.send_message(ContentType="text/plain", Content="Your refund is on its way.",
                                 ConnectionToken=chat.agent)
        wait_for(lambda: b"refund is on its way" in output, timeout=60, interval=0.05)
        participant.disconnect_participant(ConnectionToken=chat.customer)
        assert watcher.wait(timeout=90) == 0, watcher.stderr.read() if watcher.stderr else ""
        reader.join(timeout=10)
        assert b"COMPLETED" in output and b"Post-contact summary" in output
    finally:
        if watcher.poll() is None:
            watcher.kill()
