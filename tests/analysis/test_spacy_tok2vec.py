"""The fused token-vector networks give thinc's vectors bit for bit, so spaCy's tags and entities are unchanged."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from livelens.analysis.nlp import SPACY_MODEL, UNUSED_COMPONENTS, load_spacy
from livelens.analysis.spacy_tok2vec import (
    PROBES,
    UnsupportedArchitecture,
    _row_moments,
    compile_tok2vec,
    fuse_tok2vecs,
)

DATA = Path(__file__).resolve().parents[1] / "data"


def _texts() -> list[str]:
    texts = list(PROBES)
    for line in (DATA / "conversational_pii" / "dev.jsonl").read_text().splitlines():
        record = json.loads(line)
        texts += [record["agent"], record["customer"]]
    texts += [json.loads(line)["text"] for line in (DATA / "turn_cases" / "dev.jsonl").read_text().splitlines()]
    return texts + [
        " ", "\n\n", "ok", "Ψ Φεραίου 13, Λευκωσία", "4111 1111 1111 1111", "a " * 300,
        "Line one.\nPhone:\n+44 20 7946 0958\nThanks!!!",
    ]


@pytest.fixture(scope="module")
def thinc_nlp():  # type: ignore[no-untyped-def]
    """The pipeline as spaCy loads it (numpy products, as ``load_spacy`` sets), with thinc's networks."""
    import spacy
    from thinc.api import NumpyOps

    nlp = spacy.load(SPACY_MODEL, exclude=list(UNUSED_COMPONENTS))
    ops = NumpyOps(use_blis=False)
    for _, component in nlp.pipeline:
        if getattr(component, "model", None) is not None:
            for layer in component.model.walk():
                layer.ops = ops
    return nlp


def test_the_loaded_pipeline_runs_both_networks_fused() -> None:
    nlp = load_spacy()
    assert nlp.get_pipe("tok2vec").model.name == "fused_tok2vec"
    assert nlp.get_pipe("ner").model.get_ref("tok2vec").layers[0].name == "fused_tok2vec"


def test_fused_vectors_are_thinc_vectors_bit_for_bit(thinc_nlp) -> None:  # type: ignore[no-untyped-def]
    networks = {"tok2vec": thinc_nlp.get_pipe("tok2vec").model,
                "ner": thinc_nlp.get_pipe("ner").model.get_ref("tok2vec").layers[0]}
    texts = _texts()
    docs = [thinc_nlp.make_doc(text) for text in texts]
    for name, network in networks.items():
        forward = compile_tok2vec(network)
        for doc in docs:  # one at a time, as live turns come
            (expected,), (got,) = network.predict([doc]), forward([doc])
            assert got.shape == expected.shape and np.array_equal(got, expected), (name, doc.text)
        for start in range(0, len(docs), 16):  # and in batches, where the encoder's padding separates the docs
            batch = docs[start:start + 16]
            for expected, got in zip(network.predict(batch), forward(batch), strict=True):
                assert np.array_equal(got, expected), name


def test_tags_and_entities_are_unchanged(thinc_nlp) -> None:  # type: ignore[no-untyped-def]
    fused = load_spacy()
    for text in _texts():
        a, b = thinc_nlp(text), fused(text)
        assert [(t.tag_, t.pos_, t.lemma_) for t in a] == [(t.tag_, t.pos_, t.lemma_) for t in b], text
        assert [(e.start_char, e.end_char, e.label_) for e in a.ents] == \
            [(e.start_char, e.end_char, e.label_) for e in b.ents], text


def test_an_unexpected_network_is_left_to_thinc(thinc_nlp) -> None:  # type: ignore[no-untyped-def]
    from thinc.api import Linear, chain

    with pytest.raises(UnsupportedArchitecture):
        compile_tok2vec(chain(Linear(4, 4), Linear(4, 4)))
    with pytest.raises(UnsupportedArchitecture):
        compile_tok2vec(thinc_nlp.get_pipe("ner").model.get_ref("tok2vec"))  # the whole chain, not the network


def test_the_fused_layer_refuses_to_train() -> None:
    network = load_spacy().get_pipe("tok2vec").model
    with pytest.raises(RuntimeError, match="inference only"):
        network.begin_update([load_spacy().make_doc("hello there")])


def test_fusing_twice_changes_nothing() -> None:
    assert fuse_tok2vecs(load_spacy()) == []


def test_a_fused_network_that_fails_on_the_probes_leaves_thinc_in_place(monkeypatch, caplog) -> None:  # type: ignore[no-untyped-def]
    import spacy

    from livelens.analysis import spacy_tok2vec

    def broken(model):  # type: ignore[no-untyped-def]
        def forward(docs):  # type: ignore[no-untyped-def]
            raise IndexError("boom")
        return forward

    monkeypatch.setattr(spacy_tok2vec, "compile_tok2vec", broken)
    nlp = spacy.load(SPACY_MODEL, exclude=list(UNUSED_COMPONENTS))
    with caplog.at_level("WARNING", logger="livelens.analysis"):
        assert fuse_tok2vecs(nlp) == []
    assert nlp.get_pipe("tok2vec").model.name != "fused_tok2vec"
    assert "the fused one failed (IndexError: boom)" in caplog.text
    assert [(e.text, e.label_) for e in nlp("Please call Maria Gonzalez.").ents] == [("Maria Gonzalez", "PERSON")]


@pytest.mark.parametrize("rows,width", [(1, 96), (7, 96), (23, 288), (3, 1), (0, 96), (5, 1001)])
def test_row_moments_are_numpys_mean_and_var_bit_for_bit(rows: int, width: int) -> None:
    rng = np.random.default_rng(rows * 1000 + width)
    for scale in (1e-3, 1.0, 1e4):
        x = (rng.standard_normal((rows, width)) * scale + scale / 3).astype(np.float32)
        mean, var = _row_moments(x)
        assert mean.dtype == var.dtype == np.float32
        assert mean.tobytes() == x.mean(axis=1, keepdims=True).tobytes()
        assert var.tobytes() == x.var(axis=1, keepdims=True).tobytes()
