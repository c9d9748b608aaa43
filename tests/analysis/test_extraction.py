"""Information extraction: kinds from hints, the offline extractor, and the LLM extractor's privacy."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from livelens.analysis.extraction import (
    Extraction,
    ExtractionTurn,
    LlmExtractor,
    OfflineExtractor,
    value_kind,
)
from livelens.contacts.extraction_segments import extraction_segments
from livelens.contacts.models import Contact


@pytest.fixture(scope="module")
def offline() -> OfflineExtractor:
    return OfflineExtractor()


def _turns(*lines: tuple[str, str]) -> list[ExtractionTurn]:
    return [ExtractionTurn(f"t{i}", role, text, i * 1000, i * 1000 + 900) for i, (role, text) in enumerate(lines)]


@pytest.mark.parametrize(
    "hint, kind",
    [
        ("The customer's e-mail address", "email"),
        ("Phone number to call back", "phone"),
        ("The order number", "identifier"),
        ("Date of the appointment", "date"),
        ("Time of rental car pickup", "time"),
        ("The amount of money to transfer", "amount"),
        ("The name of the recipient to transfer the money to", "person"),
        ("City where the bus is leaving from", "place"),
        ("Genre of the movie", "category"),
        ("Why the customer is calling", "reason"),
    ],
)
def test_value_kind(hint: str, kind: str) -> None:
    assert value_kind(hint) == kind


def test_offline_extractor_finds_typed_values_with_offsets(offline: OfflineExtractor) -> None:
    turns = _turns(
        ("AGENT", "How can I help?"),
        ("CUSTOMER", "I need a bus from Anaheim, CA to Las Vegas on March 14th at half past 4 in the evening."),
        ("AGENT", "What is your e-mail and order number?"),
        ("CUSTOMER", "It's sam@example.org and the order is AB-12345."),
    )
    cases = {
        "City where bus is leaving from": "Anaheim, CA",
        "City where bus is going to": "Las Vegas",
        "Date of bus leaving for journey": "March 14th",
        "Time of bus leaving for journey": "half past 4 in the evening",
        "The customer's e-mail address": "sam@example.org",
        "The order number": "AB-12345",
    }
    for hint, expected in cases.items():
        result = offline.extract(hint, turns)
        (value,) = result.values
        assert value.content == expected, hint
        assert value.turn.text[value.begin : value.end] == expected
    assert offline.extract("The order number", _turns(("AGENT", "Hello"))).failure_code == (
        "INSUFFICIENT_CONVERSATION_CONTENT"
    )
    assert offline.extract("The customer's e-mail address", _turns(("CUSTOMER", "No thanks"))).values == ()


def test_a_later_value_replaces_an_earlier_one(offline: OfflineExtractor) -> None:
    turns = _turns(
        ("CUSTOMER", "Book it for March 3rd."), ("AGENT", "Done."), ("CUSTOMER", "Sorry, make it March 5th.")
    )
    assert offline.extract("Date of the appointment", turns).values[0].content == "March 5th"


class _Endpoint:
    """An OpenAI-compatible endpoint in-process: records what it was sent, answers ``answer``."""

    def __init__(self, answer: str) -> None:
        self.answer = answer
        self.sent: list[dict[str, Any]] = []

    def __call__(self, request: Any, timeout: float) -> Any:
        self.sent.append(json.loads(request.data))
        body = {"choices": [{"message": {"content": json.dumps({"value": self.answer})}, "finish_reason": "stop"}]}
        return _Response(json.dumps(body).encode())


class _Response(io.BytesIO):
    def __enter__(self) -> _Response:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _contact(policy: str) -> Contact:
    return Contact(id="c1", arn="arn:c1", instance_id="i1", channel="CHAT", initiation_method="API",
                   initiation_timestamp="2026-01-01T00:00:00.000Z", redaction_policy=policy, language="en-US",
                   analysis=[], redaction_mask="PII")


def test_the_llm_extractor_only_sees_redacted_text_of_a_redacting_contact() -> None:
    endpoint = _Endpoint("[PII]")
    extractor = LlmExtractor("http://llm.invalid/v1", "model", opener=endpoint)
    raw = _turns(("CUSTOMER", "my email is jane@example.com"))
    redacted = _turns(("CUSTOMER", "my email is [PII]"))
    definition = {"ExtractionDefinitionId": "d1", "Name": "email",
                  "ExtractionConfiguration": {"PromptHint": "The customer's e-mail address"}}
    (row,) = extraction_segments(_contact("RedactedAndOriginal"), [definition], raw, redacted, extractor, local=False)
    assert "jane@example.com" not in json.dumps(endpoint.sent)
    assert row[1] == row[2] and row[2] is not None
    assert row[2]["ExtractedValues"][0]["Content"] == "[PII]"
    assert row[2]["ExtractedValues"][0]["PointsOfInterest"] == [
        {"Id": "t0", "CharacterOffsets": {"BeginOffsetChar": 12, "EndOffsetChar": 17}}
    ]
    # Without redaction the original goes to the endpoint; an answer not in the conversation is not found.
    invented = LlmExtractor("http://llm.invalid/v1", "model", opener=_Endpoint("bob@example.com"))
    assert invented.extract("e-mail", raw) == Extraction()
