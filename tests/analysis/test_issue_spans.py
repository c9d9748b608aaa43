"""Issue spans that agree between Raw and Redacted output, over generated turns full of PII.

An issue is a sentence of the turn. If sentence splitting broke inside an email address, a URL, a number
or a placeholder, the Raw issue would start or end inside a piece of PII while the Redacted one (mapped
onto the redacted text) snaps to whole placeholders, and the two outputs would mark different words
("com and I was charged twice" against "[PII] and I was charged twice").
"""

from __future__ import annotations

from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from livelens.analysis import Pipeline, Turn
from livelens.analysis.issues import IssueDetector
from livelens.analysis.types import Issue, Redaction
from livelens.contacts import segments as render
from livelens.contacts.models import Contact

WORDS = ["I", "was", "charged", "twice", "my", "refund", "never", "arrived", "please", "help", "order",
         "the", "card", "is", "and", "call", "me", "at", "see", "it", "Thanks", "Hi"]
PII_TOKENS = st.one_of(
    st.builds(lambda a, b, d: f"{a}.{b}@{d}.com", st.sampled_from(["a", "dana", "j"]),
              st.sampled_from(["b", "whitfield", "smith"]), st.sampled_from(["example", "mail.example"])),
    st.builds(lambda host, path: f"https://{host}/{path}", st.sampled_from(["example.com", "www.shop.example.org"]),
              st.sampled_from(["help?id=42", "orders/1234.pdf", "a.b/c"])),
    st.builds(lambda n, c: f"${n}.{c:02d}", st.integers(1, 9999), st.integers(0, 99)),
    st.builds(lambda n: f"{n:,}.50", st.integers(1000, 99999)),
    st.sampled_from(["+1 555 123 4567", "(555) 123-4567", "4111 1111 1111 1111", "192.168.0.1"]),
)
#: PII with a sentence-ending dot inside: only the redactor's spans (passed to the splitter) keep them whole.
NAMES_AND_ADDRESSES = st.sampled_from(["Mr. J. Smith", "Dana Whitfield", "Dr. Noor Haddad",
                                       "123 Main St. Springfield, IL 62704", "42 Baker St. London"])
PLACEHOLDERS = st.sampled_from(["[PII]", "[EMAIL]", "[PHONE]", "[CREDIT_DEBIT_NUMBER]"])
ENDINGS = st.sampled_from([". ", "! ", "? ", "\n", "... ", ", ", " "])


@st.composite
def turns(draw: st.DrawFn, tokens: st.SearchStrategy[str]) -> tuple[str, list[tuple[int, int]]]:
    """A turn of a few sentences with tokens placed anywhere, and where each token stands."""
    text, spans = "", []
    for _ in range(draw(st.integers(1, 4))):
        for _ in range(draw(st.integers(1, 6))):
            if draw(st.booleans()) and draw(st.booleans()):
                token = draw(tokens)
                spans.append((len(text), len(text) + len(token)))
                text += token
            else:
                text += draw(st.sampled_from(WORDS))
            text += " "
        text = text.rstrip(" ") + draw(ENDINGS)
    return text.rstrip(" "), spans


def _cut(span: tuple[int, int], sentence: tuple[int, int]) -> bool:
    (b, e), (sb, se) = span, sentence
    return sb < e and b < se and not (sb <= b and e <= se)


@settings(max_examples=300, deadline=None)
@given(turns(st.one_of(PII_TOKENS, PLACEHOLDERS)))
def test_sentences_never_break_inside_emails_urls_numbers_or_placeholders(
    turn: tuple[str, list[tuple[int, int]]],
) -> None:
    text, tokens = turn
    for sentence in IssueDetector.sentences(text):
        cut = [text[b:e] for b, e in tokens if _cut((b, e), sentence)]
        assert not cut, f"sentence {text[sentence[0]:sentence[1]]!r} cuts {cut}"


def _agrees(text: str, redaction: Redaction, begin: int, end: int) -> None:
    """The Redacted issue is the Raw issue with each piece of PII replaced by its placeholder."""
    expected = text[begin:end]
    pairs = list(zip(redaction.original_spans, redaction.redacted_spans, strict=True))
    for original, placeholder in reversed(pairs):
        assert not _cut((original.begin, original.end), (begin, end)), (
            f"issue {text[begin:end]!r} cuts PII {text[original.begin:original.end]!r}"
        )
        if begin <= original.begin and original.end <= end:
            expected = (expected[: original.begin - begin] + redaction.content[placeholder.begin : placeholder.end]
                        + expected[original.end - begin :])
    redacted_begin, redacted_end = redaction.to_redacted(begin, end=False), redaction.to_redacted(end, end=True)
    assert redaction.content[redacted_begin:redacted_end] == expected


def _contact() -> Contact:
    return Contact(id="c", arn="a", instance_id="i", channel="CHAT", initiation_method="API",
                   initiation_timestamp="2026-01-01T00:00:00.000Z", redaction_policy="RedactedAndOriginal",
                   language="en-US", analysis=["redaction", "issues"], redaction_mask="PII")


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(turns(st.one_of(PII_TOKENS, NAMES_AND_ADDRESSES)),
       st.sampled_from(["I was charged twice", "my refund never arrived"]))
def test_raw_and_redacted_issues_mark_the_same_words(
    pipeline: Pipeline, make_turn: Callable[..., Turn], turn: tuple[str, list[tuple[int, int]]], cue: str,
) -> None:
    text = f"{turn[0]} {cue} {turn[0]}"
    analysis = pipeline.analyze(make_turn(text))
    redaction = analysis.redaction
    assert redaction is not None
    keep = [(s.begin, s.end) for s in redaction.original_spans]
    # every sentence is a candidate issue: each maps onto the redacted text as the same words
    for begin, end in IssueDetector.sentences(text, keep):
        _agrees(text, redaction, begin, end)
    # and the issues the pipeline found come out the same in both outputs of the segment log
    item = {"id": "m", "participant_id": "p", "role": "CUSTOMER", "display_name": "Dana",
            "time": "2026-01-01T00:00:01.000Z", "content": text}
    rows = render.turn_segments(_contact(), item, analysis, redaction)
    issues = [(raw, redacted) for kind, raw, redacted in rows if kind == "Issues"]
    assert len(issues) == (1 if any(i.text.strip() for i in analysis.issues) else 0)
    for raw, redacted in issues:
        for raw_item, redacted_item in zip(raw["IssuesDetected"], redacted["IssuesDetected"], strict=True):
            raw_span = raw_item["TranscriptItems"][0]
            offsets = raw_span["CharacterOffsets"]
            _agrees(text, redaction, offsets["BeginOffsetChar"], offsets["EndOffsetChar"])
            mapped = redacted_item["TranscriptItems"][0]
            begin, end = mapped["CharacterOffsets"]["BeginOffsetChar"], mapped["CharacterOffsets"]["EndOffsetChar"]
            assert mapped["Content"] == redaction.content[begin:end]


def test_the_reported_example() -> None:
    text = "Hi, my email is a.b@example.com and I was charged twice."
    (sentence,) = IssueDetector.sentences(text)
    assert text[sentence[0] : sentence[1]] == "my email is a.b@example.com and I was charged twice"
    issue = Issue(*sentence, text[sentence[0] : sentence[1]])
    assert issue.text.startswith("my email")
