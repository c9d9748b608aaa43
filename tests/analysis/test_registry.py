from __future__ import annotations

import pytest

from livelens.analysis import DEFAULT_COMPONENTS, load_pipeline, supported_languages
from livelens.analysis.embeddings import load_embedder
from livelens.analysis.nlp import load_spacy
from livelens.analysis.registry import check_order, component, registered, resolve_config, unregister


def test_builtins_are_registered_with_declared_assigns() -> None:
    specs = registered()
    assert {"redaction", "sentiment", "issues", "summary"} <= set(specs)
    assert specs["sentiment"].assigns == ("sentiment",)
    assert specs["redaction"].assigns == ("redaction",)
    assert specs["issues"].assigns == ("issues",)
    assert specs["summary"].per_turn is False
    assert DEFAULT_COMPONENTS == ("redaction", "sentiment", "issues")


def test_user_config_is_merged_over_defaults() -> None:
    cfg = resolve_config({"redaction": {"mask": "ENTITY_TYPE"}})
    assert cfg["redaction"]["mask"] == "ENTITY_TYPE"
    assert "EMAIL" in cfg["redaction"]["entities"]
    assert cfg["summary"]["generator"] == "extractive"


def test_defaults_are_not_mutated_by_user_config() -> None:
    cfg = resolve_config({})
    cfg["redaction"]["entities"].clear()
    assert resolve_config({})["redaction"]["entities"]


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"redaction": {"colour": "red"}}, "redaction.colour"),
        ({"sentimentt": {}}, "sentimentt"),
        ({"redaction": {"mask": "STARS"}}, "redaction.mask"),
        ({"redaction": {"entities": ["EMAIL", "SHOE_SIZE"]}}, "SHOE_SIZE"),
        ({"redaction": {"entities": "EMAIL"}}, "redaction.entities"),
        ({"summary": {"generator": "gpt"}}, "summary.generator"),
        ({"summary": {"generator": "openai"}}, "summary.url"),
        ({"summary": {"generator": "openai", "url": "ftp://x", "model": "m"}}, "summary.url"),
        ({"summary": {"timeout": 0}}, "summary.timeout"),
        ({"sentiment": {"model": "bert"}}, "sentiment.model"),
        ({"issues": {"max_issues": 0}}, "issues.max_issues"),
    ],
)
def test_invalid_config_is_refused_naming_the_key(config: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message.replace(".", r"\.")):
        load_pipeline(config=config)


def test_unknown_repeated_and_contact_level_components_are_refused() -> None:
    with pytest.raises(ValueError, match="'emotion'"):
        load_pipeline(("redaction", "emotion"))
    with pytest.raises(ValueError, match="twice"):
        load_pipeline(("sentiment", "sentiment"))
    with pytest.raises(ValueError, match="per contact"):
        load_pipeline(("sentiment", "summary"))


def test_requires_must_be_assigned_by_an_earlier_component() -> None:
    @component("needs_sentiment", requires=("sentiment",), assigns=("extras",))
    def make(cfg):  # type: ignore[no-untyped-def]
        def step(ctx):  # type: ignore[no-untyped-def]
            ctx.analysis.extras["seen"] = ctx.analysis.sentiment

        return step

    try:
        with pytest.raises(ValueError, match="requires sentiment"):
            check_order(("needs_sentiment", "sentiment"))
        check_order(("sentiment", "needs_sentiment"))
        from livelens.analysis import Turn

        p = load_pipeline(("sentiment", "needs_sentiment"))
        analysis = p.analyze(Turn("1", "c", "CHAT", "p", "CUSTOMER", "This is wonderful, thank you!"))
        assert analysis.extras["seen"] == analysis.sentiment == "POSITIVE"
    finally:
        unregister("needs_sentiment")


def test_models_load_once_per_process() -> None:
    assert load_embedder() is load_embedder()
    assert load_spacy() is load_spacy()
    first = load_pipeline()
    second = load_pipeline(("sentiment",), {"redaction": {"mask": "ENTITY_TYPE"}})
    assert first is not second
    assert second.components == ("sentiment",)


def test_supported_languages_are_english() -> None:
    langs = supported_languages()
    assert "en-US" in langs and "en-GB" in langs
    assert all(lang.startswith("en-") for lang in langs)
