"""Redaction that uses the conversation, names without a name list, addresses in any layout."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from livelens.analysis import Pipeline, Turn
from livelens.analysis.conversation import answer_spans, requested_types
from livelens.analysis.redaction import load_detector
from livelens.analysis.spoken import normalize


def found(text: str, prompt: str | None = None) -> list[tuple[str, str]]:
    return [(text[s.begin : s.end], s.entity_type) for s in load_detector().detect(text, prompt=prompt)]


def redacted(text: str, prompt: str | None = None) -> set[str]:
    return {value for value, _ in found(text, prompt)}


@pytest.mark.parametrize(
    "prompt, expected",
    [
        ("sure, may I have your name please?", ("NAME",)),
        ("what's your phone number", ("PHONE",)),
        ("Could I take your name and postcode?", ("NAME", "ADDRESS")),
        ("can i have your email address", ("EMAIL",)),  # "email address" is no postal address
        ("ok, may I have your username and order ID please?", ()),  # a username is not a name
        ("I'm sorry to hear that.", ()),
        (None, ()),
    ],
)
def test_requested_types(prompt: str | None, expected: tuple[str, ...]) -> None:
    assert requested_types(prompt) == expected


def test_answer_spans_strip_fillers_and_refuse_non_answers() -> None:
    text = "yeah its marcus delaney"
    (span,) = answer_spans(text, ("NAME",))
    assert text[span.begin : span.end] == "marcus delaney"
    for refusal in ("sorry can you say that again", "hang on let me check", "same as before", "yes that's right"):
        assert answer_spans(refusal, ("NAME",)) == [], refusal
    norm = normalize("wei chen six one two eight eight three one four four seven")
    spans = {s.entity_type: norm.text[s.begin : s.end] for s in answer_spans(norm.text, ("NAME", "PHONE"))}
    assert spans == {"NAME": "wei chen", "PHONE": "6128831447"}


def test_a_reply_to_a_request_is_pii_only_with_the_request() -> None:
    assert redacted("crystal minh") == set()
    assert redacted("crystal minh", "sure, may I have your name please?") == {"crystal minh"}
    assert redacted("it's okonkwo.", "Could I have your last name?") == {"okonkwo"}
    assert redacted("n w one six x e", "what's the postcode") == {"n w one six x e"}
    assert redacted("six seven eight nine", "Can I get the last four of your social?") == {"six seven eight nine"}
    # Greetings before the value, "speaking" after it, a first try before the full name.
    assert redacted("hi this is bernadette", "Thank you for calling, who am I speaking with?") == {"bernadette"}
    assert redacted("hey there, this is ingrid speaking", "who do I have on the line?") == {"ingrid"}
    assert redacted("maria. maria de la cruz", "can i have your full name") == {"maria. maria de la cruz"}
    assert redacted("hello?", "who am i speaking with") == set()
    # A refusal after the same request redacts nothing.
    assert redacted("i don't have it with me right now", "what's your account number") == set()


def test_pipeline_reads_the_preceding_turn(pipeline: Pipeline, make_turn: Callable[..., Turn]) -> None:
    turn = make_turn("tobias", preceding="and what's your first name")
    assert pipeline.redact(turn).content == "[PII]"
    assert pipeline.analyze(turn).redaction.content == "[PII]"  # type: ignore[union-attr]
    assert pipeline.redact(make_turn("tobias")).content == "tobias"


@pytest.mark.parametrize(
    "text, value",
    [
        ("Hi Priya, I'm sorry about the wait.", "Priya"),
        ("Thanks Marcus", "Marcus"),
        ("Follow up with Mikayla Weld in a couple of months.", "Mikayla Weld"),
        ("Thaddeus M Bezrukov will call you back", "Thaddeus M Bezrukov"),
        ("Name: Brad Key\nPhone: 041 541 67 61", "Brad Key"),
    ],
)
def test_names_in_free_context(text: str, value: str) -> None:
    assert (value, "NAME") in found(text)


@pytest.mark.parametrize(
    "text",
    [
        "Please contact Customer Service about your Gold Member status.",
        "My order was charged twice and the app keeps crashing.",
        "C'mon, that's not what I asked for.",
        "I think the solution is to fly #LUVvoucher again",
    ],
)
def test_ordinary_capitalised_words_are_not_names(text: str) -> None:
    assert [v for v, t in found(text) if t == "NAME"] == []


@pytest.mark.parametrize(
    "text, value",
    [
        ("I live at 221B Baker Street, London NW1 6XE.", "221B Baker Street, London NW1 6XE"),
        ("I live in London NW1 6XE", "NW1 6XE"),
        ("Send it to Flat 3, 27 Kingsley Road, Leeds LS6 2AB please", "Flat 3, 27 Kingsley Road, Leeds LS6 2AB"),
        (
            "Meet me at 48196 Ladbyvej 84\n Apt. 517\n Padborg\n Denmark 03088",
            "48196 Ladbyvej 84\n Apt. 517\n Padborg\n Denmark 03088",
        ),
        ("The bus drops you off at 2620 Mlýnská 1540 St.", "2620 Mlýnská 1540 St"),
        # Spanish "C/", Greek "Λ.", two numbers before the street, a locality with a number in it.
        ("Our shop is on C/ Mayor 12, Alcalá de Henares", "C/ Mayor 12, Alcalá de Henares"),
        ("He lives on the north side of Λ. Βασιλίσσης Σοφίας 44.", "Λ. Βασιλίσσης Σοφίας 44"),
        (
            "Ship to 4410 213 Odos Ermou\n Apt. 7\n Cite 7 Novembre\n Tunisia 2050",
            "4410 213 Odos Ermou\n Apt. 7\n Cite 7 Novembre\n Tunisia 2050",
        ),
        # Intersections, US military post, postcodes of other countries after "zip code".
        ("Meet me at the corner of Kerkstraat 12 and Molenweg", "the corner of Kerkstraat 12 and Molenweg"),
        ("Please deliver to Nadia and 17 Harbour Road", "Nadia and 17 Harbour Road"),
        ("Send it to USNS Comfort\nFPO AE 09501 please", "USNS Comfort\nFPO AE 09501"),
        ("My zip code is 00-950", "00-950"),
        ("zip code: 01310-200", "01310-200"),
        ("the postcode is 6811 LV", "6811 LV"),
        ("It was on Harbour Street that we met.", "Harbour Street"),
    ],
)
def test_addresses_beyond_us_formats(text: str, value: str) -> None:
    assert (value, "ADDRESS") in found(text)


@pytest.mark.parametrize(
    "text",
    ["I have 2 Windows laptops and order 12345 Item 5.", "My flight UA 924 to London was cancelled",
     "I was charged $40 on March 3 2024 for 2 Netflix accounts.",
     "Call me at (03) 5374 5557 I'd like to join accounts", "see 5 Musicians Of The 70s You Supposed To Hate",
     "I have 3 Apple Watches 4 times over"],
)
def test_numbers_next_to_words_are_not_addresses(text: str) -> None:
    assert [v for v, t in found(text) if t == "ADDRESS"] == []


def test_spoken_ssn_and_international_phones() -> None:
    assert found("my social is one two three, four five, six seven eight nine") == [
        ("one two three, four five, six seven eight nine", "SSN")
    ]
    phones = {v for v, t in found("You can reach me on 0412 345 678 or +33 6 12 34 56 78") if t == "PHONE"}
    assert phones == {"0412 345 678", "+33 6 12 34 56 78"}
    assert ("27-37-49-46", "PHONE") in found("Denmark 79136\n27-37-49-46-Office")


def test_escaped_line_breaks_keep_offsets() -> None:
    text = "Name: Yuzuna Kasai\\nPhone: 041-412-293"
    assert ("Yuzuna Kasai", "NAME") in found(text)
    assert ("041-412-293", "PHONE") in found(text)


def test_address_patterns_stay_linear_on_hostile_text() -> None:
    """Long runs that the address grammar could backtrack over finish quickly (regex catastrophes)."""
    import time

    from livelens.analysis.pii_address import PostalAddressRecognizer

    recognizer = PostalAddressRecognizer()
    for text in (
        "USS " + "a" * 20000 + " FPO AE",
        " and ".join(["Victor"] * 2000) + " and 12 Main Street",
        "the corner of " * 1000 + "Main 12 and " * 1000,
        "12 " + "Ä" * 20000 + " 13",
    ):
        started = time.process_time()
        recognizer.analyze(text, ["ADDRESS"])
        assert time.process_time() - started < 2.0, text[:40]
