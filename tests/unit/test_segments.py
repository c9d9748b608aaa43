from livelens.analysis.types import CharSpan, PiiSpan, Redaction

# "Mail a@b.co or call 555" -> "Mail [PII] or call [PII]"
ORIGINAL = "Mail a@b.co or call 555"
REDACTION = Redaction(
    content="Mail [PII] or call [PII]",
    entities=(PiiSpan(5, 11, "EMAIL"), PiiSpan(20, 23, "PHONE")),
    original_spans=(CharSpan(5, 11), CharSpan(20, 23)),
    redacted_spans=(CharSpan(5, 10), CharSpan(19, 24)),
)


def test_offsets_before_between_and_after_spans() -> None:
    assert REDACTION.to_redacted(0, end=False) == 0
    assert REDACTION.to_redacted(5, end=False) == 5
    assert REDACTION.to_redacted(11, end=True) == 10
    assert REDACTION.to_redacted(14, end=False) == 13
    assert REDACTION.to_redacted(len(ORIGINAL), end=True) == len(REDACTION.content)


def test_offsets_inside_a_span_snap_to_the_placeholder() -> None:
    assert REDACTION.to_redacted(7, end=False) == 5
    assert REDACTION.to_redacted(7, end=True) == 10
    assert REDACTION.content[REDACTION.to_redacted(12, end=False):] == "or call [PII]"
