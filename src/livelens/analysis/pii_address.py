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

Beyond single streets: intersections ("the corner of Wilgenlaan 40 and Longo Shoal", "Victor and 154
Dodson Street" after "at", "to", "is" …), US military post ("USS Raat / FPO AE 54860", USPS
Publication 28), and a street named without a number where the text puts something on it ("on
Harbour Street"). Every pattern is bounded (no nested unbounded repetition), so hostile text costs
linear time (``tests/analysis/test_conversation.py``).
"""

from __future__ import annotations

import re

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from livelens.analysis.pii_names import function_words, is_english_word

_STREET_WORDS = (
    r"street|st|avenue|ave|av|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|terrace|circle|cir|"
    r"parkway|pkwy|highway|hwy|trail|square|sq|crescent|close|row|alley|plaza|loop|path|walk|grove|gardens|"
    r"green|hill|park|mews|rise|view|vale|wharf|quay|gate|hollow|ridge|point|plains?|isle|island|landing|"
    r"meadows?|heights|estates?|junction|crossing|pike|cove|glen|manor|bay|shore|"
    r"rue|via|calle|avenida|rua|r\.|ul\.?|ulica|út|utca|piazza|praça|praceta|travessa|estrada|largo|"
    r"strasse|straße|str\.|gasse|weg|platz|allee|ring|damm|straat|laan|gracht|plein|dijk|kade|"
    r"gade|vej|gatan|vägen|väg|gata|gränd|stig|veien|vegur|tie|katu|kuja|polku|tee|iela|g\.|aqq\.|"
    r"chemin|allée|impasse|quai|cours|passage|sector|block|house|p\.?o\.?|box|postbox|pobox|u\.|plass|fasor|"
    r"körút|sor|köz|tanya|sokak|cadde(?:si)?|mahallesi|"
    # More layouts: Spanish "C/", Greek, Hungarian, Italian, Polish, Czech, Baltic, Nordic, Slavic.
    r"c/|paseo|camino|carrera|carretera|alameda|rodovia|corso|viale|vicolo|strada|al\.|aleja|os\.|osiedle|"
    r"náměstí|nábřeží|třída|nám\.|tér|rakpart|körönd|sétány|cesta|trg|stræde|torv|allé|chaussee|chaussée|"
    r"singel|steeg|puiestee|mnt\.|tn\.|braut|stígur|prospekt|pr\.|pereulok|bypass|"
    r"οδός|οδ\.|λεωφόρος|λεωφ\.|λ\.|πλατεία|πλ\."
)
_STREET_WORD = re.compile(rf"^(?:{_STREET_WORDS})\.?$", re.I)
_NUM = r"\d{1,6}[A-Za-z]?\.?"
_WORD = r"(?:[Cc]/|\d{1,4}(?:st|nd|rd|th)\b|(?:[^\W\d_]|∆)[\w'’.-]*)"
# number + 1-5 words (+ number), or 1-5 words + number.
_CORE = re.compile(
    rf"(?<![\w@.+-])(?:(?P<n1>{_NUM})\s+(?:(?P<n0>{_NUM})\s+)?"
    rf"(?P<w1>{_WORD}(?:[ \t]+{_WORD}){{0,4}})(?:[ \t]+(?P<n2>{_NUM}))?"
    rf"|(?P<w2>{_WORD}(?:[ \t]+{_WORD}){{0,4}})[ \t]+(?P<n3>{_NUM}))(?![\w@-])",
    re.U,
)
_UNIT = re.compile(
    r"^(?:(?:apt|apartment|suite|ste|unit|flat|floor|fl|room|bldg|building|postbox|box)\b|p\.?\s?o\.?\s+box\b|#)"
    r"\.?[ \t]*#?[ \t]*[\w-]+",
    re.I,
)
_SEPARATOR = re.compile(r"^(?:[ \t]*(?:,|\n|\\n)[ \t]*(?:[}>?|*\-]{1,3}[ \t]*)?)+")
_POSTCODE = (
    r"(?:\d{3,6}(?:-\d{3,4})?|\d{2}-\d{3}|\d{3}\s\d{2}|\d{4}\s?[A-Z]{2}|[A-Z]{1,2}\d[A-Z\d]?\s?\d[A-Z]{2}|"
    r"[A-Z]\d[A-Z]\s?\d[A-Z]\d)"
)
_LOCALITY_TOKEN = re.compile(
    rf"^(?:{_POSTCODE}|\d{{1,2}}|\d[A-Z]{{2}}|[A-Z]{{2,4}}|nan|\([^\W\d_]+\)|(?:[^\W\d_]|∆)[\w'’.-]*)$", re.U
)
_PARTICLES = frozenset(
    "de la le les du des del della di da do dos das van von der den ten ter af av y e et und i nad pod am im an "
    "s. st. sur sous upon- u ob na pri bei en lès sul al alla aan op".split()
)
_STOP = re.compile(r"[?!;:\"]")


def _is_place_word(word: str) -> bool:
    w = word.strip(",()").lstrip("∆")  # "∆ΕΚΕΛΕΙΑ": an increment sign standing in for a Greek delta
    if not w:
        return False
    if w.lower() in _PARTICLES or w in ("nan",):
        return True
    if w[0].isdigit():
        return bool(
            re.fullmatch(_POSTCODE, w) or re.fullmatch(r"\d[A-Z]{2}|\d{1,4}(?:st|nd|rd|th)", w) or w.isdigit()
        )
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
        if gap == 0 or (text[end - 1] == "." and not sep):
            break  # "… Tylova 1466. It serves …": a full stop ends the address unless a line or comma follows
        segment = re.match(r"[^\n,;.?!:\"\\]*", rest[gap:])
        assert segment is not None
        if rest[gap + segment.end() : gap + segment.end() + 1] == ":" and len(segment.group(0).split()) <= 2:
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
        while taken and taken < len(words) and re.fullmatch(r"\d{1,2}", words[taken - 1].group(0)):
            taken -= 1  # "Springfield 2 days ago": a small number ends no place name
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
_CORNER_BEFORE = re.compile(r"\b(?:the[ \t]+)?corner[ \t]+of[ \t]+\Z", re.I)
_AND_BEFORE = re.compile(r"[ \t]and[ \t]+\Z")
_AND_AFTER = re.compile(r"[ \t]+and[ \t]+([^\n,;:?!\"]+)")
# US military post ("USS Raat / FPO AE 54860", "PSC 5269, Box 1914 / APO AP 64032"), USPS Publication 28.
_MILITARY = re.compile(
    r"\b(?:(?:USS|USNS|USNV|USCGC|USAT)(?:[ \t]+[^\W\d_][\w'’.-]*){1,3}|(?:PSC|CMR|Unit)[ \t]+\d{1,5},?[ \t]+"
    r"Box[ \t]+\d{1,5})(?:[ \t]*(?:\n|\\n|,)[ \t]*)?(?:FPO|APO|DPO)[ \t]+(?:AE|AA|AP)[ \t]+\d{5}(?:-\d{4})?\b"
)
# A street named without a number where the text places something on it ("shows on Leena Walks Street").
_NAMED_STREET = re.compile(
    r"\b(?:on|at|off|along|down|up|near)[ \t]+((?:[A-Z][\w'’-]*[ \t]+){1,3}"
    r"(?:Street|Road|Avenue|Lane|Boulevard|Drive|Strasse|Straße))\b"
)
_ADDRESS_CUE = re.compile(
    r"(?:\b(?:at|on|to|of|address(?:es)?|lives? on|lived in|live in|in|is|ship|send|deliver\w*)\b|:|\n|^)[ \t:]*\Z",
    re.I
)


def _street_tokens(words: str, relaxed: bool = False) -> list[str] | None:
    """The words of ``words`` that make the street name, or None if they do not make one.

    ``relaxed``: capitalised words make a name even when all are English ("213 Cartagena 66"); only
    for shapes that are addresses anyway (number, name, number; two numbers before a name).
    """
    tokens = words.split()
    street = [i for i, t in enumerate(tokens) if _STREET_WORD.match(t)]
    if street and street[-1] > 0:  # "Baker Street in …": the name ends at its street word ("Rue X" does not)
        tokens = tokens[: street[-1] + 1]
    while tokens and not _is_place_word(tokens[-1]):
        tokens.pop()
    if not tokens or _STOP.search(" ".join(tokens[:-1])):
        return None
    if _street_name_ok(" ".join(tokens)):
        return tokens
    if relaxed and all(t[0].isupper() and _is_place_word(t) and t.lower() not in function_words() for t in tokens):
        return tokens
    return None


def _pair_start(text: str, start: int) -> int | None:
    """Where an intersection written before ``start`` begins ("the corner of …", "Victor and …"), or None."""
    corner = _CORNER_BEFORE.search(text, max(0, start - 30), start)
    if corner:
        return corner.start()
    pair = _AND_BEFORE.search(text, max(0, start - 8), start)
    if not pair:
        return None
    # Up to three capitalised words before "and" name the first street.
    begin = pair.start()
    first = None
    for _ in range(3):
        word = re.search(r"\S+\Z", text[max(0, begin - 40) : begin])
        if not word or not (word.group(0)[0].isupper() and _is_place_word(word.group(0))):
            break
        first = begin = begin - len(word.group(0))
        space = re.search(r"[ \t]+\Z", text[max(0, begin - 10) : begin])
        if not space:
            break
        begin -= len(space.group(0))
    if first is None:
        return None
    begin = first
    corner = _CORNER_BEFORE.search(text, max(0, begin - 30), begin)
    if corner:
        return corner.start()
    return begin if _ADDRESS_CUE.search(text, max(0, begin - 25), begin) else None


def _pair_end(text: str, end: int) -> int:
    """The end of the second street of an intersection that continues at ``end`` ("… and Longo Shoal")."""
    m = _AND_AFTER.match(text, end)
    if not m:
        return end
    words = list(re.finditer(r"\S+", m.group(1)))
    taken = 0
    for w in words[:5]:
        token = w.group(0)
        if not (token[0].isupper() or token[0].isdigit() or _STREET_WORD.match(token)) or not _is_place_word(token):
            break
        taken += 1
    return m.start(1) + words[taken - 1].end() if taken else end


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
            strict = _street_tokens(m.group("w1"))
            tokens = strict or _street_tokens(m.group("w1"), relaxed=True)
            if tokens is None:
                return None
            whole = len(tokens) == len(m.group("w1").split())
            has_street_word = any(_STREET_WORD.match(t) for t in tokens)
            if whole and m.group("n2"):
                if strict is None and m.group("n0") is None:
                    # "213 Cartagena 66, Las Torres": English-looking names need a place after them or a cue.
                    after = re.match(r"[ \t]*(?:,|\n)[ \t]*(\S)", text[m.end("n2") :])
                    if not (after and after.group(1).isupper()) and not _ADDRESS_CUE.search(
                        text, max(0, m.start() - 25), m.start()
                    ):
                        return None
                return m.start(), m.end("n2")
            if strict is None or (m.group("n0") is None and not has_street_word):
                return None  # "2 Netflix accounts": a number and a name are no address
            return m.start(), m.start("w1") + _span_len(text[m.start("w1") :], len(tokens))
        tokens = _street_tokens(m.group("w2"))
        if tokens is None or len(tokens) != len(m.group("w2").split()):
            return None
        if not any(_STREET_WORD.match(t) for t in tokens):
            # "Purje 69": only where the text says an address follows.
            if tokens[0].isupper() or not (
                _ADDRESS_CUE.search(text, max(0, m.start() - 25), m.start()) or _pair_start(text, m.start()) is not None
            ):
                return None
        return m.start(), m.end("n3")

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = [
            RecognizerResult("ADDRESS", m.start(1), m.end(1), 0.6) for m in _NAMED_STREET.finditer(text)
        ]
        if not any(map(str.isdigit, text)):
            return results
        results += [RecognizerResult("ADDRESS", m.start(), m.end(), 0.8) for m in _MILITARY.finditer(text)]
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
            pair = _pair_start(text, start)
            before = _BEFORE.search(text, max(0, start - 30), start)
            if pair is not None:
                start = pair
            elif before:
                start = before.start(1)
            end = _extend(text, end)
            if pair is not None:
                end = _pair_end(text, end)
            while end > start and text[end - 1] in " ,.\t\n":
                end -= 1
            results.append(RecognizerResult("ADDRESS", start, end, 0.7))
            pos = end
        return results
