"""Per-turn analysis (PII redaction, sentiment, issues) and post-contact summaries.

Pure Python: no HTTP, no SQL. The server builds one :class:`Pipeline` with
:func:`load_pipeline` and calls :meth:`Pipeline.analyze` per turn,
:meth:`Pipeline.redact` on the request path for redacted-only contacts and
:meth:`Pipeline.summarize` when a contact ends.
"""

from livelens.analysis.pipeline import DEFAULT_COMPONENTS, Pipeline, load_pipeline, supported_languages
from livelens.analysis.redaction import ENTITY_TYPES
from livelens.analysis.sentiment import TrendPoint, sentiment_trend
from livelens.analysis.types import (
    AnalysedTurn,
    CharSpan,
    Issue,
    PiiSpan,
    Redaction,
    Summary,
    Turn,
    TurnAnalysis,
)

__all__ = [
    "DEFAULT_COMPONENTS",
    "ENTITY_TYPES",
    "AnalysedTurn",
    "CharSpan",
    "Issue",
    "PiiSpan",
    "Pipeline",
    "Redaction",
    "Summary",
    "TrendPoint",
    "Turn",
    "TurnAnalysis",
    "load_pipeline",
    "sentiment_trend",
    "supported_languages",
]
