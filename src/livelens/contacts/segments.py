"""Rendering transcript items and their analysis as Contact Lens segments.

Each function returns ``(kind, raw, redacted)`` triples ready for the segment
log, already in wire form (timestamps in the format their shape declares: V2's
``Time.AbsoluteTime`` is an ``iso8601`` string with milliseconds; unset
members absent), so a page hands out the stored JSON as it is. ``raw``
is ``None`` under RedactedOnly (the original never reaches storage) and
``redacted`` is ``None`` when the contact is not redacted. VOICE contacts get
V1 shapes (connect-contact-lens), CHAT contacts V2 shapes (connect), as each
API reference defines them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from livelens.analysis.types import CharSpan, Issue, PiiSpan, Redaction, Summary, TurnAnalysis
from livelens.contacts.models import Contact, iso_millis

SegmentRow = tuple[str, dict[str, Any] | None, dict[str, Any] | None]

V1_SUMMARY_MAX = 1762
V2_SUMMARY_MAX = 1270


def redaction_to_record(redaction: Redaction) -> dict[str, Any]:
    return {
        "content": redaction.content,
        "entities": [[e.begin, e.end, e.entity_type, e.score] for e in redaction.entities],
        "original": [[s.begin, s.end] for s in redaction.original_spans],
        "redacted": [[s.begin, s.end] for s in redaction.redacted_spans],
    }


def redaction_from_record(record: dict[str, Any]) -> Redaction:
    return Redaction(
        content=record["content"],
        entities=tuple(PiiSpan(b, e, t, s) for b, e, t, s in record["entities"]),
        original_spans=tuple(CharSpan(b, e) for b, e in record["original"]),
        redacted_spans=tuple(CharSpan(b, e) for b, e in record["redacted"]),
    )


def whole_turn_redaction(content: str) -> Redaction:
    """Fail closed: the redacted form of a turn the redactor could not process hides all of it."""
    placeholder = "[PII]"
    return Redaction(
        content=placeholder,
        entities=(PiiSpan(0, len(content), "UNKNOWN", 0.0),),
        original_spans=(CharSpan(0, len(content)),),
        redacted_spans=(CharSpan(0, len(placeholder)),),
    )


def _offsets(span: CharSpan | Issue) -> dict[str, int]:
    return {"BeginOffsetChar": span.begin, "EndOffsetChar": span.end}


def _mapped_issue(issue: Issue, redaction: Redaction) -> Issue:
    begin = redaction.to_redacted(issue.begin, end=False)
    end = redaction.to_redacted(issue.end, end=True)
    return Issue(begin, end, redaction.content[begin:end])


def turn_segments(
    contact: Contact,
    item: dict[str, Any],
    analysis: TurnAnalysis,
    redaction: Redaction | None,
) -> list[SegmentRow]:
    """The segments one chat message or voice utterance produces.

    ``item["content"]`` is the original text, absent under RedactedOnly, when
    ``redaction`` holds the only copy; ``analysis.issues`` offsets refer to the
    text the pipeline saw (the original if kept, else the redacted one).
    """
    original = item.get("content") if contact.keeps_original else None
    issues_in_original = original is not None
    if contact.channel == "VOICE":
        return _voice_segments(contact, item, analysis, redaction, original, issues_in_original)
    return _chat_segments(contact, item, analysis, redaction, original, issues_in_original)


def _voice_segments(contact: Contact, item: dict[str, Any], analysis: TurnAnalysis, redaction: Redaction | None,
                    original: str | None, issues_in_original: bool) -> list[SegmentRow]:
    def transcript(content: str, issues: Sequence[Issue], participant_id: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Id": item["id"],
            "ParticipantId": participant_id,
            "ParticipantRole": item["role"],
            "Content": content,
            "BeginOffsetMillis": item["begin_ms"],
            "EndOffsetMillis": item["end_ms"],
        }
        if analysis.sentiment:
            body["Sentiment"] = analysis.sentiment
        if issues:
            body["IssuesDetected"] = [{"CharacterOffsets": _offsets(i)} for i in issues[:20]]
        return body

    raw = transcript(original, analysis.issues, item["participant_id"]) if original is not None else None
    redacted = None
    if contact.redacts and redaction is not None:
        issues = [_mapped_issue(i, redaction) for i in analysis.issues] if issues_in_original else analysis.issues
        # The caller's ParticipantId can hold PII: the Redacted output shows its redacted label.
        redacted = transcript(redaction.content, issues, item.get("redacted_participant_id") or item["participant_id"])
    return [("Transcript", raw, redacted)]


def _chat_segments(contact: Contact, item: dict[str, Any], analysis: TurnAnalysis, redaction: Redaction | None,
                   original: str | None, issues_in_original: bool) -> list[SegmentRow]:
    def transcript(content: str, spans: Sequence[CharSpan] | None, source: dict[str, Any] = item) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Id": item["id"],
            "ParticipantId": item["participant_id"],
            "ParticipantRole": item["role"],
            "DisplayName": source["display_name"],
            "Content": content,
            "ContentType": item.get("content_type", "text/plain"),
            "Time": {"AbsoluteTime": iso_millis(item["time"])},
        }
        if spans:
            body["Redaction"] = {"CharacterOffsets": [_offsets(s) for s in spans]}
        if analysis.sentiment:
            body["Sentiment"] = analysis.sentiment
        return body

    def issues_segment(issues: Sequence[Issue]) -> dict[str, Any]:
        return {
            "IssuesDetected": [
                {"TranscriptItems": [{"Id": item["id"], "Content": i.text, "CharacterOffsets": _offsets(i)}]}
                for i in issues
                if i.text.strip()
            ]
        }

    rows: list[SegmentRow] = []
    raw = None
    if original is not None:
        raw = transcript(original, redaction.original_spans if (contact.redacts and redaction) else None)
    redacted = None
    if contact.redacts and redaction:
        redacted = transcript(redaction.content, redaction.redacted_spans, redacted_view(item))
    rows.append(("Transcript", raw, redacted))
    if analysis.issues:
        raw_issues = issues_segment(analysis.issues) if original is not None else None
        redacted_issues = None
        if contact.redacts and redaction is not None:
            mapped = [_mapped_issue(i, redaction) for i in analysis.issues] if issues_in_original else analysis.issues
            redacted_issues = issues_segment(mapped)
        if (raw_issues or redacted_issues or {}).get("IssuesDetected"):
            rows.append(("Issues", raw_issues, redacted_issues))
    return rows


def both(contact: Contact, body: dict[str, Any]) -> SegmentRow:
    """A segment that carries no personal data reads the same in both outputs."""
    kind = next(iter(body))
    return (
        kind,
        body[kind] if contact.keeps_original else None,
        body[kind] if contact.redacts else None,
    )


def redacted_view(item: dict[str, Any]) -> dict[str, Any]:
    """``item`` as the Redacted output shows it: under RedactedAndOriginal the display name and attachment
    names were redacted beside the originals (under RedactedOnly only the redacted forms are stored)."""
    view = dict(item)
    if item.get("redacted_participant_id") is not None:
        view["participant_id"] = item["redacted_participant_id"]
    if item.get("redacted_display_name") is not None:
        view["display_name"] = item["redacted_display_name"]
    if item.get("redacted_attachments") is not None:
        view["attachments"] = item["redacted_attachments"]
    return view


def _both_views(contact: Contact, item: dict[str, Any], render: Any) -> SegmentRow:
    """A segment whose only personal data is a display name or attachment names."""
    raw = render(item)
    redacted = render(redacted_view(item)) if contact.redacts else None
    kind = next(iter(raw))
    return kind, raw[kind] if contact.keeps_original else None, redacted[kind] if redacted else None


def event_segment(contact: Contact, item: dict[str, Any]) -> SegmentRow:
    def render(source: dict[str, Any]) -> dict[str, Any]:
        body: dict[str, Any] = {
            "Id": item["id"], "EventType": item["content_type"], "Time": {"AbsoluteTime": iso_millis(item["time"])}
        }
        participant = (("participant_id", "ParticipantId"), ("role", "ParticipantRole"),
                       ("display_name", "DisplayName"))
        for key, name in participant:
            if source.get(key):
                body[name] = source[key]
        return {"Event": body}

    return _both_views(contact, item, render)


def attachments_segment(contact: Contact, item: dict[str, Any]) -> SegmentRow:
    def render(source: dict[str, Any]) -> dict[str, Any]:
        return {"Attachments": {
            "Id": item["id"],
            "ParticipantId": item["participant_id"],
            "ParticipantRole": item["role"],
            "DisplayName": source["display_name"],
            "Attachments": source["attachments"],
            "Time": {"AbsoluteTime": iso_millis(item["time"])},
        }}

    return _both_views(contact, item, render)


def summary_body(summary: Summary, max_chars: int) -> dict[str, Any]:
    body: dict[str, Any] = {"Status": summary.status}
    if summary.status == "COMPLETED" and summary.content:
        body["Content"] = summary.content[:max_chars]
    if summary.failure_code:
        body["FailureCode"] = summary.failure_code
    return body


def summary_max_chars(contact: Contact) -> int:
    return V1_SUMMARY_MAX if contact.channel == "VOICE" else V2_SUMMARY_MAX
