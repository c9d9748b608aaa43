"""Use the conversation: a value given in reply to a request for personal data is PII.

"may I have your name?" → "crystal minh": on its own "crystal minh" is two
lower-case words that no recogniser would call a name, but as the answer to
that question it is one. :func:`requested_types` reads the preceding turn of
another participant (usually the agent's question) and says which entity types
it asks for; :func:`answer_spans` finds the value in the reply, after the
fillers ("yeah it's", "sure, my name is") and before any trailing chatter, and
refuses replies that do not give one ("sorry can you say that again",
"hang on let me check", "same as before").

All of this runs on the spoken-form-normalised text (``spoken.py``), so
"four one five …" is a run of digits here, and offsets are mapped back by the
caller. Nothing here depends on a list of names or addresses.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# What an agent's request asks for. Order matters only for the documentation; every
# matching type is requested ("name and phone number please" asks for both).
_REQUESTS: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (entity, re.compile(pattern, re.I))
    for entity, pattern in (
        (
            "NAME",
            r"(?<!user)(?<!user )\b(?:(?:first|last|full|sur|middle|maiden|given|family)?\s?name|surname|"
            r"who (?:am i|do i have|is)\b.*\b(?:speaking|talking|pleasure|holder|calling|line)|who(?:'s| is) calling|"
            r"who(?:'s| is) (?:the )?(?:account|policy|card)\s?holder|spell (?:that|it|your (?:first|last|sur)))",
        ),
        ("PHONE", r"\b(?:phone|mobile|cell|telephone|landline|contact number|callback number|call you|reach you|"
                  r"text the code|number (?:can|should|to) (?:we|i)|(?:good|best|a) number)"),
        ("EMAIL", r"\be-?mail\b"),
        ("ADDRESS", r"(?<!e-mail )(?<!email )(?<!ip )\b(?:address|post\s?code|postal code|zip(?: code)?|"
                    r"where (?:do you live|should we (?:ship|send|deliver)|"
                    r"are you located)|ship (?:it|the \w+) to|which city)"),
        ("SSN", r"\b(?:social security|ssn|social\b|last four of your social)"),
        ("DATE_OF_BIRTH", r"\b(?:date of birth|birth ?date|d\.?o\.?b\b|when were you born|birthday)"),
        ("BANK_ACCOUNT_NUMBER", r"\b(?:account (?:number|no)|acct)"),
        ("CREDIT_DEBIT_NUMBER", r"\b(?:card number|number on (?:the )?(?:front of )?(?:the|your) card|long number)"),
        ("CREDIT_DEBIT_CVV", r"\b(?:cvv|cvc|security code|(?:three|four|3|4)[- ]digit code|code on the back)"),
        ("CREDIT_DEBIT_EXPIRY", r"\b(?:expir\w*|valid (?:thru|through|until))"),
        ("PIN", r"\b(?:pin|passcode)\b"),
    )
)
# A question (or a request) rather than a statement that happens to mention a name.
_ASKING = re.compile(
    r"\?|^\s*(?:and\s+)?(?:your|the)\b|\b(?:may|can|could|would) (?:i|you|we)\b|\bplease\b|\bwhat(?:'s| is| was)?\b|"
    r"\bwho (?:am|do|is|are)\b|"
    r"\b(?:need|confirm|verify|give me|tell me|read (?:me|out)|spell|enter|say)\b|^\s*(?:and\s+)?[\w ]{0,30}$",
    re.I,
)

# Words that open or pad an answer; they are never part of the value.
_LEAD = re.compile(
    r"^(?:\s*(?:yes|yeah|yep|yup|sure(?: thing)?|ok(?:ay)?|uh+|um+|erm?|so|well|right|of course|absolutely|"
    r"hi(?: there)?|hello(?: there)?|hey(?: there)?|good (?:morning|afternoon|evening)|"
    r"it(?:'s| is|s)|that(?:'s| is|s)|that(?:'d| would) be|this is|i(?:'m| am)|it should be|should be|"
    r"(?:put it |it's |its )?under(?: the name)?|"
    r"my (?:wife|husband|dad|father|mother|mum|mom|son|daughter|partner|brother|sister)(?:'s(?: name)?)?|"
    r"my (?:full |first |last )?name(?:'s| is)?|the name(?:'s| is)?|my (?:phone |mobile |cell |account |card )?"
    r"(?:number|email|e-mail|address|zip(?: code)?|post ?code|postal code|pin|social|date of birth|birthday)"
    r"(?:'s| is)?|the (?:number|email|address|postcode|zip)(?:'s| is)?|"
    r"you can (?:reach|call) me (?:at|on)|call me (?:at|on)|for sure|no problem)\b[\s,.:;!-]*)+",
    re.I,
)
_TRAIL = re.compile(
    r"(?:[\s,.;!-]+(?:thanks|thank you|please|cheers|thx|ty)\b.*|\s+(?:and|but) (?:i|i've|i'm|we|it|that|this)\b.*|"
    r"\s+(?:speaking|calling|here)\b.*|"
    r"[.!?]\s*$)",
    re.I,
)
# A reply that does not give the value.
_REFUSAL = re.compile(
    r"\b(?:sorry|again|why|don't|dont|do not|didn't|not sure|no idea|rather not|hang on|hold on|one sec\w*|"
    r"a sec\w*|moment|let me|wait|same|repeat|which one|do you want|the one on file|on file|check|look|"
    r"forgot|forget|can't|cannot|won't|never|what|who|i think|maybe|not|no)\b",
    re.I,
)
_NAME_WORD = re.compile(r"^(?:[^\W\d_][\w'’-]*\.?|(?:[a-z](?:[\s-][a-z])+))$", re.I)
_SPELLED = re.compile(r"^[a-z](?:[\s-]+[a-z])+$", re.I)
# Ordinary words that are not names, for lower-case answers.
_COMMON = frozenset(
    """a an the and or but so i me my we our you your he she they it this that these those here there yes no
    yeah yep ok okay sure fine good great thanks thank please hello hi hey bye same one two just
    is am are was were be been have has had do does did will would can could should may might
    account card number email address phone name order code help call back later now today
    what who why where when how which right correct wrong""".split()
)
_EMAILISH = re.compile(r"\S+(?:@|\s+at\s+)\S+(?:\s+dot\s+\S+|\.\S+)+", re.I)
_POSTCODE = re.compile(
    r"\b(?:[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}|[A-Z]\d[A-Z]\s*\d[A-Z]\d|\d{4,6}(?:-\d{4})?)\b", re.I
)
# A postcode said letter by letter ("n w one six x e" → "n w 16 x e").
_SPACED_POSTCODE = re.compile(
    r"^(?:[a-z]\s){1,2}\d{1,2}(?:\s?[a-z])?\s?\d?\s?(?:[a-z]\s?){2}$|^(?:[a-z]\s?\d\s?){3}$", re.I
)
# How many digits each requested number type has (inclusive).
_DIGITS = {
    "PHONE": (6, 15),
    "SSN": (4, 9),
    "BANK_ACCOUNT_NUMBER": (5, 18),
    "CREDIT_DEBIT_NUMBER": (12, 19),
    "CREDIT_DEBIT_CVV": (3, 4),
    "CREDIT_DEBIT_EXPIRY": (3, 6),
    "PIN": (4, 6),
    "DATE_OF_BIRTH": (4, 8),
}
_MONTH = re.compile(
    r"\b(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sep(?:t(?:ember)?)?|"
    r"oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)\b",
    re.I,
)


@dataclass(frozen=True)
class AnswerSpan:
    begin: int
    end: int
    entity_type: str


def requested_types(prompt: str | None) -> tuple[str, ...]:
    """The entity types the preceding turn asks for ("may I have your name?" → ``("NAME",)``)."""
    if not prompt or not _ASKING.search(prompt):
        return ()
    # Only the last sentence or two of a long turn is the request.
    tail = prompt[-160:]
    return tuple(entity for entity, pattern in _REQUESTS if pattern.search(tail))


def _strip(text: str, begin: int, end: int) -> tuple[int, int]:
    """Drop the fillers before and the chatter after the value in ``text[begin:end]``."""
    while True:
        lead = _LEAD.match(text, begin, end)
        if not lead or lead.end() == begin:
            break
        begin = lead.end()
    trail = _TRAIL.search(text, begin, end)
    if trail:
        end = trail.start()
    while end > begin and text[end - 1] in " ,.;:!?-'\"":
        end -= 1
    while begin < end and text[begin] in " ,.;:!?-'\"":
        begin += 1
    return begin, end


def _name_span(text: str, begin: int, end: int) -> tuple[int, int] | None:
    """The leading 1-4 name-like words of ``text[begin:end]`` (or spelled letters)."""
    value = text[begin:end]
    if _SPELLED.match(value.strip()):
        return begin, end
    words = list(re.finditer(r"[^\s,;:]+", value))
    kept: list[re.Match[str]] = []
    for w in words:
        token = w.group(0)
        if not _NAME_WORD.match(token) or token.lower().strip(".") in _COMMON or any(c.isdigit() for c in token):
            break
        kept.append(w)
        if token.endswith(".") and len(token) > 2:  # "ravi. ravi subramanian": a repeat follows
            continue
    # Up to four words, not counting a first try said before the repeat ("maria. maria de la cruz").
    repeat = max((i + 1 for i, w in enumerate(kept[:-1]) if w.group(0).endswith(".") and len(w.group(0)) > 2),
                 default=0)
    if not kept or len(kept) - repeat > 4 or repeat > 4:
        return None
    return begin + kept[0].start(), begin + kept[-1].end()


def _digit_span(text: str, begin: int, end: int, entity: str) -> tuple[int, int] | None:
    low, high = _DIGITS[entity]
    digits = [i for i in range(begin, end) if text[i].isdigit()]
    if not digits:
        return None
    first, last = digits[0], digits[-1] + 1
    if entity == "PHONE" and first > begin and text[first - 1] == "+":
        first -= 1
    count = sum(1 for c in text[first:last] if c.isdigit())
    if entity == "DATE_OF_BIRTH":
        month = _MONTH.search(text, begin, end)
        if month:
            first, last = min(first, month.start()), max(last, month.end())
        return (first, last) if count >= 1 and (month or count >= 6) else None
    if not low <= count <= high:
        return None
    return first, last


def answer_spans(text: str, requested: tuple[str, ...]) -> list[AnswerSpan]:
    """The values ``text`` gives for the ``requested`` types (empty if it gives none)."""
    if not requested or not text.strip():
        return []
    begin, end = _strip(text, 0, len(text))
    if end <= begin or len(text[begin:end].split()) > 16:
        return []
    value = text[begin:end]
    found: list[AnswerSpan] = []
    rest_begin = begin
    if "EMAIL" in requested:
        email = _EMAILISH.search(text, begin, end)
        if email:
            found.append(AnswerSpan(email.start(), email.end(), "EMAIL"))
    numbers = [t for t in requested if t in _DIGITS]
    if "ADDRESS" in requested:
        span = _address_span(text, begin, end, found)
        if span:
            found.append(AnswerSpan(span[0], span[1], "ADDRESS"))
    for entity in numbers:
        span = _digit_span(text, begin, end, entity)
        if span and not any(f.begin < span[1] and span[0] < f.end for f in found):
            found.append(AnswerSpan(span[0], span[1], entity))
            break
    if "NAME" in requested:
        # The name comes first in combined answers ("wei chen six one two …", "Aoife Brennan, BT7 1NN").
        name_end = min([f.begin for f in found if f.begin > rest_begin] + [end])
        b, e = _strip(text, rest_begin, name_end)
        if e > b and not _REFUSAL.search(text[b:e]):
            span = _name_span(text, b, e)
            if span:
                found.append(AnswerSpan(span[0], span[1], "NAME"))
    if not found or (_REFUSAL.search(value) and not any(f.entity_type != "NAME" for f in found)):
        return [f for f in found if f.entity_type != "NAME"] if found else []
    return sorted(found, key=lambda f: f.begin)


def _address_span(text: str, begin: int, end: int, taken: list[AnswerSpan]) -> tuple[int, int] | None:
    """An address answer: something with a digit, a postcode or a short place name."""
    value = text[begin:end]
    if _REFUSAL.search(value) or _EMAILISH.search(value):
        return None
    compact = _SPACED_POSTCODE.match(value)
    if compact:
        return begin, end
    if any(c.isdigit() for c in value):
        whole = _POSTCODE.fullmatch(value)
        if whole:
            return begin, end
        # Start at the first word that has a digit or follows "flat/unit/house" etc.
        start = re.search(r"\b(?:flat|unit|apt|apartment|house|suite|no\.?|number)\b|\d", value, re.I)
        b = begin + (start.start() if start else 0)
        # Names said before an address ("Elena Petrova, 9 Nevsky Avenue") are not part of it.
        return b, end
    postcode = _POSTCODE.search(value)
    if postcode:
        return begin + postcode.start(), begin + postcode.end()
    if len(value.split()) <= 8:
        return begin, end
    return None
