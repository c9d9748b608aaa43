from __future__ import annotations

from collections.abc import Callable

import pytest

from livelens.analysis import Pipeline, Redaction, Turn, load_pipeline
from livelens.analysis.pii_patterns import aba_valid, luhn_valid
from livelens.analysis.redaction import apply_redaction, load_detector
from livelens.analysis.types import PiiSpan


def found(text: str) -> list[tuple[str, str]]:
    return [(text[s.begin : s.end], s.entity_type) for s in load_detector().detect(text)]


def assert_offsets_consistent(original: str, redaction: Redaction, placeholder: str | None = None) -> None:
    assert len(redaction.original_spans) == len(redaction.redacted_spans) == len(redaction.entities)
    rebuilt = []
    pos = 0
    for o, r, entity in zip(redaction.original_spans, redaction.redacted_spans, redaction.entities, strict=True):
        assert (o.begin, o.end) == (entity.begin, entity.end)
        expected = placeholder or f"[{entity.entity_type}]"
        assert redaction.content[r.begin : r.end] == expected
        rebuilt.append(original[pos : o.begin])
        rebuilt.append(expected)
        pos = o.end
    rebuilt.append(original[pos:])
    assert "".join(rebuilt) == redaction.content


def test_luhn_and_aba_checksums() -> None:
    assert luhn_valid("4532 0151 1283 0366")
    assert not luhn_valid("4532 0151 1283 0367")
    assert aba_valid("021000021")
    assert not aba_valid("021000022")


def test_card_expiry_and_cvv(pipeline: Pipeline, make_turn: Callable[..., Turn]) -> None:
    text = "Sure, my card number is 4532 0151 1283 0366, it expires 09/27 and the security code is 123."
    hits = found(text)
    assert ("4532 0151 1283 0366", "CREDIT_DEBIT_NUMBER") in hits
    assert ("09/27", "CREDIT_DEBIT_EXPIRY") in hits
    assert ("123", "CREDIT_DEBIT_CVV") in hits


def test_luhn_invalid_card_number_is_not_redacted_as_a_card() -> None:
    text = "My card number is 4532 0151 1283 0367."
    assert all(t != "CREDIT_DEBIT_NUMBER" for _, t in found(text))
    text = "The card is 4111 1111 1111 1112 thanks"
    assert all(t != "CREDIT_DEBIT_NUMBER" for _, t in found(text))


def test_spoken_phone_number_and_email_in_a_voice_transcript() -> None:
    text = (
        "yeah my number is four one five, five five five, one two three four "
        "and my email is john dot smith at example dot com"
    )
    hits = found(text)
    assert ("four one five, five five five, one two three four", "PHONE") in hits
    assert ("john dot smith at example dot com", "EMAIL") in hits


def test_spoken_card_number_read_digit_by_digit() -> None:
    text = "it's four five three two zero one five one one two eight three zero three six six"
    assert (
        "four five three two zero one five one one two eight three zero three six six",
        "CREDIT_DEBIT_NUMBER",
    ) in found(text)


@pytest.mark.parametrize(
    ("text", "value", "entity"),
    [
        ("my pin is four three two one", "four three two one", "PIN"),
        ("My SSN is 123-45-6789.", "123-45-6789", "SSN"),
        ("the last four of my social are 6789", "6789", "SSN"),
        ("I was born on March 5th, 1985", "March 5th, 1985", "DATE_OF_BIRTH"),
        (
            "date of birth oh three oh five nineteen eighty five",
            "oh three oh five nineteen eighty five",
            "DATE_OF_BIRTH",
        ),
        ("the routing number is 021000021", "021000021", "BANK_ROUTING"),
        ("and the account number is 123456789012", "123456789012", "BANK_ACCOUNT_NUMBER"),
        ("My passport number is X12345678", "X12345678", "PASSPORT_NUMBER"),
        ("driver's license D1234567", "D1234567", "DRIVER_ID"),
        ("I can't reach 192.168.10.20 from home", "192.168.10.20", "IP_ADDRESS"),
        (
            "Send it to 123 Main Street, Springfield, IL 62704 please",
            "123 Main Street, Springfield, IL 62704",
            "ADDRESS",
        ),
        ("Hi, my name is Maria Garcia.", "Maria Garcia", "NAME"),
        ("hi my name is maria garcia and I need help", "maria garcia", "NAME"),
        ("Email me at jane.doe@example.org", "jane.doe@example.org", "EMAIL"),
        ("Call me at (212) 555-0187.", "(212) 555-0187", "PHONE"),
    ],
)
def test_entity_types(text: str, value: str, entity: str) -> None:
    assert (value, entity) in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "I have two kids and one dog.",
        "My flight was delayed by three hours and I missed my connection.",
        "I ordered 3 items last week and only 2 arrived.",
        "Thank you for calling, how can I help you today?",
        "I'm not happy with the service at all.",
    ],
)
def test_no_pii_in_ordinary_sentences(text: str) -> None:
    assert found(text) == []


def test_offsets_are_exact_for_both_masks(make_turn: Callable[..., Turn]) -> None:
    text = "I'm Maria Garcia, card 4532015112830366, email maria@example.com."
    turn = make_turn(text)
    for mask in ("PII", "ENTITY_TYPE"):
        redaction = load_pipeline(config={"redaction": {"mask": mask}}).redact(turn)
        assert redaction.entities, redaction
        assert_offsets_consistent(text, redaction, "[PII]" if mask == "PII" else None)
        originals = [text[o.begin : o.end] for o in redaction.original_spans]
        assert "4532015112830366" in originals and "maria@example.com" in originals
        assert "4532015112830366" not in redaction.content


def test_spoken_spans_map_to_the_original_words(make_turn: Callable[..., Turn]) -> None:
    text = "sure it's five five five, one two three, four five six seven. Thanks"
    redaction = load_pipeline().redact(make_turn(text, channel="VOICE"))
    assert redaction.content == "sure it's [PII]. Thanks"
    assert [text[o.begin : o.end] for o in redaction.original_spans] == [
        "five five five, one two three, four five six seven"
    ]
    assert_offsets_consistent(text, redaction, "[PII]")


def test_entities_filter_limits_what_is_redacted(make_turn: Callable[..., Turn]) -> None:
    turn = make_turn("I'm Maria Garcia and my email is maria@example.com")
    redaction = load_pipeline(config={"redaction": {"entities": ["EMAIL"], "mask": "ENTITY_TYPE"}}).redact(turn)
    assert redaction.content == "I'm Maria Garcia and my email is [EMAIL]"


def test_redact_works_without_the_redaction_component(make_turn: Callable[..., Turn]) -> None:
    p = load_pipeline(("sentiment",))
    turn = make_turn("my email is maria@example.com")
    assert p.redact(turn).content == "my email is [PII]"
    assert p.analyze(turn).redaction is None


def test_analyze_reuses_a_given_redaction(pipeline: Pipeline, make_turn: Callable[..., Turn]) -> None:
    turn = make_turn("my email is maria@example.com")
    given = Redaction("my email is [PII]", (PiiSpan(12, 29, "EMAIL", 0.5),), (), ())
    assert pipeline.analyze(turn, redaction=given).redaction is given


def test_apply_redaction_refuses_overlaps() -> None:
    with pytest.raises(ValueError):
        apply_redaction("abcdef", [PiiSpan(0, 3, "NAME"), PiiSpan(2, 4, "NAME")])


@pytest.mark.parametrize(
    "entities",
    [["CREDIT_DEBIT_NUMBER"], ["PHONE"], ["ADDRESS"], ["NAME"], ["EMAIL", "CREDIT_DEBIT_CVV", "SSN", "PHONE"]],
)
def test_a_narrow_policy_finds_what_every_recogniser_would(
    entities: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the recognisers (and spaCy components) a policy's types need run; its findings are unchanged."""
    import livelens.analysis.redaction as redaction

    texts = [
        "Hi, I'm Marcus Okafor, card 4111 1111 1111 1111, cvv 123, call me on 415-555-0142.",
        "Send it to 52 Harbour Street, apartment 3, Portland, Oregon 97205 or dana.whitfield@example.com.",
        "my social is 123-45-6789 and my name is jun park",
        "Thanks Grace, that works.",
    ]
    detector = load_detector()
    narrow = [detector.detect(text, entities) for text in texts]
    full = sorted(detector._supported)
    monkeypatch.setattr(type(detector), "_presidio_entities", lambda self, wanted: full)
    analyse = redaction.analyse
    monkeypatch.setattr(redaction, "analyse", lambda batch, names=True: analyse(batch, True))
    assert narrow == [detector.detect(text, entities) for text in texts]
    assert any(narrow)
