"""``ExtractedInformation`` segments: what an ``EXTRACT_INFORMATION`` rule action found, in V1 and V2 shapes.

Pure: the caller (the rules runner) passes the definitions and the contact's
turns so far, as the Raw output shows them (original text) and as the
Redacted output shows them (redacted text). Each output is extracted from its
own text, so the Redacted segment never carries what redaction hid, and an
extractor that is not local (:class:`~livelens.analysis.extraction.LlmExtractor`)
is only ever given the redacted turns of a redacting contact (the Raw segment
then carries the same values).

Points of interest: V1 the turn's milliseconds, V2 the transcript item Id and
the value's character offsets. Not found: ``USE_DEFAULT_VALUE`` gives the
default value with no points of interest, ``OMIT`` (or no ``NotFoundBehavior``)
no value. An extractor failure is the segment's ``FailureCode``.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from livelens.analysis.extraction import Extraction, ExtractionTurn, Extractor
from livelens.contacts.models import Contact

log = logging.getLogger("livelens.extraction")
SegmentRow = tuple[str, dict[str, Any] | None, dict[str, Any] | None]


def _run(extractor: Extractor, hint: str, turns: Sequence[ExtractionTurn]) -> Extraction:
    try:
        return extractor.extract(hint, turns)
    except Exception:  # an extractor bug must not lose the turn: the segment says INTERNAL_ERROR
        log.exception("extraction failed")
        return Extraction(failure_code="INTERNAL_ERROR")


def _body(definition: Mapping[str, Any], extraction: Extraction, voice: bool) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ExtractionDefinitionId": definition["ExtractionDefinitionId"],
        "ExtractionDefinitionName": definition["Name"],
    }
    label = (definition.get("Display") or {}).get("Label")
    if label:
        body["ExtractionDefinitionDisplayLabel"] = label
    if extraction.failure_code:
        body["FailureCode"] = extraction.failure_code
        return body
    values = []
    for value in extraction.values:
        turn = value.turn
        if voice:
            points: list[dict[str, Any]] = (
                [{"BeginOffsetMillis": turn.begin_ms, "EndOffsetMillis": turn.end_ms}]
                if turn.begin_ms is not None and turn.end_ms is not None else []
            )
        else:
            points = [{"Id": turn.id, "CharacterOffsets": {"BeginOffsetChar": value.begin, "EndOffsetChar": value.end}}]
        values.append({"Content": value.content, "PointsOfInterest": points})
    if not values:
        behavior = (definition["ExtractionConfiguration"].get("NotFoundBehavior") or {})
        if behavior.get("Behavior") == "USE_DEFAULT_VALUE" and behavior.get("DefaultValue"):
            values.append({"Content": behavior["DefaultValue"], "PointsOfInterest": []})
    body["ExtractedValues"] = values
    return body


def extraction_segments(
    contact: Contact,
    definitions: Sequence[Mapping[str, Any]],
    raw_turns: Sequence[ExtractionTurn] | None,
    redacted_turns: Sequence[ExtractionTurn] | None,
    extractor: Extractor,
    *,
    local: bool = True,
) -> list[SegmentRow]:
    """One ``ExtractedInformation`` segment per definition (``local``: the extractor keeps text in-process)."""
    voice = contact.channel == "VOICE"
    rows: list[SegmentRow] = []
    for definition in definitions:
        hint = definition["ExtractionConfiguration"]["PromptHint"]
        redacted = _run(extractor, hint, redacted_turns) if contact.redacts and redacted_turns is not None else None
        raw = None
        if contact.keeps_original and raw_turns is not None:
            # A remote extractor never sees a redacting contact's original text.
            raw = _run(extractor, hint, raw_turns) if (local or not contact.redacts) else redacted
        rows.append((
            "ExtractedInformation",
            _body(definition, raw, voice) if raw is not None else None,
            _body(definition, redacted, voice) if redacted is not None else None,
        ))
    return rows


def turns_from_segments(bodies: Sequence[Mapping[str, Any]]) -> list[ExtractionTurn]:
    """Stored ``Transcript`` segment bodies (V1 or V2) as extraction turns."""
    return [
        ExtractionTurn(
            str(b["Id"]), str(b.get("ParticipantRole", "")), str(b.get("Content", "")),
            b.get("BeginOffsetMillis"), b.get("EndOffsetMillis"),
        )
        for b in bodies
    ]
