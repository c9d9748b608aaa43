from livelens.analysis.types import CharSpan, PiiSpan, Redaction
from livelens.contacts.segments import to_redacted_offset

# "Mail a@b.co or call 555" -> "Mail [PII] or call [PII]"
ORIGINAL = "Mail a@b.co or call 555"
REDACTION = Redaction(
    content="Mail [PII] or call [PII]",
    entities=(PiiSpan(5, 11, "EMAIL"), PiiSpan(20, 23, "PHONE")),
    original_spans=(CharSpan(5, 11), CharSpan(20, 23)),
    redacted_spans=(CharSpan(5, 10), CharSpan(19, 24)),
)


def test_offsets_before_between_and_after_spans() -> None:
    assert to_redacted_offset(0, REDACTION, end=False) == 0
    assert to_redacted_offset(5, REDACTION, end=False) == 5
    assert to_redacted_offset(11, REDACTION, end=True) == 10
    assert to_redacted_offset(14, REDACTION, end=False) == 13
    assert to_redacted_offset(len(ORIGINAL), REDACTION, end=True) == len(REDACTION.content)


def test_offsets_inside_a_span_snap_to_the_placeholder() -> None:
    assert to_redacted_offset(7, REDACTION, end=False) == 5
    assert to_redacted_offset(7, REDACTION, end=True) == 10
    assert REDACTION.content[to_redacted_offset(12, REDACTION, end=False):] == "or call [PII]"
