from __future__ import annotations

import pytest

from livelens.analysis.spoken import normalize


@pytest.mark.parametrize(
    ("text", "expected", "source"),
    [
        (
            "call me on four one five, five five five, one two three four",
            "415, 555, 1234",
            "four one five, five five five, one two three four",
        ),
        ("it's john dot smith at example dot com", "john.smith@example.com", "john dot smith at example dot com"),
        ("born nineteen eighty five", "1985", "nineteen eighty five"),
        ("code double five seven oh nine", "55709", "double five seven oh nine"),
        (
            "mary underscore jones at yahoo dot co dot uk",
            "mary_jones@yahoo.co.uk",
            "mary underscore jones at yahoo dot co dot uk",
        ),
    ],
)
def test_spoken_forms_are_written_out_and_mapped_back(text: str, expected: str, source: str) -> None:
    norm = normalize(text)
    begin = norm.text.index(expected)
    b, e = norm.to_original(begin, begin + len(expected))
    assert text[b:e] == source


def test_single_number_words_and_plain_text_are_left_alone() -> None:
    for text in ("I have one cat and two dogs", "The new one is broken", "Oh no, that's bad"):
        norm = normalize(text)
        assert norm.text == text
        assert not norm.changed
