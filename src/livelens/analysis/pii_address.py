"""Postal addresses in any country's layout, found by shape rather than by a list of places.

An address starts with a *street core*: a house number and a street name ("62 Glandovey
Terrace", "Purje 69", "1767 ul. Okrąg 47", "Rua Diadema 1903"). A street name counts when it
has a street word (Road, Strasse, ulica …) or a word that is not English (checked against the
lemma index in the spaCy model, see ``pii_names``), so "12345 Item 5" is not an address.
The core then grows over what follows it, on the same line or after commas and line breaks:
units ("Apt. 953", "Suite 447", "P.O. Box 286"), localities ("Hespeler", "KOKKOLA CO",
"Sutri, Italy", "Egilsstaðir"), region codes and postcodes ("QLD 18750", "LS6 2AB", "3607 KP"),
and stops at ordinary words ("… last night", "… for post mail") or at anything longer than a
place name. A house number written before the core's own number ("13530 2711 Queens Sq") joins it.
"""

from __future__ import annotations

import re

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from livelens.analysis.pii_names import is_english_word

_STREET_WORDS = (
    r"street|st|avenue|ave|av|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|terrace|circle|cir|"
    r"parkway|pkwy|highway|hwy|trail|square|sq|crescent|close|row|alley|plaza|loop|path|walk|grove|gardens|"
    r"green|hill|park|mews|rise|view|vale|wharf|quay|gate|hollow|ridge|point|plains?|isle|island|landing|"
    r"meadows?|heights|estates?|junction|crossing|pike|cove|glen|manor|bay|shore|"
    r"rue|via|calle|avenida|rua|r\.|ul\.?|ulica|út|utca|piazza|praça|praceta|travessa|estrada|largo|"
    r"strasse|straße|str\.|gasse|weg|platz|allee|ring|damm|straat|laan|gracht|plein|dijk|kade|"
    r"gade|vej|gatan|vägen|väg|gata|gränd|stig|veien|vegur|tie|katu|kuja|polku|tee|iela|g\.|aqq\.|"
    r"chemin|allée|impasse|quai|cours|passage|sector|block|house|p\.?o\.?|box|postbox|pobox|u\.|plass|fasor|"
    r"körút|sor|köz|tanya|sokak|cadde(?:si)?|mahallesi"
)
_STREET_WORD = re.compile(rf"^(?:{_STREET_WORDS})$", re.I)
_NUM = r"\d{1,6}[A-Za-z]?\.?"
_WORD = r"[^\W\d_][\w'’.-]*"
# number + 1-5 words (+ number), or 1-5 words + number.
_CORE = re.compile(
    rf"(?<![\w@.+-])(?:(?P<n1>{_NUM})\s+(?:(?P<n0>{_NUM})\s+)?"
    rf"(?P<w1>{_WORD}(?:[ \t]+{_WORD}){{0,4}})(?:[ \t]+(?P<n2>{_NUM}))?"
    rf"|(?P<w2>{_WORD}(?:[ \t]+{_WORD}){{0,3}})[ \t]+(?P<n3>{_NUM}))(?![\w@-])",
    re.U,
)
_UNIT = re.compile(
    r"^(?:(?:apt|apartment|suite|ste|unit|flat|floor|fl|room|bldg|building|postbox|box)\b|p\.?\s?o\.?\s+box\b|#)"
    r"\.?[ \t]*#?[ \t]*[\w-]+",
    re.I,
)
_SEPARATOR = re.compile(r"^(?:[ \t]*(?:,|\n|\\n)[ \t]*(?:[}>?|*\-]{1,3}[ \t]*)?)+")
_POSTCODE = (
    r"(?:\d{3,6}(?:-\d{3,4})?|\d{3}\s\d{2}|\d{4}\s?[A-Z]{2}|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|"
    r"[A-Z]\d[A-Z]\s?\d[A-Z]\d)"
)
_LOCALITY_TOKEN = re.compile(
    rf"^(?:{_POSTCODE}|\d[A-Z]{{2}}|[A-Z]{{2,4}}|nan|\([^\W\d_]+\)|[^\W\d_][\w'’.-]*)$", re.U
)
_PARTICLES = frozenset(
    "de la le les du des del della di da do dos das van von der den ten ter af av y e et und i nad pod am im an "
    "s. st. sur sous upon-".split()
)
_STOP = re.compile(r"[?!;:\"]")


def _is_place_word(word: str) -> bool:
    w = word.strip(",")
    if not w:
        return False
    if w.lower() in _PARTICLES or w in ("nan",):
        return True
    if w[0].isdigit():
        return bool(re.fullmatch(_POSTCODE, w) or re.fullmatch(r"\d[A-Z]{2}", w)) or w.isdigit()
    if w[0].isupper() or _STREET_WORD.match(w):
        return True
    # Lower-case street words of other languages ("Erzsébet tér 19", "Søren Jaabæks vei 148").
    return len(w) >= 2 and w.isalpha() and not is_english_word(w)


def _street_name_ok(words: str) -> bool:
    tokens = words.split()
    if not tokens or not any(t[0].isupper() or _STREET_WORD.match(t) for t in tokens):
        return False
    if any(_STREET_WORD.match(t) for t in tokens):
        return all(_is_place_word(t) or t.lower() in _PARTICLES for t in tokens)
    # Without a street word, every word must look like part of a name and one must be non-English.
    if not all(_is_place_word(t) for t in tokens):
        return False
    return any(not is_english_word(t) and t.lower() not in _PARTICLES for t in tokens if not t[0].isdigit())


def _extend(text: str, end: int) -> int:
    """Grow an address over units, localities and postcodes after ``end``."""
    for _ in range(8):
        rest = text[end:]
        sep = _SEPARATOR.match(rest)
        gap = sep.end() if sep else len(rest) - len(rest.lstrip(" \t"))
        unit = _UNIT.match(rest[gap:])
        if unit:
            end += gap + unit.end()
            continue
        if gap == 0:
            break
        segment = re.match(r"[^\n,;.?!:\"\\]*", rest[gap:])
        assert segment is not None
        if rest[gap + segment.end() : gap + segment.end() + 1] == ":":
            break  # "Mobile: …", "Fax: …": a label, not a place
        words = list(re.finditer(r"\S+", segment.group(0)))
        if words and words[0].group(0)[0].isdigit() and sum(c.isdigit() for c in segment.group(0)) >= 7:
            break  # a phone number on the next line, not a postcode
        taken = 0
        digits = 0
        at_unit = False
        for w in words:
            token = w.group(0)
            ahead = segment.group(0)[w.start() :] + rest[gap + segment.end() : gap + segment.end() + 8]
            if taken and _UNIT.match(ahead):
                at_unit = True
                break
            if not (_LOCALITY_TOKEN.match(token) and _is_place_word(token)):
                break
            digits += sum(c.isdigit() for c in token)
            if digits > 7:
                break
            taken += 1
        if taken == 0:
            break
        end += gap + words[taken - 1].end()
        if taken < len(words) and not at_unit:
            break
    return end


def _span_len(text: str, count: int) -> int:
    """Length of the first ``count`` whitespace-separated words of ``text``, with the spaces between."""
    m = re.match(rf"^\S+(?:[ \t]+\S+){{{count - 1}}}", text)
    return m.end() if m else 0


_BEFORE = re.compile(
    rf"(?:^|[\s,])((?:(?:flat|apt|apartment|unit|suite)\.?[ \t]*\d+\w?,?[ \t]*)?(?:{_NUM}[ \t]+)?)\Z", re.I
)
_ADDRESS_CUE = re.compile(
    r"(?:\b(?:at|on|to|address(?:es)?|lives? on|lived in|live in|in|is|ship|send|deliver\w*)\b|:|\n|^)[ \t:]*\Z", re.I
)


def _street_tokens(words: str) -> list[str] | None:
    """The words of ``words`` that make the street name, or None if they do not make one."""
    tokens = words.split()
    street = [i for i, t in enumerate(tokens) if _STREET_WORD.match(t)]
    if street and street[-1] > 0:  # "Baker Street in …": the name ends at its street word ("Rue X" does not)
        tokens = tokens[: street[-1] + 1]
    while tokens and not _is_place_word(tokens[-1]):
        tokens.pop()
    if not tokens or not _street_name_ok(" ".join(tokens)) or _STOP.search(" ".join(tokens[:-1])):
        return None
    return tokens


class PostalAddressRecognizer(LocalRecognizer):
    """Street cores in any layout, grown over units, localities and postcodes."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["ADDRESS"], name="livelens-postal-address")

    def load(self) -> None:
        return None

    @staticmethod
    def _core(text: str, m: re.Match[str]) -> tuple[int, int] | None:
        """The street core's span, or None when the match is no street."""
        if m.group("w1") is not None:
            tokens = _street_tokens(m.group("w1"))
            if tokens is None:
                return None
            whole = len(tokens) == len(m.group("w1").split())
            has_street_word = any(_STREET_WORD.match(t) for t in tokens)
            if whole and m.group("n2"):
                return m.start(), m.end("n2")
            if not has_street_word:
                return None  # "2 Netflix accounts": a number and a name are no address
            return m.start(), m.start("w1") + _span_len(text[m.start("w1") :], len(tokens))
        tokens = _street_tokens(m.group("w2"))
        if tokens is None or len(tokens) != len(m.group("w2").split()):
            return None
        if not any(_STREET_WORD.match(t) for t in tokens):
            # "Purje 69": only where the text says an address follows.
            if tokens[0].isupper() or not _ADDRESS_CUE.search(text, max(0, m.start() - 25), m.start()):
                return None
        return m.start(), m.end("n3")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if not any(map(str.isdigit, text)):
            return []
        results = []
        pos = 0
        while True:
            m = _CORE.search(text, pos)
            if not m:
                break
            span = self._core(text, m)
            if span is None:
                pos = m.start() + 1
                continue
            start, end = span
            before = _BEFORE.search(text, max(0, start - 30), start)
            if before:
                start = before.start(1)
            end = _extend(text, end)
            while end > start and text[end - 1] in " ,.\t\n":
                end -= 1
            results.append(RecognizerResult("ADDRESS", start, end, 0.7))
            pos = end
        return results
