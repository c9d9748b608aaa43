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
from dataclasses import dataclass
from typing import Any

from livelens.analysis._loading import load_once
from livelens.analysis._offline import ensure_offline
from livelens.analysis.context import TurnContext
from livelens.analysis.conversation import answer_spans, requested_types
from livelens.analysis.nlp import SPACY_MODEL, analyse, load_spacy
from livelens.analysis.registry import ComponentFn, batched, component
from livelens.analysis.spoken import Normalized, normalize
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


@dataclass(frozen=True)
class Prepared:
    """A text with its spoken forms rewritten and presidio's view of spaCy's analysis of it."""

    norm: Normalized
    artifacts: Any


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

        from livelens.analysis.pii_address import PostalAddressRecognizer
        from livelens.analysis.pii_names import LabelledFieldRecognizer, ProperNameRecognizer
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
            _gated(CreditCardRecognizer()),
            _gated(EmailRecognizer()),
            IpRecognizer(),
            _gated(IbanRecognizer()),
            _gated(PhoneRecognizer(supported_regions=("US", "GB", "CA", "DE", "FR", "IN", "AU", "IE"))),
            _gated(UsSsnRecognizer()),
            _gated(AbaRoutingRecognizer()),
            SpacyRecognizer(supported_entities=["PERSON", "LOCATION"]),
            ContextRecognizer(),
            StreetRecognizer(),
            LoosePhoneRecognizer(),
            CardRecognizer(),
            NameIntroRecognizer(),
            ProperNameRecognizer(),
            LabelledFieldRecognizer(),
            PostalAddressRecognizer(),
        ):
            registry.add_recognizer(recognizer)
        self._analyzer = AnalyzerEngine(nlp_engine=nlp_engine, registry=_remembering(registry),
                                        supported_languages=["en"])
        self._supported = frozenset(self._analyzer.get_supported_entities(language="en"))

    def _presidio_entities(self, wanted: frozenset[str]) -> list[str]:
        """The recogniser entity names (presidio's or ours) that can yield a ``wanted`` type.

        Recognisers of other types do not run: a policy that redacts only card numbers pays for no
        name or address search. Their findings could not change the wanted ones: presidio merges
        results of the same type only, and :meth:`detect` drops unwanted types before resolving overlaps.
        """
        names = {e for e in self._supported if PRESIDIO_TYPES.get(e, e) in wanted}
        if "ADDRESS" in wanted:
            names.add("LOCATION")  # places extend street addresses
        return sorted(names)

    def prepare(self, texts: Sequence[str], entities: Iterable[str] = ENTITY_TYPES) -> list[Prepared]:
        """Spoken forms rewritten and spaCy's analysis (:func:`~livelens.analysis.nlp.analyse`) of several
        texts at once, for :meth:`detect` of the same ``entities``."""
        normalized = [normalize(_unescape_line_breaks(text)) for text in texts]
        engine = self._analyzer.nlp_engine
        names = bool({"NAME", "ADDRESS"} & set(entities))
        docs = analyse([norm.text for norm in normalized], names=names)
        # presidio's own conversion of a Doc (entities mapped and filtered, lemmas), as process_batch does.
        convert = engine._doc_to_nlp_artifact  # type: ignore[attr-defined]
        return [Prepared(norm, convert(doc, "en")) for norm, doc in zip(normalized, docs, strict=True)]

    def detect(
        self,
        text: str,
        entities: Iterable[str] = ENTITY_TYPES,
        threshold: float = 0.4,
        prepared: Prepared | None = None,
        *,
        prompt: str | None = None,
    ) -> list[PiiSpan]:
        """Non-overlapping PII spans of ``text``, in order, limited to ``entities``.

        ``prepared``: this text's entry of :meth:`prepare` (for the same ``entities``), computed with others.
        ``prompt`` is the preceding turn of another participant: when it asks
        for a name, number, address or e-mail, the value given in ``text`` is
        PII even if nothing else would say so (``conversation.py``).
        """
        wanted = set(entities)
        if not text.strip() or not wanted:
            return []
        if prepared is None:
            prepared = self.prepare([text], wanted)[0]
        norm = prepared.norm
        raw = self._analyzer.analyze(
            norm.text, language="en", entities=self._presidio_entities(frozenset(wanted)),
            nlp_artifacts=prepared.artifacts,
        )
        found: list[PiiSpan] = []
        for answer in answer_spans(norm.text, requested_types(prompt)):
            if answer.entity_type in wanted:
                begin, end = _trim(text, *norm.to_original(answer.begin, answer.end))
                if end > begin:
                    found.append(PiiSpan(begin, end, answer.entity_type, 0.75))
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
            if entity == "NAME" and begin > 0 and text[begin - 1] in "#@":
                continue  # hashtags and handles are not names
            if entity == "NAME" and "\n" in norm.text[r.start : r.end]:
                end = begin + (norm.text.index("\n", r.start) - r.start)  # a name ends with its line
            begin, end = _trim(text, begin, end)
            if end > begin:
                found.append(PiiSpan(begin, end, entity, round(float(r.score), 3)))
        spans = _resolve_overlaps(found)
        if "ADDRESS" in wanted:
            spans = _extend_addresses(text, spans, locations)
        return spans


def _unescape_line_breaks(text: str) -> str:
    """Escaped line breaks (a literal backslash-n, common in exported chat logs) read as line breaks.

    " \n" has the same length as "\\n", so offsets are unchanged.
    """
    return text.replace("\\n", " \n")


#: What a text must hold before each gated presidio recogniser can find anything in it: the fewest digits
#: a match has (from its patterns' ``\\d`` and ``[0-9]``; phone numbers: ``phonenumbers`` knows none
#: shorter than six digits), and a character every match has. ``tests/analysis/test_redaction_shortcuts.py``
#: checks them against strings generated from the patterns.
GATES: dict[str, tuple[int, str]] = {
    "CreditCardRecognizer": (13, ""),
    "EmailRecognizer": (0, "@"),
    "IbanRecognizer": (2, ""),
    "PhoneRecognizer": (6, ""),
    "UsSsnRecognizer": (9, ""),
    "AbaRoutingRecognizer": (9, ""),
}


def _gated(recognizer: Any) -> Any:
    """Skip ``recognizer`` on a text that cannot hold a match (:data:`GATES`).

    Every turn runs every recogniser, and most turns hold no number and no e-mail address: presidio's
    phone recogniser alone runs ``phonenumbers``' matcher once per region (eight passes). The gate is
    exact: ``str.isdigit`` holds for every character ``\\d`` matches, so a text it turns away has no match.
    """
    digits, needs = GATES[type(recognizer).__name__]
    analyze = recognizer.analyze

    def gated(text: str, entities: list[str], nlp_artifacts: Any = None) -> list[Any]:
        if (needs and needs not in text) or (digits and sum(map(str.isdigit, text)) < digits):
            return []
        return list(analyze(text, entities, nlp_artifacts))

    recognizer.analyze = gated
    return recognizer


def _remembering(registry: Any) -> Any:
    """``registry`` (complete: nothing is added to it later) answering each request for the recognisers
    of a language and entity types from memory after the first: presidio filters its whole list on every
    ``analyze`` call, for the same few requests."""
    choose = registry.get_recognizers
    chosen: dict[tuple[str, tuple[str, ...], bool], list[Any]] = {}

    def get_recognizers(language: str, entities: list[str] | None = None, all_fields: bool = False,
                        ad_hoc_recognizers: list[Any] | None = None) -> list[Any]:
        if ad_hoc_recognizers:
            return list(choose(language, entities, all_fields, ad_hoc_recognizers))
        key = (language, tuple(entities or ()), all_fields)
        if key not in chosen:
            chosen[key] = list(choose(language, entities, all_fields, None))
        return list(chosen[key])

    registry.get_recognizers = get_recognizers
    return registry


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

    def __call__(self, turn: Turn, prepared: Prepared | None = None) -> Redaction:
        spans = self._detector.detect(turn.content, self.entities, self.threshold, prepared, prompt=turn.preceding)
        return apply_redaction(turn.content, spans, self.mask)

    def many(self, turns: Sequence[Turn]) -> list[Redaction]:
        """:meth:`__call__` over several turns, spaCy running over all of them at once."""
        batch = self._detector.prepare([turn.content for turn in turns], self.entities)
        return [self(turn, prepared) for turn, prepared in zip(turns, batch, strict=True)]


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
