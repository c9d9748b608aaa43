"""Recognisers for the PII that presidio's built-ins do not cover.

Numbers such as a PIN, a CVV or a bank account are only PII because of the
words around them ("my pin is 4321"), so most recognisers here are *context*
recognisers: a keyword, then within a short window a value of the right
shape. They run on the spoken-form-normalised text (``spoken.py``), so
"my pin is four three two one" is found too.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

_MONTH = (
    r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\.?"
)
_ORDINAL_WORDS = (
    r"(?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|"
    r"thirteenth|fourteenth|fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|"
    r"twenty[- ](?:first|second|third|fourth|fifth|sixth|seventh|eighth|ninth)|thirtieth|thirty[- ]first)"
)
_DAY = rf"(?:\d{{1,2}}(?:st|nd|rd|th)?|{_ORDINAL_WORDS})"
DATE = (
    rf"(?:\d{{1,2}}[/.-]\d{{1,2}}[/.-](?:\d{{4}}|\d{{2}})|\d{{4}}-\d{{1,2}}-\d{{1,2}}|"
    rf"{_MONTH}\s+{_DAY}(?:,?\s+(?:of\s+)?\d{{4}})?|"
    rf"(?:the\s+)?{_DAY}\s+(?:of\s+)?{_MONTH},?\s+\d{{4}}|{_MONTH},?\s+\d{{4}})"
)


def luhn_valid(digits: str) -> bool:
    """The Luhn checksum that every payment card number satisfies."""
    nums = [int(c) for c in digits if c.isdigit()]
    if len(nums) < 12:
        return False
    total = 0
    for i, n in enumerate(reversed(nums)):
        if i % 2 == 1:
            n *= 2
            if n > 9:
                n -= 9
        total += n
    return total % 10 == 0


def aba_valid(digits: str) -> bool:
    """ABA routing-number checksum (3-7-1 weights)."""
    d = [int(c) for c in digits if c.isdigit()]
    if len(d) != 9:
        return False
    return (3 * (d[0] + d[3] + d[6]) + 7 * (d[1] + d[4] + d[7]) + (d[2] + d[5] + d[8])) % 10 == 0


@dataclass(frozen=True)
class ContextRule:
    """``value`` found at most ``window`` characters after ``keyword``."""

    entity: str
    keyword: str
    value: str
    score: float = 0.85
    window: int = 40
    check: Callable[[str], bool] | None = None
    flags: int = re.I


CONTEXT_RULES: tuple[ContextRule, ...] = (
    ContextRule(
        "CREDIT_DEBIT_CVV",
        r"\b(?:cvv2?|cvc2?|cv2|csc|security code|verification (?:code|number|value)|"
        r"(?:three|four|3|4)[- ]digit (?:code|number)|code on the back)\b",
        r"\b\d{3,4}\b",
        window=35,
    ),
    ContextRule(
        "CREDIT_DEBIT_EXPIRY",
        r"\b(?:expir\w*|exp\.?|valid (?:thru|through|until)|good (?:thru|through))\b",
        rf"\b(?:(?:0?[1-9]|1[0-2])\s*[/-]\s*(?:\d{{4}}|\d{{2}})|(?:0[1-9]|1[0-2])(?:\d{{2}}|20\d{{2}})|{_MONTH},?\s+(?:\d{{4}}|\d{{2}}))\b",
        window=30,
    ),
    ContextRule("PIN", r"\b(?:pin|pin number|pin code|passcode|pass code)\b", r"\b\d{4,6}\b", window=30),
    ContextRule(
        "BANK_ROUTING",
        r"\b(?:routing|aba|transit number|sort code|routing number)\b",
        r"\b(?:\d{9}|\d{2}-\d{2}-\d{2})\b",
        window=40,
    ),
    ContextRule(
        "BANK_ACCOUNT_NUMBER",
        r"\b(?:account(?: number| no\.?| #)?|acct\.?(?: number| no\.?| #)?|checking|savings|a/c)\b",
        r"\b(?:\d[ -]?){5,16}\d\b",
        score=0.75,
        window=40,
    ),
    ContextRule(
        "SSN",
        r"\b(?:social security(?: number)?|ssn|social(?: number)?|ss#)\b",
        r"\b(?:\d{3}(?:[- .]|,\s?)?\d{2}(?:[- .]|,\s?)?\d{4}|\d{4})\b",
        window=40,
    ),
    ContextRule(
        "PASSPORT_NUMBER",
        r"\bpassport(?: number| no\.?| #| id)?\b",
        r"\b(?=[A-Z0-9]*\d)[A-Z0-9]{6,9}\b",
        window=35,
    ),
    ContextRule(
        "DRIVER_ID",
        r"\b(?:driver'?s?'? licen[cs]e|driving licen[cs]e|licen[cs]e (?:number|no\.?|#)|dl (?:number|no\.?|#)|dl)\b",
        r"\b(?:[A-Z]{0,2}\d{5,14}|\d{3}-\d{3}-\d{3,4}|[A-Z]\d{3}-\d{4}-\d{4})\b",
        window=35,
    ),
    ContextRule(
        "DATE_OF_BIRTH",
        r"\b(?:born|birthday|birth date|date of birth|d\.?o\.?b\.?|birthdate)\b",
        DATE + r"|\b\d{8}\b",
        score=0.9,
        window=30,
    ),
    ContextRule(
        "ADDRESS",
        r"\b(?:zip(?: code)?|postal code|post code|postcode)\b",
        # US ZIP+4, Brazil 12235-100, Portugal 2480-078, Poland 45-710, Sweden/Czechia 582 22, Canada, UK,
        # the Netherlands 6681 NC.
        r"\b(?:\d{5}-\d{3,4}|\d{4}-\d{3}|\d{2}-\d{3}|\d{3} \d{2}|\d{5}|[A-Z]\d[A-Z] ?\d[A-Z]\d|"
        r"[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}|\d{4} ?[A-Z]{2}|\d{3,4})\b",
        score=0.8,
        window=25,
    ),
)

_STREET_TYPES = (
    r"street|st|avenue|ave|road|rd|boulevard|blvd|lane|ln|drive|dr|court|ct|way|place|pl|terrace|"
    r"circle|cir|parkway|pkwy|highway|hwy|trail|square|sq|crescent|close|row|alley|plaza|loop|path"
)
_UNIT = r"(?:,?\s*(?:apt|apartment|suite|ste|unit|floor|fl|#)\.?\s*#?\s*[\w-]+)?"
STREET = re.compile(
    rf"\b\d{{1,6}}[a-z]?\s+(?:[nsew]\.?\s+|north\s+|south\s+|east\s+|west\s+)?"
    rf"(?:[A-Za-z][\w'.-]*\s+){{0,3}}?[A-Za-z][\w'.-]*\s+(?:{_STREET_TYPES})\b\.?"
    rf"(?:\s+(?:nw|ne|sw|se|n|s|e|w)\b)?{_UNIT}",
    re.I,
)
# Continental forms: "Linzer Strasse 69", "Rue de la Paix 12", "Via Roma 3".
STREET_EU = re.compile(
    r"\b(?:(?:rue|via|calle|avenida|rua|ulica|ul\.|piazza|plaza)\s+(?:[\w'-]+\s+){0,3}\d{1,5}|"
    r"\d{1,5},?\s+(?:rue|via|calle|avenida|rua|boulevard|chemin|allée)\s+(?:[\w'-]+\s*){1,4}|"
    r"[A-ZÄÖÜ][\wäöüß-]*\s?(?:stra(?:ss|ß)e|strasse|gasse|weg|platz|allee|straat|laan|gade|vej|gatan|vägen|utca|tie|katu)\s+\d{1,5}[a-z]?)",
    re.I,
)
_US_STATES = (
    "AL|AK|AZ|AR|CA|CO|CT|DE|DC|FL|GA|HI|ID|IL|IN|IA|KS|KY|LA|ME|MD|MA|MI|MN|MS|MO|MT|NE|NV|NH|NJ|NM|NY|NC|ND|"
    "OH|OK|OR|PA|RI|SC|SD|TN|TX|UT|VT|VA|WA|WV|WI|WY|AA|AE|AP"
)
ADDRESS_PARTS = re.compile(
    rf"\b(?:(?:apt|apartment|suite|ste|unit)\.?\s*#?\s*\d+[a-z]?|p\.?\s?o\.?\s+box\s+\d+|box\s+\d+)\b|"
    rf"(?<=,\s)(?:{_US_STATES})\s+\d{{5}}(?:-\d{{4}})?\b|\b(?:{_US_STATES})\s+\d{{5}}(?:-\d{{4}})?\b(?=\s*(?:$|[.,;\n]))",
    re.I,
)
# UK and Canadian postcodes have a shape no English word has ("NW1 6XE", "SW1A 1AA", "M5V 3L9").
POSTCODE = re.compile(r"\b(?:[A-Z]{1,2}\d[A-Z\d]? \d[ABD-HJLNP-UW-Z]{2}|[A-Z]\d[A-Z] \d[A-Z]\d)\b")
PHONE = re.compile(r"(?<![\w+])(?:\+?1[\s.-]?)?\(?\d{3}\)?[\s.,-]{0,3}\d{3}[\s.,-]{0,3}\d{4}(?!\w)")
NAME_INTRO = re.compile(
    r"\b(?:my name is|my name's|name is|name's|this is|i am|i'm|speaking with|talking to|"
    r"call me|account holder is|spelled|(?:mr|mrs|ms|miss|dr|mx)\.?)\s+((?:[A-Z][a-z'-]+)(?:\s+[A-Z][a-z'-]+){0,2}|"
    r"(?:[a-z][a-z'-]+)(?:\s+[a-z][a-z'-]+){0,2})",
    re.I,
)
# Only these introductions are trusted when the name is written in lower case
# (voice transcripts); after the others a name must be capitalised.
_LOWERCASE_LEADS = frozenset({"my name is", "my name's", "name is", "name's", "account holder is"})
_NOT_NAMES = frozenset(
    """a an the and or but so i me my we our you your he she they it this that these those here there
    calling call calls called going trying looking having getting just really very so not still also
    sorry happy glad sure fine good great ok okay well ready done here with from for about to on in at of
    by as is am are was were be been being have has had do does did will would can could should may might
    must shall yes no hi hello hey thanks thank please customer agent support service team manager
    frustrated upset angry confused disappointed concerned worried interested afraid unable able
    new old same other all any some one two three four five six seven eight nine ten""".split()
)


class ContextRecognizer(LocalRecognizer):
    """Finds :class:`ContextRule` values after their keywords."""

    def __init__(self, rules: tuple[ContextRule, ...] = CONTEXT_RULES) -> None:
        self.rules = rules
        self._compiled = [(r, re.compile(r.keyword, r.flags), re.compile(r.value, r.flags)) for r in rules]
        super().__init__(supported_entities=sorted({r.entity for r in rules}), name="livelens-context")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for rule, keyword, value in self._compiled:
            if rule.entity not in entities:
                continue
            for k in keyword.finditer(text):
                window = text[k.end() : k.end() + rule.window]
                for v in value.finditer(window):
                    if rule.check is not None and not rule.check(v.group(0)):
                        continue
                    start = k.end() + v.start()
                    results.append(RecognizerResult(rule.entity, start, start + len(v.group(0)), rule.score))
                    break
        return results


@cache
def _pyap_us_pattern() -> re.Pattern[str]:
    """pyap's US address grammar, compiled once.

    ``pyap.parse`` hands the pattern source to ``re`` on every call and rewrites the text first
    (collapsing spaces, which shifts offsets); when the ``re`` module's cache has dropped the
    pattern, recompiling it costs ~0.2 s. Matching the compiled grammar on the turn as it is keeps
    offsets exact and the cost per turn flat.
    """
    from pyap.source_US.data import full_address

    return re.compile(full_address, re.VERBOSE | re.UNICODE)


class StreetRecognizer(LocalRecognizer):
    """Street addresses: pyap2's US parser plus generic street patterns."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["ADDRESS"], name="livelens-street")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        if any(map(str.isdigit, text)):
            for m in _pyap_us_pattern().finditer(text):
                results.append(RecognizerResult("ADDRESS", m.start(), m.end(), 0.9))
            for pattern, score in ((STREET, 0.7), (STREET_EU, 0.7), (ADDRESS_PARTS, 0.6), (POSTCODE, 0.6)):
                for m in pattern.finditer(text):
                    results.append(RecognizerResult("ADDRESS", m.start(), m.end(), score))
        return results


_PHONE_ANY = re.compile(r"(?<![\w+])\+?\(?\d[\d \t().-]{5,18}\d(?![\w/])")
_PHONE_BEFORE = re.compile(
    r"\b(?:phone|call|calling|mobile|cell|tel|telephone|fax|desk|office|reach|text|sms|whatsapp|"
    r"contact|registered|messages to|ring|dial|landline|number is)\b[^.?!\d]{0,30}$",
    re.I,
)
_PHONE_AFTER = re.compile(r"^\W{0,3}(?:office|fax|mobile|cell|home|work|desk)\b", re.I)


class LoosePhoneRecognizer(LocalRecognizer):
    """Phone numbers presidio's parser misses.

    North American numbers however they are grouped ("415, 555, 1234"), and
    international ones ("+41 98 297 78 75", "0494 26 46 14") when a word such
    as "call", "phone" or "fax" stands next to them.
    """

    def __init__(self) -> None:
        super().__init__(supported_entities=["PHONE"], name="livelens-phone")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for m in PHONE.finditer(text):
            digits = re.sub(r"\D", "", m.group(0))
            if len(digits) == 10 or (len(digits) == 11 and digits[0] == "1"):
                results.append(RecognizerResult("PHONE", m.start(), m.end(), 0.6))
        for m in _PHONE_ANY.finditer(text):
            digits = re.sub(r"\D", "", m.group(0))
            if not 6 <= len(digits) <= 15:
                continue
            before = text[max(0, m.start() - 45) : m.start()]
            after = text[m.end() : m.end() + 12]
            if _PHONE_BEFORE.search(before) or _PHONE_AFTER.search(after):
                start, end = m.start(), m.end()
                while end > start and text[end - 1] in " .-(":
                    end -= 1
                results.append(RecognizerResult("PHONE", start, end, 0.65))
        return results


_CARD = re.compile(r"(?<![\d-])(?:\d[ -]?){11,18}\d(?![\d-])")
_CARD_CONTEXT = re.compile(
    r"\b(?:card|credit|debit|visa|master ?card|amex|american express|discover|maestro|cc)\b", re.I
)


class CardRecognizer(LocalRecognizer):
    """Luhn-valid 12-19 digit numbers after a card word, or 15-16 digits with a card prefix.

    presidio's own card recogniser knows only some issuer prefixes and
    lengths; a number that fails the Luhn check is never reported as a card.
    """

    def __init__(self) -> None:
        super().__init__(supported_entities=["CREDIT_DEBIT_NUMBER"], name="livelens-card")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for m in _CARD.finditer(text):
            digits = re.sub(r"\D", "", m.group(0))
            if not 12 <= len(digits) <= 19 or not luhn_valid(digits):
                continue
            if _CARD_CONTEXT.search(text[max(0, m.start() - 40) : m.start()]):
                results.append(RecognizerResult("CREDIT_DEBIT_NUMBER", m.start(), m.end(), 0.9))
            elif len(digits) in (15, 16) and digits[0] in "3456":
                results.append(RecognizerResult("CREDIT_DEBIT_NUMBER", m.start(), m.end(), 0.7))
        return results


class NameIntroRecognizer(LocalRecognizer):
    """Names introduced by the speaker ("my name is john smith"), also lower-case."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["NAME"], name="livelens-name-intro")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for m in NAME_INTRO.finditer(text):
            words = m.group(1).split()
            lead = m.group(0)[: m.start(1) - m.start()].strip().lower()
            capitalised = words[0][0].isupper()
            if not capitalised and lead not in _LOWERCASE_LEADS:
                continue
            kept = []
            for w in words:
                if w.lower() in _NOT_NAMES:
                    break
                kept.append(w)
            if not kept:
                continue
            start = m.start(1)
            end = start + len(" ".join(kept))
            results.append(RecognizerResult("NAME", start, end, 0.8 if capitalised else 0.65))
        return results
