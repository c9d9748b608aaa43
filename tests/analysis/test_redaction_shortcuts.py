"""The redactor's shortcuts around presidio change nothing it finds: gates skip a recogniser only on text
where it cannot find anything, and the registry remembers its answers."""

from __future__ import annotations

import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from presidio_analyzer import predefined_recognizers

from livelens.analysis.redaction import GATES, _gated, _remembering

PATTERNED = [name for name in GATES if getattr(getattr(predefined_recognizers, name)(), "patterns", None)]


def test_every_gated_recogniser_with_patterns_is_checked() -> None:
    assert set(GATES) - set(PATTERNED) == {"PhoneRecognizer"}  # phonenumbers' matcher, not a regex


PATTERNS = [(name, pattern.name, pattern.regex)
            for name in PATTERNED for pattern in getattr(predefined_recognizers, name)().patterns]


@pytest.mark.parametrize("name,pattern,regex", PATTERNS)
@settings(max_examples=100, deadline=None, database=None)
@given(data=st.data())
def test_every_match_of_a_gated_recogniser_holds_what_its_gate_asks(
    name: str, pattern: str, regex: str, data: st.DataObject
) -> None:
    digits, needs = GATES[name]
    compiled = re.compile(regex, re.IGNORECASE | re.MULTILINE | re.DOTALL)  # presidio's flags
    match = data.draw(st.from_regex(compiled, fullmatch=True))
    assert compiled.fullmatch(match)
    assert sum(map(str.isdigit, match)) >= digits, (pattern, match)
    assert needs in match, (pattern, match)


@pytest.mark.parametrize("name", PATTERNED)
def test_a_gate_turns_away_only_text_without_a_match(name: str) -> None:
    digits, needs = GATES[name]
    recognizer = getattr(predefined_recognizers, name)()
    plain = getattr(predefined_recognizers, name)()
    gated = _gated(recognizer)
    entities = plain.supported_entities
    texts = ["card 4111 1111 1111 1111 please", "my ssn is 078-05-1120", "routing 021000021",
             "IBAN GB82 WEST 1234 5698 7654 32", "mail me at dana@example.com", "call 415 555 0142",
             "no numbers here at all", "order 12345", "x@y", "٤١١١ ١١١١ ١١١١ ١١١١"]
    for text in texts:
        found = [(r.start, r.end, r.entity_type) for r in plain.analyze(text, entities, None)]
        assert [(r.start, r.end, r.entity_type) for r in gated.analyze(text, entities, None)] == found, text
        if sum(map(str.isdigit, text)) < digits or needs not in text:
            assert found == [], text


def test_the_remembering_registry_answers_as_presidio_does_and_filters_once_per_request() -> None:
    from presidio_analyzer import RecognizerRegistry

    def registry() -> RecognizerRegistry:
        built = RecognizerRegistry(supported_languages=["en"])
        for name in PATTERNED:
            built.add_recognizer(getattr(predefined_recognizers, name)())
        return built

    plain, counted = registry(), registry()
    filtered: list[tuple[object, ...]] = []
    choose = counted.get_recognizers

    def counting(*args: object) -> object:
        filtered.append(args)
        return choose(*args)

    counted.get_recognizers = counting
    remembering = _remembering(counted)
    requests = [("en", ["CREDIT_CARD"], False), ("en", ["US_SSN", "EMAIL_ADDRESS"], False), ("en", None, True)]
    for language, entities, all_fields in requests * 3:
        got = remembering.get_recognizers(language, entities, all_fields)
        want = plain.get_recognizers(language, entities, all_fields)
        assert sorted(type(r).__name__ for r in got) == sorted(type(r).__name__ for r in want)
        got.clear()  # a caller's list is its own: the next answer is whole
    assert len(filtered) == len(requests)
    ad_hoc = predefined_recognizers.IpRecognizer()
    assert ad_hoc in remembering.get_recognizers("en", ["IP_ADDRESS"], False, [ad_hoc])  # never remembered
    assert len(filtered) == len(requests) + 1
