from __future__ import annotations

from pathlib import Path

import pytest

from livelens.analysis.evaluate import dialogue_roles, lead_n, run, score_pii
from livelens.analysis.evaluation.datasets import PiiExample, default_data_dir
from livelens.analysis.evaluation.metrics import macro_f1, rouge_l, rouge_multi, rouge_n


def test_macro_f1() -> None:
    gold = ["POSITIVE", "NEGATIVE", "NEUTRAL", "NEUTRAL"]
    assert macro_f1(gold, gold) == 1.0
    pred = ["POSITIVE", "NEUTRAL", "NEUTRAL", "NEUTRAL"]
    # F1: POSITIVE 1, NEGATIVE 0, NEUTRAL 2*2/(2*2+1+0)=0.8
    assert macro_f1(gold, pred) == pytest.approx((1 + 0 + 0.8) / 3)
    with pytest.raises(ValueError):
        macro_f1(gold, pred[:2])


def test_rouge() -> None:
    assert rouge_n("the cat sat", "the cat sat", 1) == 1.0
    assert rouge_n("the cat", "the cat sat on the mat", 2) == pytest.approx(2 * 1 * 0.2 / 1.2)
    assert rouge_l("a b c d", "a x c d") == pytest.approx(0.75)
    assert rouge_n("", "anything", 1) == 0.0
    multi = rouge_multi("the cat sat", ["the cat sat", "a dog ran"])
    assert multi["rouge1"] == pytest.approx(0.5)


def test_score_pii_counts_by_type_and_ignores_untargeted() -> None:
    examples = [
        PiiExample("Call Ann at 555", ((5, 8, "PERSON"), (12, 15, "PHONE_NUMBER"))),
        PiiExample("Fly to Paris", ((7, 12, "GPE"),)),
    ]
    predictions = {"Call Ann at 555": [(5, 8, "NAME"), (0, 4, "NAME")], "Fly to Paris": [(7, 12, "ADDRESS")]}
    per_type, any_type, untargeted = score_pii(examples, lambda t: predictions[t])
    assert (per_type["NAME"].tp, per_type["NAME"].fp, per_type["NAME"].fn) == (1, 1, 0)
    assert (per_type["PHONE"].tp, per_type["PHONE"].fn) == (0, 1)
    assert untargeted == 1
    assert (any_type.tp, any_type.fn, any_type.fp) == (1, 1, 1)


def test_dialogue_roles_and_lead() -> None:
    turns = (("#Person1#", "Good morning, how can I help you?"), ("#Person2#", "My card was swallowed."))
    assert dialogue_roles(turns) == {"#Person1#": "AGENT", "#Person2#": "CUSTOMER"}
    turns2 = (("#Person1#", "I lost my card."), ("#Person2#", "Let me block it."))
    assert dialogue_roles(turns2) == {"#Person1#": "CUSTOMER", "#Person2#": "AGENT"}
    assert lead_n(turns2, 1) == "I lost my card."


DATA = default_data_dir() if default_data_dir().is_dir() else Path("/work/shared/data")


@pytest.mark.skipif(not DATA.is_dir(), reason="shared/data is not available")
def test_evaluation_smoke_on_a_tiny_sample() -> None:
    tables = run(DATA, limit=12)
    titles = " ".join(t.title for t in tables)
    for word in ("Sentiment", "Issue", "PII", "summary"):
        assert word in titles
    for table in tables:
        text = table.render()
        assert table.rows and all(len(r) == len(table.columns) for r in table.rows)
        assert text.count("\n") >= len(table.rows) + 2
    with pytest.raises(ValueError):
        run(DATA, only=("bogus",))
    with pytest.raises(FileNotFoundError):
        run(DATA / "missing")
