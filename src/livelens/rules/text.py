"""Word matching for ``said`` conditions.

Text is split into words (letters, digits and inner apostrophes); a phrase
matches a run of consecutive words. Matching is case-insensitive, respects
word boundaries ("refund" never matches inside "prefund") and tolerates
inflection: both sides are reduced by :func:`stem`, a small suffix stripper
for English ("refunds", "refunded", "refunding" → "refund"; "cancelled",
"cancelling", "cancellation" → "cancel"; "charge", "charged" → "charg").
It is deliberately conservative and deterministic: the same function runs on
the phrase at CreateRule and on every turn, so any word and its regular
inflections meet on the same stem.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_VOWELS = set("aeiouy")
# Longest first; each suffix needs a stem of at least `min` letters left.
_SUFFIXES: tuple[tuple[str, str, int], ...] = (
    ("ations", "", 4),
    ("ation", "", 4),
    ("ments", "", 4),
    ("ment", "", 4),
    ("ingly", "", 3),
    ("ings", "", 3),
    ("ing", "", 3),
    ("ied", "y", 2),
    ("ies", "y", 2),
    ("edly", "", 3),
    ("ed", "", 3),
    ("es", "", 3),
    ("s", "", 3),
)


def stem(word: str) -> str:
    """A light English stem of ``word`` (lower-cased)."""
    w = word.lower().replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    if len(w) <= 3:
        return w
    for suffix, replacement, minimum in _SUFFIXES:
        if w.endswith(suffix):
            base = w[: -len(suffix)]
            if suffix == "s" and (base.endswith(("s", "u", "i")) or not _VOWELS & set(base)):
                break  # "class", "bus", "this": not plurals
            if suffix == "es" and not base.endswith(("s", "x", "z", "ch", "sh")):
                base = w[:-1]  # "charges" → "charge", "boxes" → "box"
                if len(base) < minimum:
                    break
            if len(base) >= minimum and _VOWELS & set(base):
                w = base + replacement
            break
    if len(w) > 3 and w.endswith("e") and not w.endswith("ee"):
        w = w[:-1]  # "charge" and "charged" meet on "charg"
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in _VOWELS:
        w = w[:-1]  # "cancell" → "cancel", "stopp" → "stop", "bill" → "bil"
    return w


@dataclass(frozen=True)
class Word:
    stem: str
    begin: int
    end: int


def words(text: str) -> list[Word]:
    """The words of ``text`` with their character offsets (half-open)."""
    return [Word(stem(m.group()), m.start(), m.end()) for m in _WORD.finditer(text)]


def phrase_stems(phrase: str) -> tuple[str, ...]:
    return tuple(stem(m.group()) for m in _WORD.finditer(phrase))


def find(phrase: Sequence[str], text_words: Sequence[Word]) -> tuple[int, int] | None:
    """Character span of the first occurrence of the stemmed ``phrase`` in ``text_words``."""
    n = len(phrase)
    if n == 0:
        return None
    first = phrase[0]
    for i in range(len(text_words) - n + 1):
        if text_words[i].stem == first and all(text_words[i + k].stem == phrase[k] for k in range(1, n)):
            return text_words[i].begin, text_words[i + n - 1].end
    return None
