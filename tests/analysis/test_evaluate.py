from __future__ import annotations

from pathlib import Path

import pytest

from livelens.analysis.evaluate import as_dialogue_tags, dialogue_roles, lead_n, run, score_pii
from livelens.analysis.evaluation import datasets
from livelens.analysis.evaluation import pii as pii_eval
from livelens.analysis.evaluation.datasets import PiiExample, default_data_dir
from livelens.analysis.evaluation.metrics import (
    bootstrap_macro_f1,
    bootstrap_mean,
    bootstrap_ratio,
    count_redaction,
    macro_f1,
    rouge_l,
    rouge_multi,
    rouge_n,
)

CASES = Path(__file__).resolve().parent.parent / "data"


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


def test_as_dialogue_tags_names_only_the_two_parties() -> None:
    roles = {"#Person1#": "AGENT", "#Person2#": "CUSTOMER"}
    summary = "Customer: The customer lost their card. Agent: The agent blocked the customer's card; the agents agreed."
    assert as_dialogue_tags(summary, roles) == (
        "Customer: #Person2# lost their card. Agent: #Person1# blocked #Person2#'s card; the agents agreed."
    )


DATA = default_data_dir() if default_data_dir().is_dir() else Path("/work/shared/data")


@pytest.mark.skipif(not DATA.is_dir(), reason="shared/data is not available")
def test_evaluation_smoke_on_a_tiny_sample() -> None:
    tables = run(DATA, limit=12, generate_pii=False)
    titles = " ".join(t.title for t in tables)
    for word in ("Sentiment", "Issue", "PII", "summary", "Conversational", "Turn-level"):
        assert word in titles
    for table in tables:
        text = table.render()
        assert table.rows and all(len(r) == len(table.columns) for r in table.rows)
        assert text.count("\n") >= len(table.rows) + 2
    with pytest.raises(ValueError):
        run(DATA, only=("bogus",))
    with pytest.raises(FileNotFoundError):
        run(DATA / "missing")


def test_redaction_counts_need_80_percent_of_a_span() -> None:
    gold = [(0, 10, "NAME"), (20, 30, "PHONE"), (40, 45, None)]
    # 8 of 10 name characters redacted (counts), 5 of 10 phone characters (does not); the untargeted
    # span's characters count neither way; 2 characters redacted outside any gold span.
    counts = count_redaction([(gold, [(0, 8), (25, 30), (40, 45), (50, 52)])])
    assert counts.found == {"NAME": [1], "PHONE": [0]} and counts.gold == {"NAME": [1], "PHONE": [1]}
    assert (counts.correct_chars, counts.redacted_chars) == ([13], [15])
    summary = pii_eval.summarise(counts)
    assert summary["any PII (type-blind)"] == 0.5 and summary["character precision"] == pytest.approx(13 / 15)


def test_bootstrap_intervals_contain_the_estimate() -> None:
    low, high = bootstrap_mean([0.0, 1.0] * 50)
    assert low < 0.5 < high
    assert bootstrap_ratio([1, 1], [0, 0]) == (0.0, 0.0)
    gold = ["POSITIVE", "NEGATIVE", "NEUTRAL"] * 20
    low, high = bootstrap_macro_f1(gold, gold, ["POSITIVE", "NEUTRAL", "NEGATIVE"])
    assert low == high == 1.0


def test_conversational_cases_locate_their_values() -> None:
    for split in ("dev", "test"):
        examples = datasets.conversational_pii(CASES, split)
        assert len(examples) >= 50
        for ex in examples:
            for begin, end, entity in ex.spans:
                assert 0 <= begin < end <= len(ex.text) and entity


@pytest.mark.skipif(not DATA.is_dir(), reason="shared/data is not available")
def test_abcd_scenario_values_are_found_in_customer_turns() -> None:
    examples = datasets.abcd_pii(DATA)
    located = {ex.text[b:e].lower() for ex in examples for b, e, _ in ex.spans}
    assert "crystal minh" in located and "(977) 625-2661" in located
    (named,) = [ex for ex in examples if ex.text == "Crystal Minh"]
    assert "name" in named.prompt


@pytest.mark.skipif(pii_eval.generator_python() is None, reason="presidio-evaluator (livelens[eval]) not installed")
def test_fresh_presidio_evaluator_set_is_generated_and_scored() -> None:
    (examples,) = pii_eval.generate_sets(pii_eval.generator_python() or "", [4242], 20).values()
    assert 15 <= len(examples) <= 20
    counts = pii_eval.score_generated(examples, lambda text, _prompt: [(0, len(text))])
    assert pii_eval.summarise(counts)["any PII (type-blind)"] == 1.0
