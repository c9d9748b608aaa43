"""Information extraction: the value an extraction definition's ``PromptHint`` asks for, found in a conversation.

Two extractors behind one interface (:class:`Extractor`):

:class:`OfflineExtractor` (default, no network)
    1. *What kind of value?* The hint is mapped to a :data:`KINDS` entry (an
       identifier, an e-mail, a phone number, a date, a time, an amount, a
       count, an address, a place, a person, a title, a category, a reason, free
       text) by keyword rules, else by MiniLM similarity to each kind's
       description.
    2. *Typed candidates* in the customer's turns: patterns (e-mail, phone,
       identifiers, dates, times, amounts, counts, street addresses), spaCy's
       named entities (places, people, dates, titles) and capitalised phrases.
    3. *Ranking*: the turns are ranked by MiniLM similarity between the hint and
       the turn that gave the value or the agent turn that asked for it, plus
       recency (a value said again later replaces the earlier one); inside a turn,
       cue words of the hint ("from"/"to", "return", "drop-off") pick among
       several candidates of the kind.
:class:`LlmExtractor`
    Any OpenAI-compatible ``/chat/completions`` endpoint (the summary's). It is
    given only the text the caller passes: for a redacting contact the caller
    passes the redacted turns, so no original PII leaves the process. The answer
    is located in the turns to obtain points of interest; an answer that is not
    in the conversation counts as not found.

Both return an :class:`Extraction`: the values (with the turn and character
span that holds each) or a ``failure_code`` from the model's
``ExtractedInformationFailureCode`` enum.
"""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from livelens.analysis.llm import ChatCompletions

CUSTOMER = "CUSTOMER"
MAX_CONTENT = 1024


@dataclass(frozen=True)
class ExtractionTurn:
    id: str
    role: str
    text: str
    begin_ms: int | None = None
    end_ms: int | None = None


@dataclass(frozen=True)
class ExtractedValue:
    content: str
    turn: ExtractionTurn
    begin: int
    end: int


@dataclass(frozen=True)
class Extraction:
    values: tuple[ExtractedValue, ...] = ()
    failure_code: str | None = None


class Extractor(Protocol):
    def extract(self, hint: str, turns: Sequence[ExtractionTurn]) -> Extraction: ...


Embed = Callable[[Sequence[str]], np.ndarray]

# --- kinds of values -------------------------------------------------------------

KINDS: dict[str, str] = {
    "email": "an e-mail address",
    "phone": "a telephone number",
    "identifier": "an identifier such as an order, account, booking, ticket or reference number",
    "date": "a calendar date or day",
    "time": "a time of day",
    "amount": "an amount of money",
    "count": "a number or count of things, a duration or a quantity",
    "address": "a street address",
    "place": "a city, town, area or location",
    "person": "the name of a person",
    "title": "the name of a business, product, film, song, album or event",
    "category": "a category, genre, type or kind",
    "reason": "the reason for the contact or the problem",
    "text": "free text",
}

_KIND_RULES: tuple[tuple[str, str], ...] = (
    ("email", r"\be-?mail"),
    ("person", r"\b(?:actor|actress|director|recipient|artist|singer|person|customer'?s name|caller|who|"
               r"first name|last name|full name|agent name|payee|cast)\b"),
    ("phone", r"\b(?:phone|telephone|mobile|cell)\b|\bcontact number"),
    ("amount", r"\b(?:amount|money|price|cost|balance|fee|payment|dollars?|refund amount|how much)\b"),
    ("count", r"\b(?:number of|length of|how many|count|quantity|duration|days in)\b"),
    ("identifier", r"\b(?:id|identifier|code|reference|order number|account number|ticket|confirmation|tracking|"
                   r"booking number|policy number|case number|serial|invoice)\b"),
    ("time", r"\btime\b|\bhour\b|\bo'clock\b"),
    ("date", r"\bdate\b|\bday\b|\bwhen\b|\bbirthday\b"),
    ("address", r"\baddress\b|\bstreet\b|\bdestination for taxi\b|\bdestination\b(?!.*city)"),
    ("place", r"\b(?:city|town|location|area|where|country|state|region|place|located|destination|from|"
              r"airport)\b"),
    ("category", r"\b(?:genre|category|subcategory|type|kind|cuisine|sort)\b"),
    ("title", r"\b(?:name|title|album|movie|film|song|restaurant|hotel|event|product|brand|model|plan|item)\b"),
    ("reason", r"\b(?:reason|why|issue|problem|complaint|purpose|cause)\b"),
)


def value_kind(hint: str, embed: Embed | None = None) -> str:
    """The kind of value ``hint`` asks for (rules first, MiniLM for hints the rules do not cover)."""
    lowered = hint.lower()
    for kind, pattern in _KIND_RULES:
        if re.search(pattern, lowered):
            return kind
    if embed is None:
        return "text"
    names = list(KINDS)
    vectors = embed([hint, *(KINDS[n] for n in names)])
    scores = vectors[1:] @ vectors[0]
    best = int(np.argmax(scores))
    return names[best] if float(scores[best]) >= 0.3 else "text"


# --- candidates --------------------------------------------------------------------

_NUM = r"(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
_MONTH = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
          r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")
_OCLOCK = r"o['\"’]?\s?clock"
_WEEKDAY = r"(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
_ORD = r"(?:\d{1,2}(?:st|nd|rd|th)|first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth)"
_PATTERNS: dict[str, re.Pattern[str]] = {
    "email": re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b"),
    "phone": re.compile(r"(?<!\w)(?:\+?\d{1,3}[ .-]?)?(?:\(\d{3}\)|\d{3})[ .-]?\d{3}[ .-]?\d{4}(?!\w)"),
    "identifier": re.compile(r"\b(?=[A-Z0-9-]*\d)[A-Z0-9][A-Z0-9-]{3,}\b|\b\d{4,}\b", re.I),
    "date": re.compile(
        rf"\b(?:(?:this|next|last|coming)\s+{_WEEKDAY}|{_WEEKDAY}(?:\s+(?:next|this)\s+week)?|"
        rf"(?:the\s+)?day\s+after\s+tomorrow|today|tomorrow|tonight|"
        rf"{_MONTH}\.?\s+{_ORD}(?:,?\s+\d{{4}})?|{_MONTH}\.?\s+\d{{1,2}}\b(?:,?\s+\d{{4}})?|"
        rf"(?:the\s+)?{_ORD}\s+of\s+(?:this\s+month|next\s+month|{_MONTH})(?:,?\s+\d{{4}})?|"
        rf"the\s+{_ORD}|{_ORD}(?=\s*(?:\.|,|$|\?|!|\s+(?:and|for|please|at|in|to|from)\b))|"
        rf"\d{{1,2}}/\d{{1,2}}(?:/\d{{2,4}})?|\d{{4}}-\d{{2}}-\d{{2}}|next\s+week|next\s+month)",
        re.I,
    ),
    "time": re.compile(
        rf"\b(?:(?:morning|afternoon|evening|night)\s+\d{{1,2}}(?::\d{{2}})?\b|"
        rf"(?:(?:half|quarter)\s+(?:past|to)\s+{_NUM}|\d{{1,2}}:\d{{2}}|{_NUM}(?=\s*(?:am|pm|a\.m\.|p\.m\.|{_OCLOCK})"
        rf"|\s+in\s+the\s+(?:morning|afternoon|evening)|\s+at\s+night)|noon|midnight)"
        rf"(?:\s*(?:am|pm|a\.m\.|p\.m\.|{_OCLOCK}))?(?:\s+in\s+the\s+(?:morning|afternoon|evening)|\s+at\s+night)?)",
        re.I,
    ),
    "amount": re.compile(
        r"(?:[$€£]\s?\d[\d,]*(?:\.\d+)?|\b\d[\d,]*(?:\.\d+)?\s*(?:dollars?|bucks|usd|euros?|pounds?)\b|"
        r"\b(?:(?:one|two|three|four|five|six|seven|eight|nine|ten|twenty|thirty|forty|fifty|sixty|seventy|eighty|"
        r"ninety|hundred|thousand|and|a)\s+)+(?:dollars?|bucks)\b)",
        re.I,
    ),
    "count": re.compile(
        r"\b(?:\d+|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|fourteen|fifteen|"
        r"twenty|thirty)\b",
        re.I,
    ),
    "address": re.compile(
        r"\b\d{1,6}\s+(?:[A-Z][\w'.-]*\s+){1,4}(?:street|st|road|rd|avenue|ave|boulevard|blvd|lane|ln|drive|dr|"
        r"way|court|ct|place|pl|parkway|pkwy|highway|hwy|terrace|circle)\b\.?(?:\s*(?:#|apt\.?|suite|unit)\s*\w+)?",
        re.I,
    ),
}
_PLACEHOLDER = re.compile(r"\[[A-Z_]{2,}\]")
_ENTITY_KINDS = {
    "place": ("GPE", "LOC", "FAC"),
    "person": ("PERSON",),
    "title": ("WORK_OF_ART", "ORG", "FAC", "PRODUCT", "EVENT", "PERSON"),
    "date": ("DATE",),
    "time": ("TIME",),
    "amount": ("MONEY",),
    "count": ("CARDINAL", "QUANTITY"),
}
_CAPITALISED = re.compile(r"\b[A-Z][\w'&-]*(?:[ \t]+(?:of|the|and|de|du|la|'n'|&|[A-Z][\w'&-]*))*")
_STOP_CAPS = frozenset(
    "I I'm I'd I'll I've Hi Hello Hey Yes No Yeah Yep Nope Okay Ok OK Please Thanks Thank Sure Great Can Could Would "
    "Will What When Where Which Who How Is Are Do Does Did That This The A An And But Also Actually Find Search Look "
    "Get Book Reserve Make Set Show Tell Let Give Help Want Need Like It Its It's My Me We Our You Your Perfect Cool "
    "Sounds Good Nice Awesome Alright Fine Well So Oh Not No That's Any Some Also Maybe Please Let's Check Buy Play "
    "Add Transfer Send Pay Rent Schedule Change Cancel Great Wonderful Excellent Absolutely Correct Right In From To "
    "At On For Around Near Try Ya Hey Sorry Now Then Just Only Maybe Perhaps Instead Or If Since Because Any "
    "January February March April May June July August September October November December Monday Tuesday "
    "Wednesday Thursday Friday Saturday Sunday Today Tomorrow Tonight This Title Wait".split()
)
_CONNECTORS = frozenset("of the and de du la 'n' &".split())
_CATEGORY_STOP = frozenset(
    "want like find search looking look need please some any a an the to for in on at of me i i'd i'm would could "
    "thing things something anything else other another fun activity activities result results options option "
    "sounds okay ok yes no sure thanks cheap costly expensive moderate priced price lot lots time day week "
    "people person names name love try cuisine section match matches concert concerts game games show shows "
    "interesting new more help kinds types genres categories style dish dishes meal meals "
    "can you do is are be get me my something maybe around near events event show shows movie movies film films "
    "music song songs restaurant restaurants food place places one also really good great nice kind type sort "
    "category genre and or with that this it what which there here".split()
)

_PLACE_STOP = (r"(?:on|for|to|from|and|please|the|this|next|tomorrow|today|at|in|with|by|around|i|we|leaving|going|"
               r"do|go|find|get|see|book|attend|visit|watch|eat|stay|make|be|have|buy|know|travel|fly|leave|reserve|"
               r"rent|check|look|search|a|an|my|me|it|there|here|change|pick|drop|some|any|one|two|three|four)")
_LOWER_PLACE = re.compile(
    rf"\b(?:from|to|in|around|near|out of)\s+((?:(?!{_PLACE_STOP}\b)[a-z][\w'.-]*)"
    rf"(?:\s+(?!{_PLACE_STOP}\b)[a-z][\w'.-]*)?"
    rf"(?:,\s*[a-z]{{2}}\b)?)"
)
#: (a hint's word, the words that introduce such a value in a turn)
_ROLE_CUES: tuple[tuple[str, str], ...] = (
    (r"\b(?:actor|actress|starring|cast)", r"\b(?:starring|stars|featuring|with|actor|actress)"),
    (r"\b(?:director|directed)", r"\b(?:directed by|director|by)"),
    (r"\b(?:recipient|to transfer|payee)", r"\b(?:to|for|pay)"),
    (r"\b(?:artist|singer|performed)", r"\b(?:by|from|artist)"),
    (r"\b(?:album)", r"\b(?:album|from)"),
    (r"\b(?:name|title)", r"\b(?:named|called|titled|title it|name it|at|rent|watch|see|play|listen to|is)"),
)
_LOWER_NAME = re.compile(
    r"\b(?:starring|stars|featuring|directed by|director|by|with|to)\s+((?!(?:a|an|the|me|my|you|it|be|do|find|see|"
    r"watch|get)\b)[a-z]+(?:\s+(?!(?:and|or|on|in|for|at|to|movie|movies|film|films|please)\b)[a-z]+)?)"
)
_FROM_CUES = r"\b(?:from|leaving|leave|depart|origin|originat|start|pick ?up|pickup)"
_TO_CUES = r"\b(?:going to|goes to|to go|heading to|destination|arriv|ends?\b|drop|bound)"
_LATER_CUES = r"\b(?:return|back|drop-?off|end|check ?out|until|leaving date of return)"


@dataclass(frozen=True)
class _Candidate:
    begin: int
    end: int
    text: str


def _trim_span(text: str, begin: int, end: int) -> tuple[int, int]:
    while begin < end and text[begin] in " ,.;:!?\"'()":
        begin += 1
    while end > begin and text[end - 1] in " ,.;:!?\"'()":
        end -= 1
    return begin, end


class OfflineExtractor:
    """Typed candidates from patterns, spaCy entities and capitalised phrases, ranked with MiniLM (see module)."""

    def __init__(self, nlp: Any | None = None, embed: Embed | None = None, recency: float = 1.0) -> None:
        self._nlp = nlp
        self._embed = embed
        self.recency = recency
        self._docs: dict[str, Any] = {}
        self._vectors: dict[str, np.ndarray] = {}

    # components, loaded lazily (tests may pass their own)
    def nlp(self, text: str) -> Any:
        if self._nlp is None:
            from livelens.analysis.nlp import load_spacy

            self._nlp = load_spacy()
        if text not in self._docs:
            if len(self._docs) > 50_000:
                self._docs.clear()
            self._docs[text] = self._nlp(text)
        return self._docs[text]

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        if self._embed is None:
            from livelens.analysis.embeddings import load_embedder

            self._embed = load_embedder().embed
        missing = [t for t in dict.fromkeys(texts) if t not in self._vectors]
        if missing:
            if len(self._vectors) > 50_000:
                self._vectors.clear()
            for text, vector in zip(missing, self._embed(missing), strict=True):
                self._vectors[text] = vector
        return np.stack([self._vectors[t] for t in texts])

    def kind(self, hint: str) -> str:
        return value_kind(hint, self.vectors_embed)

    def vectors_embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.vectors(texts)

    # candidates of a kind in one text
    def candidates(self, kind: str, text: str, hint_words: frozenset[str] = frozenset()) -> list[_Candidate]:
        spans: list[tuple[int, int]] = []
        if kind in _PATTERNS:
            spans += [m.span() for m in _PATTERNS[kind].finditer(text)]
        if kind in _ENTITY_KINDS and (not spans or kind in ("place", "person", "title")):
            labels = _ENTITY_KINDS[kind]
            spans += [(e.start_char, e.end_char) for e in self.nlp(text).ents if e.label_ in labels]
        if kind in ("place", "person", "title", "address") and (not spans or kind == "place"):
            spans += [m.span() for m in _CAPITALISED.finditer(text)]
        if kind in ("place", "person", "title", "address"):
            spans = [span for begin, end in spans if (span := self._capitalised(text, begin, end))]
        if kind in ("place", "person"):
            spans = [(b, e) for b, e in spans if not any(c.isdigit() for c in text[b:e])]
        if kind == "place" and not spans:
            spans += [m.span(1) for m in _LOWER_PLACE.finditer(text)]
        if kind == "person" and not spans:
            spans += [m.span(1) for m in _LOWER_NAME.finditer(text)]
        if kind in ("place", "address"):
            spans = [self._with_region(text, begin, end) for begin, end in spans]
        if kind == "address" and not spans:
            return self.candidates("place", text)
        if kind == "count" and not spans:
            spans += [m.span() for m in _PATTERNS["count"].finditer(text)]
        if kind == "category":
            spans += self._category_words(text, hint_words)
        if kind in ("email", "phone", "identifier", "address", "person") and not spans:
            spans += [m.span() for m in _PLACEHOLDER.finditer(text)]  # the value, as redaction hid it
        out: dict[tuple[int, int], _Candidate] = {}
        for begin, end in spans:
            begin, end = _trim_span(text, begin, end)
            if begin > 0 and text[begin - 1] == "[" and text[end : end + 1] == "]":
                begin, end = begin - 1, end + 1  # a redaction placeholder stays whole: "[PII]"
            if end - begin >= 1:
                out[(begin, end)] = _Candidate(begin, end, text[begin:end])
        # Keep the longest of overlapping spans.
        kept: list[_Candidate] = []
        for cand in sorted(out.values(), key=lambda c: (-(c.end - c.begin), c.begin)):
            if all(cand.end <= k.begin or cand.begin >= k.end for k in kept):
                kept.append(cand)
        return sorted(kept, key=lambda c: c.begin)

    @staticmethod
    def _capitalised(text: str, begin: int, end: int) -> tuple[int, int] | None:
        """The phrase without leading sentence words ("From SD" -> "SD"); ``None`` if nothing is left."""
        words = [(m.start(), m.end(), m.group().strip(",.")) for m in re.finditer(r"\S+", text[begin:end])]
        while words and (words[0][2] in _STOP_CAPS or words[0][2] in _CONNECTORS):
            words.pop(0)
        while words and (words[-1][2] in _STOP_CAPS or words[-1][2] in _CONNECTORS):
            words.pop()
        if not words:
            return None
        return begin + words[0][0], begin + words[-1][1]

    @staticmethod
    def _with_region(text: str, begin: int, end: int) -> tuple[int, int]:
        """"Phoenix" -> "Phoenix, AZ" / "London, England" when the region follows."""
        found = re.match(r",\s+(?:[A-Z]{2}\b|[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?)", text[end:])
        if found and found.group().split(",")[1].strip() not in _STOP_CAPS:
            return begin, end + found.end()
        return begin, end

    def _category_words(self, text: str, hint_words: frozenset[str]) -> list[tuple[int, int]]:
        """Adjectives and nouns (runs of them: "Asian Fusion", "Hip Hop") that are not the hint's own words,
        names of people or places, or generic words."""
        doc = self.nlp(text)
        named = {i for e in doc.ents if e.label_ in ("PERSON", "GPE", "LOC", "FAC", "DATE", "TIME") for i in
                 range(e.start, e.end)}
        spans: list[tuple[int, int]] = []
        run: list[Any] = []

        def close() -> None:
            if run:
                spans.append((run[0].idx, run[-1].idx + len(run[-1].text)))
                run.clear()

        for token in doc:
            word = token.text.lower()
            keep = (token.pos_ in ("ADJ", "NOUN", "PROPN") and token.i not in named and word not in _CATEGORY_STOP
                    and token.lemma_.lower() not in hint_words and word not in hint_words and word.isalpha())
            if keep:
                run.append(token)
            elif not (word == "and" and run and token.i + 1 < len(doc) and doc[token.i + 1].text[:1].isupper()):
                close()
            else:
                run.append(token)
        close()
        return spans

    # ranking
    def extract(self, hint: str, turns: Sequence[ExtractionTurn]) -> Extraction:
        customer = [t for t in turns if t.role == CUSTOMER and t.text.strip()]
        if not customer:
            return Extraction(failure_code="INSUFFICIENT_CONVERSATION_CONTENT")
        kind = self.kind(hint)
        if kind in ("reason", "text"):
            return self._sentence(hint, turns, customer)
        scored: list[tuple[float, int, _Candidate, ExtractionTurn]] = []
        positions = {t.id: i for i, t in enumerate(turns)}
        hint_vector = self.vectors([hint])[0]
        hint_words = frozenset(w for w in re.findall(r"[a-z]+", hint.lower()) if len(w) > 2) | frozenset(
            w + "s" for w in re.findall(r"[a-z]+", hint.lower()) if len(w) > 2
        )
        for turn in customer:
            found = self.candidates(kind, turn.text, hint_words)
            if not found:
                continue
            position = positions[turn.id]
            asked = next((t for t in reversed(turns[:position]) if t.role != CUSTOMER and t.text.strip()), None)
            context = [turn.text] + ([asked.text] if asked else [])
            similarity = float(np.max(self.vectors(context) @ hint_vector))
            recency = position / max(1, len(turns) - 1)
            chosen = self._within_turn(hint, kind, turn.text, found)
            scored.append((similarity + self.recency * recency, position, chosen, turn))
        if not scored:
            return Extraction()
        _, _, best, turn = max(scored, key=lambda s: (s[0], s[1]))
        return Extraction((ExtractedValue(best.text[:MAX_CONTENT], turn, best.begin, best.end),))

    def _within_turn(self, hint: str, kind: str, text: str, found: list[_Candidate]) -> _Candidate:
        if len(found) == 1:
            return found[0]
        lowered = hint.lower()
        if kind in ("place", "address"):
            wants_from = re.search(_FROM_CUES, lowered) is not None
            wants_to = re.search(_TO_CUES, lowered) is not None and not wants_from
            if wants_from or wants_to:
                from_cue, to_cue = r"\b(?:from|out of)", r"\b(?:to|into|for|destination(?: being| is)?|visit)"
                cue, other = (from_cue, to_cue) if wants_from else (to_cue, from_cue)
                befores = [text[max(0, c.begin - 30) : c.begin].lower() for c in found]
                for cand, before in zip(found, befores, strict=True):
                    if re.search(cue + r"\s*(?:the\s+|city\s+)?$", before):
                        return cand
                for cand, before in zip(found, befores, strict=True):
                    if not re.search(other + r"\s*(?:the\s+|city\s+)?$", before):
                        return cand
            for cand in found:
                before = text[max(0, cand.begin - 12) : cand.begin].lower()
                if re.search(r"\b(?:in|around|near|at|from|to|for)\s*(?:the\s+)?$", before):
                    return cand
        if kind in ("person", "title"):
            for hint_cue, context_cue in _ROLE_CUES:
                if re.search(hint_cue, lowered):
                    for cand in found:
                        before = text[max(0, cand.begin - 30) : cand.begin]
                        if re.search(context_cue + r"\s+(?:the\s+)?$", before, re.I):
                            return cand
        if kind in ("date", "time") and re.search(_LATER_CUES, lowered):
            return found[-1]
        if kind == "category":
            vectors = self.vectors([hint, *(c.text for c in found)])
            scores = vectors[1:] @ vectors[0]
            return found[int(np.argmax(scores))]
        return found[0]

    def _sentence(self, hint: str, turns: Sequence[ExtractionTurn], customer: list[ExtractionTurn]) -> Extraction:
        sentences: list[tuple[ExtractionTurn, int, int]] = []
        for turn in customer:
            for m in re.finditer(r"[^.!?]+[.!?]?", turn.text):
                begin, end = _trim_span(turn.text, *m.span())
                if end - begin >= 3:
                    sentences.append((turn, begin, end))
        if not sentences:
            return Extraction()
        vectors = self.vectors([hint, *(t.text[b:e] for t, b, e in sentences)])
        scores = vectors[1:] @ vectors[0]
        best = int(np.argmax(scores))
        if float(scores[best]) < 0.2:
            return Extraction()
        turn, begin, end = sentences[best]
        return Extraction((ExtractedValue(turn.text[begin:end][:MAX_CONTENT], turn, begin, end),))


# --- the LLM extractor --------------------------------------------------------------

_SYSTEM_PROMPT = (
    "You extract one value from a contact-center conversation. Answer with JSON only: "
    '{{"value": "<the value exactly as written in the conversation>"}} or {{"value": null}} if it was not said. '
    "What to extract: {hint}"
)


class LlmExtractor:
    """An OpenAI-compatible chat-completions endpoint; sees only the turns it is given (redacted for redacting
    contacts: the caller's duty, see :func:`livelens.contacts.extraction_segments.extraction_segments`)."""

    def __init__(self, url: str, model: str, api_key: str | None = None, timeout: float = 20.0,
                 opener: Callable[..., Any] = urllib.request.urlopen) -> None:
        self.client = ChatCompletions(url, model, api_key, timeout, opener)

    def extract(self, hint: str, turns: Sequence[ExtractionTurn]) -> Extraction:
        if not any(t.role == CUSTOMER and t.text.strip() for t in turns):
            return Extraction(failure_code="INSUFFICIENT_CONVERSATION_CONTENT")
        transcript = "\n".join(f"{t.role.title()}: {t.text}" for t in turns)
        answer = self.client.complete(_SYSTEM_PROMPT.format(hint=hint), transcript)
        if answer.content is None:
            return Extraction(failure_code=answer.failure_code or "INTERNAL_ERROR")
        content = answer.content.strip()
        value = _answer(content)
        if not value:
            return Extraction()
        for turn in reversed(turns):
            at = turn.text.lower().rfind(value.lower())
            if at >= 0:
                return Extraction((ExtractedValue(turn.text[at : at + len(value)], turn, at, at + len(value)),))
        return Extraction()  # not in the conversation: never report what was not said


def _answer(content: str) -> str | None:
    text = content.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        return text.strip().strip('"') or None
    value = parsed.get("value") if isinstance(parsed, dict) else parsed
    return str(value).strip() if isinstance(value, (str, int, float)) and str(value).strip() else None
