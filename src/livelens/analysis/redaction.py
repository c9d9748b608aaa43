"""PII redaction with Contact Lens entity types and exact offsets.

Detection is presidio's analyzer (checksummed cards, e-mail, IP, IBAN, phone
numbers via ``phonenumbers``, SSN, ABA routing, spaCy PERSON) plus
livelens' own recognisers (``pii_patterns.py``: context-bound numbers such as
PIN, CVV, expiry, account, passport and licence numbers, dates of birth,
street addresses with pyap2, names the speaker introduces). Everything runs
on the turn after spoken forms are rewritten (``spoken.py``), and every span
is mapped back to the original characters.

The presidio engine is built by hand rather than from its default config:
its default wants ``en_core_web_lg`` and would try to download it, and its
full recogniser set includes country-specific ones (UK NHS numbers match US
phone numbers at score 1.0).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from livelens.analysis._loading import load_once
from livelens.analysis._offline import ensure_offline
from livelens.analysis.context import TurnContext
from livelens.analysis.nlp import SPACY_MODEL, load_spacy
from livelens.analysis.registry import ComponentFn, batched, component
from livelens.analysis.spoken import normalize
from livelens.analysis.types import CharSpan, PiiSpan, Redaction, Turn

#: Every entity type livelens can redact (Contact Lens / Comprehend names).
ENTITY_TYPES: tuple[str, ...] = (
    "NAME",
    "ADDRESS",
    "PHONE",
    "EMAIL",
    "CREDIT_DEBIT_NUMBER",
    "CREDIT_DEBIT_CVV",
    "CREDIT_DEBIT_EXPIRY",
    "BANK_ACCOUNT_NUMBER",
    "BANK_ROUTING",
    "SSN",
    "PIN",
    "DATE_OF_BIRTH",
    "PASSPORT_NUMBER",
    "DRIVER_ID",
    "IP_ADDRESS",
)
MASKS = ("PII", "ENTITY_TYPE")

# presidio's names -> ours. LOCATION is only used to extend street addresses.
PRESIDIO_TYPES = {
    "CREDIT_CARD": "CREDIT_DEBIT_NUMBER",
    "EMAIL_ADDRESS": "EMAIL",
    "IP_ADDRESS": "IP_ADDRESS",
    "IBAN_CODE": "BANK_ACCOUNT_NUMBER",
    "PHONE_NUMBER": "PHONE",
    "US_SSN": "SSN",
    "ABA_ROUTING_NUMBER": "BANK_ROUTING",
    "PERSON": "NAME",
    "LOCATION": "LOCATION",
}
# When two findings overlap, the more specific type wins over a higher score:
# a 16-digit Luhn-valid number after "card" is a card, not a phone number.
_PRIORITY = {
    "CREDIT_DEBIT_NUMBER": 10,
    "EMAIL": 10,
    "IP_ADDRESS": 9,
    "CREDIT_DEBIT_CVV": 9,
    "CREDIT_DEBIT_EXPIRY": 9,
    "PIN": 9,
    "SSN": 9,
    "BANK_ROUTING": 9,
    "DATE_OF_BIRTH": 8,
    "PASSPORT_NUMBER": 8,
    "DRIVER_ID": 8,
    "BANK_ACCOUNT_NUMBER": 7,
    "ADDRESS": 6,
    "PHONE": 5,
    "NAME": 4,
}


class PiiDetector:
    """Finds PII spans in a text; thread-safe after construction."""

    def __init__(self) -> None:
        ensure_offline()
        from presidio_analyzer import AnalyzerEngine, RecognizerRegistry
        from presidio_analyzer.nlp_engine import NerModelConfiguration, SpacyNlpEngine
        from presidio_analyzer.predefined_recognizers import (
            AbaRoutingRecognizer,
            CreditCardRecognizer,
            EmailRecognizer,
            IbanRecognizer,
            IpRecognizer,
            PhoneRecognizer,
            SpacyRecognizer,
            UsSsnRecognizer,
        )

        from livelens.analysis.pii_patterns import (
            CardRecognizer,
            ContextRecognizer,
            LoosePhoneRecognizer,
            NameIntroRecognizer,
            StreetRecognizer,
        )

        ner_config = NerModelConfiguration(
            model_to_presidio_entity_mapping={
                "PERSON": "PERSON",
                "PER": "PERSON",
                "GPE": "LOCATION",
                "LOC": "LOCATION",
                "FAC": "LOCATION",
            },
            labels_to_ignore=[
                "ORG",
                "ORGANIZATION",
                "NORP",
                "DATE",
                "TIME",
                "CARDINAL",
                "MONEY",
                "PERCENT",
                "QUANTITY",
                "ORDINAL",
                "PRODUCT",
                "EVENT",
                "LAW",
                "LANGUAGE",
                "WORK_OF_ART",
            ],
        )
        nlp_engine = SpacyNlpEngine(
            models=[{"lang_code": "en", "model_name": SPACY_MODEL}], ner_model_configuration=ner_config
        )
        # Hand presidio the pipeline we already loaded instead of calling
        # nlp_engine.load(), which would load a second copy (and would try to
        # download the model if it were missing).
        nlp_engine.nlp = {"en": load_spacy()}  # type: ignore[assignment]
        registry = RecognizerRegistry(supported_languages=["en"])
        for recognizer in (
            CreditCardRecognizer(),
            EmailRecognizer(),
            IpRecognizer(),
            IbanRecognizer(),
            PhoneRecognizer(supported_regions=("US", "GB", "CA", "DE", "FR", "IN", "AU", "IE")),
            UsSsnRecognizer(),
            AbaRoutingRecognizer(),
            SpacyRecognizer(supported_entities=["PERSON", "LOCATION"]),
            ContextRecognizer(),
            StreetRecognizer(),
            LoosePhoneRecognizer(),
            CardRecognizer(),
            NameIntroRecognizer(),
        ):
            registry.add_recognizer(recognizer)
        self._analyzer = AnalyzerEngine(nlp_engine=nlp_engine, registry=registry, supported_languages=["en"])
        self._requested = sorted(self._analyzer.get_supported_entities(language="en"))

    def nlp_batch(self, texts: Sequence[str]) -> list[Any]:
        """spaCy's analysis of several texts in one ``nlp.pipe`` (presidio's batch path), for :meth:`detect`."""
        normalized = [normalize(text).text for text in texts]
        engine = self._analyzer.nlp_engine
        return [artifacts for _, artifacts in engine.process_batch(normalized, "en", batch_size=max(1, len(texts)))]

    def detect(self, text: str, entities: Iterable[str] = ENTITY_TYPES, threshold: float = 0.4,
               nlp_artifacts: Any = None) -> list[PiiSpan]:
        """Non-overlapping PII spans of ``text``, in order, limited to ``entities``
        (``nlp_artifacts``: this text's entry of :meth:`nlp_batch`, computed with others)."""
        wanted = set(entities)
        if not text.strip() or not wanted:
            return []
        norm = normalize(text)
        raw = self._analyzer.analyze(norm.text, language="en", entities=self._requested, nlp_artifacts=nlp_artifacts)
        found: list[PiiSpan] = []
        locations: list[tuple[int, int]] = []
        for r in raw:
            entity = PRESIDIO_TYPES.get(r.entity_type, r.entity_type)
            if r.end <= r.start:
                continue
            begin, end = norm.to_original(r.start, r.end)
            if entity == "LOCATION":
                locations.append((begin, end))
                continue
            if r.score < threshold or entity not in wanted:
                continue
            begin, end = _trim(text, begin, end)
            if end > begin:
                found.append(PiiSpan(begin, end, entity, round(float(r.score), 3)))
        spans = _resolve_overlaps(found)
        if "ADDRESS" in wanted:
            spans = _extend_addresses(text, spans, locations)
        return spans


def _trim(text: str, begin: int, end: int) -> tuple[int, int]:
    while begin < end and (text[begin].isspace() or text[begin] in ",;:"):
        begin += 1
    while end > begin and (text[end - 1].isspace() or text[end - 1] in ",;:"):
        end -= 1
    return begin, end


def _resolve_overlaps(spans: Sequence[PiiSpan]) -> list[PiiSpan]:
    """Keep the most specific, then highest-scoring, then longest of overlapping spans."""
    ranked = sorted(spans, key=lambda s: (-_PRIORITY.get(s.entity_type, 0), -s.score, -(s.end - s.begin), s.begin))
    kept: list[PiiSpan] = []
    for span in ranked:
        overlapping = [k for k in kept if span.begin < k.end and k.begin < span.end]
        if not overlapping:
            kept.append(span)
            continue
        # Same type: merge into one span (e.g. a street and its pyap2 full address).
        if all(k.entity_type == span.entity_type for k in overlapping):
            for k in overlapping:
                kept.remove(k)
            begin = min([span.begin, *(k.begin for k in overlapping)])
            end = max([span.end, *(k.end for k in overlapping)])
            kept.append(PiiSpan(begin, end, span.entity_type, max([span.score, *(k.score for k in overlapping)])))
    return sorted(kept, key=lambda s: s.begin)


def _extend_addresses(text: str, spans: list[PiiSpan], locations: list[tuple[int, int]]) -> list[PiiSpan]:
    """Grow a street address over the city/state/country that directly follows it."""
    if not locations:
        return spans
    out = []
    for span in spans:
        if span.entity_type == "ADDRESS":
            end = span.end
            changed = True
            while changed:
                changed = False
                for begin_loc, end_loc in locations:
                    gap = text[end:begin_loc]
                    if begin_loc >= end and len(gap) <= 3 and all(c in " ,\n" for c in gap) and end_loc > end:
                        end = end_loc
                        changed = True
            nxt = [s.begin for s in spans if s.begin >= span.end]
            if nxt:
                end = min(end, min(nxt))
            span = PiiSpan(span.begin, end, span.entity_type, span.score)
        out.append(span)
    return out


@load_once
def load_detector() -> PiiDetector:
    """The process-wide PII detector (loads spaCy and presidio, ~1 s)."""
    return PiiDetector()


def apply_redaction(text: str, spans: Sequence[PiiSpan], mask: str = "PII") -> Redaction:
    """Replace each span by ``[PII]`` or ``[ENTITY_TYPE]`` and record both offsets."""
    if mask not in MASKS:
        raise ValueError(f"mask must be one of {', '.join(MASKS)}, got {mask!r}")
    pieces: list[str] = []
    original: list[CharSpan] = []
    redacted: list[CharSpan] = []
    pos = 0
    length = 0
    for span in sorted(spans, key=lambda s: s.begin):
        if span.begin < pos:
            raise ValueError("PII spans overlap")
        pieces.append(text[pos : span.begin])
        length += span.begin - pos
        placeholder = "[PII]" if mask == "PII" else f"[{span.entity_type}]"
        pieces.append(placeholder)
        original.append(CharSpan(span.begin, span.end))
        redacted.append(CharSpan(length, length + len(placeholder)))
        length += len(placeholder)
        pos = span.end
    pieces.append(text[pos:])
    ordered = tuple(sorted(spans, key=lambda s: s.begin))
    return Redaction("".join(pieces), ordered, tuple(original), tuple(redacted))


def _validate(cfg: Mapping[str, Any]) -> None:
    if cfg["mask"] not in MASKS:
        raise ValueError(f"redaction.mask must be one of {', '.join(MASKS)}, got {cfg['mask']!r}")
    entities = cfg["entities"]
    if isinstance(entities, str) or not isinstance(entities, (list, tuple, set, frozenset)):
        raise ValueError("redaction.entities must be a list of entity types")
    unknown = sorted(set(entities) - set(ENTITY_TYPES))
    if unknown:
        raise ValueError(
            f"redaction.entities has unknown entity type(s) {', '.join(unknown)} (known: {', '.join(ENTITY_TYPES)})"
        )
    threshold = cfg["score_threshold"]
    if not isinstance(threshold, (int, float)) or not 0 <= threshold <= 1:
        raise ValueError("redaction.score_threshold must be a number in [0, 1]")


class Redactor:
    """Redacts a turn according to a merged ``redaction`` config."""

    def __init__(self, cfg: Mapping[str, Any]) -> None:
        self.mask = str(cfg["mask"])
        self.entities = tuple(cfg["entities"])
        self.threshold = float(cfg["score_threshold"])
        self._detector = load_detector()

    def __call__(self, turn: Turn, nlp_artifacts: Any = None) -> Redaction:
        spans = self._detector.detect(turn.content, self.entities, self.threshold, nlp_artifacts)
        return apply_redaction(turn.content, spans, self.mask)

    def many(self, turns: Sequence[Turn]) -> list[Redaction]:
        """:meth:`__call__` over several turns, spaCy running over all of them at once."""
        batch = self._detector.nlp_batch([turn.content for turn in turns])
        return [self(turn, artifacts) for turn, artifacts in zip(turns, batch, strict=True)]


@component(
    "redaction",
    default_config={"mask": "PII", "entities": list(ENTITY_TYPES), "score_threshold": 0.4},
    assigns=("redaction",),
    validate=_validate,
)
def make_redaction(cfg: Mapping[str, Any]) -> ComponentFn:
    """Find PII and build the turn's redacted form."""
    redactor = Redactor(cfg)

    def redaction(ctx: TurnContext) -> None:
        if ctx.analysis.redaction is None:
            ctx.analysis.redaction = redactor(ctx.turn)

    def pipe(contexts: Sequence[TurnContext]) -> None:
        todo = [ctx for ctx in contexts if ctx.analysis.redaction is None]
        for ctx, found in zip(todo, redactor.many([ctx.turn for ctx in todo]) if todo else [], strict=True):
            ctx.analysis.redaction = found

    return batched(redaction, pipe)
