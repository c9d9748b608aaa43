"""Names that spaCy's small model does not tag, found without any list of names.

* :class:`ProperNameRecognizer`: a capitalised word that is not an English word is
  most likely a name ("Hi Priya", "Follow up with Mikayla Weld", "Beatrix lives on …").
  "English word" means: in the WordNet-derived lemma index that ships inside the spaCy
  model (``lemmatizer`` tables, 83 k words), or one of its inflections. Neighbouring
  capitalised words join the name ("Mikayla Weld"); a capitalised dictionary word is a
  name only where a greeting, a title or a relation word points at it ("Thanks Grace",
  "my daughter Rosa"). Places spaCy tags GPE/LOC and words right after a house number
  are left to the address recognisers.
* :class:`LabelledFieldRecognizer`: form-like lines ("Name: Brad Key", "Phone: 96 597329",
  "Address: …").

No gazetteer of first names or surnames is used: that would measure the list, not the text.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING

from presidio_analyzer import LocalRecognizer, RecognizerResult
from presidio_analyzer.nlp_engine import NlpArtifacts

from livelens.analysis.nlp import load_spacy

if TYPE_CHECKING:
    from spacy.tokens import Token

# Capitalised words that are not in the lemma index but are not names either.
_NOT_NAMES = frozenset(
    """i i'm i'd i've i'll ok okay hi hey hello thanks thank bye please yes yeah no nope sorry dear
    mr mrs ms miss dr mx sir madam st apt suite ste unit po box rd ave blvd ln dr ct hwy
    monday tuesday wednesday thursday friday saturday sunday january february march april may june july
    august september october november december jan feb mar apr jun jul aug sep sept oct nov dec
    usa uk eu us un ceo cfo cto vp hr it id pin ssn dob atm faq url pdf usb tv pc iphone ipad android
    wifi wi-fi internet email thx pls plz lol omg btw fyi e-mail online app apps covid gmail outlook hotmail yahoo
    inc ltd llc corp co plc gmbh username userid login logon password passcode signup
    bot user agent customer admin support team re fw fwd cc bcc ps nan""".split()
)
_GREETING = re.compile(
    r"(?:\b(?:hi|hello|hey|dear|thanks|thank you|thx|cheers|bye|goodbye|morning|afternoon|evening|welcome|"
    r"sorry|congrats|congratulations|ok|okay|yes|no|sure|great|perfect))[ \t]*,?[ \t]*$",
    re.I,
)
_RELATION = re.compile(
    r"\b(?:my|his|her|our|their|your)\s+(?:\w+\s+)?(?:son|daughter|kid|child|wife|husband|partner|friend|colleague|"
    r"manager|boss|mother|father|mom|mum|dad|brother|sister|aunt|uncle|cousin|grandson|granddaughter|"
    r"grandmother|grandfather|neighbou?r|tenant|landlord|fianc[eé]e?|girlfriend|boyfriend)\s*,?\s*$|"
    r"\b(?:mr|mrs|ms|miss|dr|mx|prof|sir|madam|dear|named|called|agent|officer|nurse|doctor)\.?\s*$|"
    r"\b(?:speak(?:ing)? (?:to|with)|talk(?:ing)? (?:to|with)|ask(?:ed)?|tell|told|contact|call(?:ed)?|"
    r"email(?:ed)?|follow(?:ed)? up with|meet|met|assigned to|transfer(?:red)? (?:me )?to|cc|from)\s+$",
    re.I,
)
_NOT_PEOPLE = frozenset({"FAC", "DATE", "TIME", "MONEY", "PERCENT", "QUANTITY", "CARDINAL", "ORDINAL"})
_WORD = re.compile(r"^[^\W\d_][^\W\d_'’-]*(?:['’-][^\W\d_]+)*\.?$")


@cache
def _dictionary() -> frozenset[str]:
    """Lower-cased English words from the spaCy model's lemmatizer tables."""
    lemmatizer = load_spacy().get_pipe("lemmatizer")
    lookups = lemmatizer.lookups  # type: ignore[attr-defined]
    words: set[str] = set()
    index = lookups.get_table("lemma_index")
    for pos in index.keys() if hasattr(index, "keys") else ():
        words.update(w.lower() for w in index.get(pos, ()))
    for table in ("lemma_index", "lemma_exc"):
        t = lookups.get_table(table)
        for pos in ("noun", "verb", "adj", "adv"):
            entry = t.get(pos, {})
            if isinstance(entry, dict):
                words.update(k.lower() for k in entry)
                for forms in entry.values():
                    words.update(f.lower() for f in forms)
            else:
                words.update(w.lower() for w in entry)
    return frozenset(words)


@cache
def _stop_words() -> frozenset[str]:
    """Function words, which WordNet's index leaves out ("for", "the", "with")."""
    from spacy.lang.en.stop_words import STOP_WORDS

    return frozenset(STOP_WORDS)


def function_words() -> frozenset[str]:
    """English function words ("the", "for", "it", …): spaCy's stop-word list."""
    return _stop_words()


def is_english_word(word: str) -> bool:
    """``word`` (any case) or an obvious inflection of it is in the lemma index."""
    w = word.lower().rstrip(".").replace("’", "'")
    if w.endswith("'s"):
        w = w[:-2]
    words = _dictionary()
    if w in words or w in _NOT_NAMES or w in _stop_words():
        return True
    for suffix, repl in (("s", ""), ("es", ""), ("ies", "y"), ("ed", ""), ("ed", "e"), ("ing", ""), ("ing", "e"),
                         ("er", ""), ("ers", ""), ("ly", ""), ("ness", "")):
        if w.endswith(suffix) and len(w) - len(suffix) >= 3 and w[: len(w) - len(suffix)] + repl in words:
            return True
    return False


# "Y'know", "W'll": contractions, not "O'Brien".
_CONTRACTION = re.compile(r"['’](?:know|ll|ve|re|d|s|t|m|all|em|cause)$", re.I)
_INITIAL = re.compile(r"^[A-Z]\.?$")
_PLACE_WORDS = frozenset({"at", "on", "in", "near", "from", "to", "via", "into", "of"})


def _glued(tok: Token) -> bool:
    """Right after "#", "@", "-", "^", "/" or "_" with no space between (a handle, a hashtag, a code)."""
    if tok.i == 0:
        return False
    prev = tok.doc[tok.i - 1]
    return not prev.whitespace_ and prev.text in ("#", "@", "-", "^", "/", "_")


def _name_token(tok: Token) -> bool:
    return (
        _capitalised(tok.text)
        and not _glued(tok)
        and not _CONTRACTION.search(tok.text)
        and not tok.is_stop
        and tok.text.lower().rstrip(".") not in _NOT_NAMES
        and tok.ent_type_ not in _NOT_PEOPLE
    )


def _capitalised(token: str) -> bool:
    return bool(_WORD.match(token)) and token[0].isupper() and not token.isupper() and len(token.rstrip(".")) >= 2


class ProperNameRecognizer(LocalRecognizer):
    """Capitalised non-dictionary words and their capitalised neighbours, as NAME."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["NAME"], name="livelens-proper-name")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        if nlp_artifacts is None or nlp_artifacts.tokens is None or not any(map(str.isupper, text)):
            return []  # no capital letter: no capitalised word
        doc = nlp_artifacts.tokens
        tokens = list(doc)
        results = []
        i = 0
        while i < len(tokens):
            tok = tokens[i]
            if not _name_token(tok):
                i += 1
                continue
            # A run of capitalised words on one line.
            j = i
            while j + 1 < len(tokens) and "\n" not in tokens[j].whitespace_:
                if _name_token(tokens[j + 1]):
                    j += 1
                elif (
                    j + 2 < len(tokens)
                    and _INITIAL.match(tokens[j + 1].text)
                    and "\n" not in tokens[j + 1].whitespace_
                    and _name_token(tokens[j + 2])
                ):
                    j += 2  # "Thaddeus M Bezrukov", "Elbio D. Navarrete"
                else:
                    break
            run = tokens[i : j + 1]
            i = j + 1
            before = text[max(0, run[0].idx - 40) : run[0].idx]
            prev = tokens[run[0].i - 1] if run[0].i > 0 else None
            if prev is not None and (prev.like_num or prev.text.lower() in _PLACE_WORDS):
                continue  # "62 Glandovey Terrace", "in Sumaré": addresses and places
            unknown = [t for t in run if not is_english_word(t.text) and t.pos_ in ("PROPN", "NOUN", "ADJ", "X")]
            pointed = bool(_GREETING.search(before) or _RELATION.search(before))
            if not unknown and not pointed:
                continue
            if len(run) > 4:
                continue
            # Trim dictionary words at the edges unless something points at the name.
            if not pointed:
                while run and run[0] is not unknown[0] and is_english_word(run[0].text) and run[0].pos_ != "PROPN":
                    run = run[1:]
            start, end = run[0].idx, run[-1].idx + len(run[-1].text.rstrip("."))
            score = 0.6 if unknown else 0.5
            results.append(RecognizerResult("NAME", start, end, score))
        return results


_FIELD = re.compile(
    r"(?im)^[ \t>}\W]{0,6}(?P<label>(?:full |first |last |customer |contact |account )?name|phone(?: number)?|"
    r"tel(?:ephone)?|mobile|cell|fax|(?:street |postal |mailing |billing |shipping |home )?address)[ \t]*:[ \t]*"
    r"(?P<value>[^\n]{2,80})$"
)


class LabelledFieldRecognizer(LocalRecognizer):
    """Form-like lines: ``Name: Brad Key``, ``Phone: 96 597329``, ``Address: …``."""

    def __init__(self) -> None:
        super().__init__(supported_entities=["NAME", "PHONE", "ADDRESS"], name="livelens-fields")

    def load(self) -> None:
        return None

    def analyze(
        self, text: str, entities: list[str], nlp_artifacts: NlpArtifacts | None = None
    ) -> list[RecognizerResult]:
        results = []
        for m in _FIELD.finditer(text):
            label = m.group("label").lower()
            value = m.group("value").rstrip()
            start = m.start("value")
            if "name" in label:
                entity = "NAME"
                if any(c.isdigit() for c in value) or len(value.split()) > 5:
                    continue
            elif "address" in label:
                entity = "ADDRESS"
            else:
                entity = "PHONE"
                digits = sum(c.isdigit() for c in value)
                if not 6 <= digits <= 15:
                    continue
                value = re.sub(r"[^\d)]+$", "", value)
            results.append(RecognizerResult(entity, start, start + len(value), 0.8))
        return results
