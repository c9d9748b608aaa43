"""Redaction runs spaCy's tagger chain and NER only on the texts where something reads their output."""

from __future__ import annotations

import pytest

from livelens.analysis.nlp import _OPENERS, analyse, load_spacy, may_name, needs_tags
from livelens.analysis.pii_names import _NOT_NAMES, is_english_word


def _tokens(text: str):  # type: ignore[no-untyped-def]
    return load_spacy().make_doc(text)


@pytest.mark.parametrize(
    "text",
    [
        "Hi, I was charged twice for my order last week and I need a refund.",
        "This is really frustrating. Great, thanks! Sorry, I'm confused.",
        "Okay, that helps a bit.\nPlease send it again.",
        "it should be under my wife's name rosa ferreira",  # the NER, not the tagger, finds lower-case names
    ],
)
def test_no_tags_where_nothing_reads_them(text: str) -> None:
    assert not needs_tags(_tokens(text))
    assert not analyse([text])[0].has_annotation("TAG")


@pytest.mark.parametrize(
    "text",
    [
        "Thanks Grace, that works.",  # a capitalised word inside a sentence
        "Priya here.",  # at a sentence's start, but not an opener
        "My phone is 415 555 0142.",  # digits: presidio's context words are matched on lemmas
        "write to me at a@b.co",
    ],
)
def test_tags_where_a_capitalised_name_or_a_number_may_be(text: str) -> None:
    assert needs_tags(_tokens(text))
    assert analyse([text])[0].has_annotation("TAG")


def test_ner_everywhere_but_on_stop_words_and_openers() -> None:
    full = load_spacy()
    texts = ["Thanks Grace, that works.", "Yes, wei chen is the account holder.", "Thank you so much!",
             "Sarah is very reliable.", "Is there anything else?", "ok"]
    docs = analyse(texts)
    assert [doc.has_annotation("ENT_IOB") for doc in docs] == [True, True, False, True, False, False]
    assert [may_name(_tokens(text)) for text in texts] == [True, True, False, True, False, False]
    for text, doc in zip(texts, docs, strict=True):
        expected = [(e.text, e.label_) for e in full(text).ents if e.label_ in ("PERSON", "GPE", "LOC", "FAC")]
        got = [(e.text, e.label_) for e in doc.ents if e.label_ in ("PERSON", "GPE", "LOC", "FAC")]
        assert got == expected, text  # the same entities as the whole pipeline finds, tagged or not
        tags = [t.pos_ for t in full(text)] if needs_tags(_tokens(text)) else [""] * len(doc)
        assert [t.pos_ for t in doc] == tags
    assert ("wei chen", "PERSON") in [(e.text, e.label_) for e in docs[1].ents]


def test_a_policy_without_names_runs_no_ner() -> None:
    docs = analyse(["Thanks Grace, my card is 4111 1111 1111 1111.", "Thanks Grace."], names=False)
    assert not any(doc.has_annotation("ENT_IOB") for doc in docs)
    assert docs[0].has_annotation("TAG") and not docs[1].has_annotation("TAG")  # lemmas only beside numbers


def test_openers_never_depend_on_a_tag() -> None:
    # The proper-name recogniser reads a capitalised word's POS only when the word is not English.
    assert [w for w in _OPENERS if not is_english_word(w) and w not in _NOT_NAMES] == []


def test_spacy_multiplies_in_numpy_with_one_blas_thread() -> None:
    """Not in BLIS, whose PyPI wheels fall back to their slowest kernels on CPUs they do not know, and
    not in several OpenBLAS threads per process (two analysing processes on two cores oversubscribe)."""
    from threadpoolctl import threadpool_info

    nlp = load_spacy()
    layers = [layer for _, component in nlp.pipeline if getattr(component, "model", None) is not None
              for layer in component.model.walk()]
    assert layers and all(getattr(layer.ops, "use_blis", None) is False for layer in layers)
    blas = [pool for pool in threadpool_info() if pool["user_api"] == "blas"]
    assert blas and all(pool["num_threads"] == 1 for pool in blas)
    # the products give the entities BLIS gave
    doc = analyse(["Please send the refund to Maria Gonzalez in Seattle."])[0]
    assert {(ent.text, ent.label_) for ent in doc.ents} >= {("Maria Gonzalez", "PERSON"), ("Seattle", "GPE")}
