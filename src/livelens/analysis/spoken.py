"""Spoken forms of numbers and e-mail addresses, written the way they are typed.

Voice transcripts say "four one five, five five five, one two three four"
and "john dot smith at example dot com"; pattern recognisers look for
"415 555 1234" and "john.smith@example.com". :func:`normalize` rewrites the
spoken forms and keeps a map from every character of the rewritten text back
to the characters of the original, so that a span found in the rewritten text
can be reported at its exact place in the original turn.

Only runs of two or more number words are rewritten ("one" alone stays a
word), so ordinary sentences are left as they are.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_UNITS = {
    "zero": 0,
    "oh": 0,
    "o": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
}
_TEENS = {
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
_REPEAT = {"double": 2, "triple": 3}
_NUMBER_WORD = "|".join(sorted([*_UNITS, *_TEENS, *_TENS, *_REPEAT, r"\d+"], key=len, reverse=True))
# A run: number words (or digit groups) separated by spaces, commas, hyphens or "dash".
_RUN = re.compile(
    rf"\b(?:{_NUMBER_WORD})\b(?:(?:\s*[,-]\s*|\s+(?:dash\s+)?|\s+)\b(?:{_NUMBER_WORD})\b)+",
    re.I,
)
_TOKEN = re.compile(rf"\b(?:{_NUMBER_WORD})\b", re.I)
_TLDS = "com|net|org|edu|gov|io|co|us|uk|ca|de|fr|info|biz|me|ai|app|dev|mail|email|ie|au|nz|in"
_SPOKEN_SEP = r"\s+(?:dot|period|underscore|dash|hyphen)\s+"
_SPOKEN_EMAIL = re.compile(
    rf"\b([a-z0-9][a-z0-9._-]*(?:{_SPOKEN_SEP}[a-z0-9._-]+)*)\s+at\s+"
    rf"([a-z0-9-]+(?:{_SPOKEN_SEP}[a-z0-9-]+)*(?:\s+dot\s+|\.)(?:{_TLDS}))\b",
    re.I,
)
_SEP_WORDS = {"dot": ".", "period": ".", "underscore": "_", "dash": "-", "hyphen": "-"}


@dataclass(frozen=True)
class Normalized:
    """Rewritten text plus, per character, the original span it came from."""

    text: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]

    def to_original(self, begin: int, end: int) -> tuple[int, int]:
        """Map a half-open span of :attr:`text` to one of the original text."""
        if end <= begin:
            raise ValueError("empty span")
        return self.starts[begin], self.ends[end - 1]

    @property
    def changed(self) -> bool:
        return any(e - s != 1 for s, e in zip(self.starts, self.ends, strict=True)) or any(
            s != i for i, s in enumerate(self.starts)
        )


def _run_digits(words: list[str]) -> str:
    """Digits for a run of number words: "nineteen eighty five" -> "1985"."""
    out: list[str] = []
    repeat = 1
    i = 0
    while i < len(words):
        w = words[i].lower()
        if w in _REPEAT:
            repeat = _REPEAT[w]
            i += 1
            continue
        if w.isdigit():
            piece = w
        elif w in _UNITS:
            piece = str(_UNITS[w])
        elif w in _TEENS:
            piece = str(_TEENS[w])
        else:
            tens = _TENS[w]
            nxt = words[i + 1].lower() if i + 1 < len(words) else ""
            if nxt in _UNITS and _UNITS[nxt] > 0 and nxt not in ("o", "oh"):
                piece = str(tens + _UNITS[nxt])
                i += 1
            else:
                piece = str(tens)
        out.append(piece * repeat)
        repeat = 1
        i += 1
    return "".join(out)


class _Builder:
    def __init__(self) -> None:
        self.parts: list[str] = []
        self.starts: list[int] = []
        self.ends: list[int] = []

    def copy(self, text: str, begin: int, end: int) -> None:
        self.parts.append(text[begin:end])
        self.starts.extend(range(begin, end))
        self.ends.extend(range(begin + 1, end + 1))

    def replace(self, new: str, begin: int, end: int) -> None:
        self.parts.append(new)
        self.starts.extend([begin] * len(new))
        self.ends.extend([end] * len(new))

    def build(self) -> Normalized:
        return Normalized("".join(self.parts), tuple(self.starts), tuple(self.ends))


def _rewrite_numbers(text: str) -> Normalized:
    b = _Builder()
    pos = 0
    for run in _RUN.finditer(text):
        tokens = list(_TOKEN.finditer(run.group(0)))
        words = [t.group(0) for t in tokens]
        if all(w.isdigit() for w in words) or sum(not w.isdigit() for w in words) < 2:
            continue
        if all(w.lower() in ("o", "oh") for w in words if not w.isdigit()):
            continue
        b.copy(text, pos, run.start())
        # Keep the speaker's grouping where they paused (comma or dash), join
        # the rest: "four one five, five five five" -> "415, 555".
        group: list[re.Match[str]] = []
        for k, tok in enumerate(tokens):
            group.append(tok)
            gap_end = tokens[k + 1].start() if k + 1 < len(tokens) else None
            gap = run.group(0)[tok.end() : gap_end] if gap_end is not None else ""
            if gap_end is None or re.search(r"[,-]|dash", gap):
                g_begin = run.start() + group[0].start()
                g_end = run.start() + group[-1].end()
                b.replace(_run_digits([g.group(0) for g in group]), g_begin, g_end)
                if gap_end is not None:
                    b.copy(text, run.start() + tok.end(), run.start() + gap_end)
                group = []
        pos = run.end()
    b.copy(text, pos, len(text))
    return b.build()


def _rewrite_emails(norm: Normalized) -> Normalized:
    text = norm.text
    b = _Builder()
    pos = 0
    for m in _SPOKEN_EMAIL.finditer(text):
        local = re.sub(_SPOKEN_SEP, lambda s: _SEP_WORDS[s.group(0).strip().lower()], m.group(1), flags=re.I)
        domain = re.sub(r"\s+dot\s+", ".", m.group(2), flags=re.I)
        domain = re.sub(_SPOKEN_SEP, lambda s: _SEP_WORDS[s.group(0).strip().lower()], domain, flags=re.I)
        if " " in local or " " in domain:
            continue
        b.copy(text, pos, m.start())
        b.replace(f"{local}@{domain}", m.start(), m.end())
        pos = m.end()
    b.copy(text, pos, len(text))
    inner = b.build()
    # Compose the two maps: inner -> norm -> original.
    starts = tuple(norm.starts[s] for s in inner.starts)
    ends = tuple(norm.ends[e - 1] for e in inner.ends)
    return Normalized(inner.text, starts, ends)


def normalize(text: str) -> Normalized:
    """Rewrite spoken numbers and e-mail addresses, keeping an offset map."""
    return _rewrite_emails(_rewrite_numbers(text))
