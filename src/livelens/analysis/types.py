"""The values that flow through the analysis pipeline.

The pipeline sees only these: it knows nothing of HTTP, SQL or the wire
format. The domain (``livelens.contacts``) builds a :class:`Turn` from every
stored transcript item, runs the pipeline over it and turns the
:class:`TurnAnalysis` into segments of the contact's log.

Character offsets are Python string indices into ``Turn.content``, half-open
(``content[begin:end]``), exactly as Contact Lens' ``BeginOffsetChar`` /
``EndOffsetChar`` are read by clients.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Channel = Literal["VOICE", "CHAT"]
Sentiment = Literal["POSITIVE", "NEUTRAL", "NEGATIVE"]
SummaryStatus = Literal["COMPLETED", "FAILED"]
SummaryFailureCode = Literal[
    "QUOTA_EXCEEDED",
    "INSUFFICIENT_CONVERSATION_CONTENT",
    "FAILED_SAFETY_GUIDELINES",
    "INVALID_ANALYSIS_CONFIGURATION",
    "INTERNAL_ERROR",
]


@dataclass(frozen=True)
class Turn:
    """One transcript turn: a chat message or a voice utterance."""

    id: str
    contact_id: str
    channel: Channel
    participant_id: str
    participant_role: str  # AGENT, CUSTOMER, SUPERVISOR, CUSTOM_BOT, SYSTEM
    content: str
    language: str = "en-US"
    begin_offset_millis: int | None = None  # voice only
    end_offset_millis: int | None = None  # voice only
    absolute_time: datetime | None = None  # chat only
    attributes: Mapping[str, str] = field(default_factory=dict)
    #: The latest earlier turn by another participant (its redacted text if only that is stored).
    #: Redaction reads it as the question this turn may answer ("may I have your name?").
    preceding: str | None = None


@dataclass(frozen=True)
class CharSpan:
    begin: int
    end: int


@dataclass(frozen=True)
class PiiSpan:
    """A piece of personal data found in a turn (offsets into the original text)."""

    begin: int
    end: int
    entity_type: str  # e.g. EMAIL, PHONE, CREDIT_DEBIT_NUMBER, NAME, ADDRESS
    score: float = 1.0


@dataclass(frozen=True)
class Redaction:
    """A turn's redacted form.

    ``original_spans`` are where the PII stands in the original text;
    ``redacted_spans`` are where the placeholders stand in ``content``.
    Both lists are in the same order and of the same length.
    """

    content: str
    entities: tuple[PiiSpan, ...]
    original_spans: tuple[CharSpan, ...]
    redacted_spans: tuple[CharSpan, ...]

    def to_redacted(self, position: int, *, end: bool) -> int:
        """Map a character offset in the original text to the redacted text.

        A position inside a redacted span snaps to the placeholder's start (for
        a span's beginning, ``end=False``) or end (``end=True``), so a mapped
        span always covers whole placeholders.
        """
        shift = 0
        for original, placeholder in zip(self.original_spans, self.redacted_spans, strict=True):
            if position <= original.begin:
                break
            if position < original.end:
                return placeholder.end if end else placeholder.begin
            shift = placeholder.end - original.end
        return position + shift


@dataclass(frozen=True)
class Issue:
    """The span of a customer turn that states why the customer is contacting."""

    begin: int
    end: int
    text: str


@dataclass
class TurnAnalysis:
    """What the pipeline found in one turn. Absent findings stay ``None``/empty."""

    sentiment: Sentiment | None = None
    issues: list[Issue] = field(default_factory=list)
    redaction: Redaction | None = None
    extras: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class AnalysedTurn:
    turn: Turn
    analysis: TurnAnalysis


@dataclass(frozen=True)
class Summary:
    status: SummaryStatus
    content: str | None = None
    failure_code: SummaryFailureCode | None = None
